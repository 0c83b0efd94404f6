"""The audit hash: a pure function whose output must never change for stored entries."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gnomon.catalog import GENESIS_HASH, HASHED_AUDIT_FIELDS, audit_hash, canonical_json
from gnomon.errors import InternalError, InvalidInput

AT = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
FIELDS: dict[str, Any] = {
    "tenant": "acme",
    "seq": 1,
    "at": AT,
    "principal": "user:emea@acme",
    "action": "metrics.query",
    "target": "revenue",
    "correlation_id": None,
    "details": {"rows": 12, "by": ["region"]},
}


def test_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    # Spelled out by hand: entries already stored were hashed this way, so it must not drift.
    text = (
        GENESIS_HASH + '{"action":"metrics.query","at":"2025-03-01T12:00:00.123456+00:00",'
        '"correlation_id":null,"details":{"by":["region"],"rows":12},'
        '"principal":"user:emea@acme","seq":1,"target":"revenue","tenant":"acme"}'
    )
    assert audit_hash(GENESIS_HASH, FIELDS) == hashlib.sha256(text.encode()).hexdigest()


def test_genesis_hash_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant", "globex"),
        ("seq", 2),
        ("at", AT + timedelta(microseconds=1)),
        ("principal", "user:admin"),
        ("action", "sql.query"),
        ("target", None),
        ("correlation_id", "req-1"),
        ("details", {"rows": 13, "by": ["region"]}),
    ],
)
def test_every_field_changes_the_hash(field: str, value: Any) -> None:
    assert audit_hash(GENESIS_HASH, FIELDS | {field: value}) != audit_hash(GENESIS_HASH, FIELDS)


def test_the_previous_hash_changes_the_hash() -> None:
    assert audit_hash("1" * 64, FIELDS) != audit_hash(GENESIS_HASH, FIELDS)


def test_same_instant_in_another_zone_and_key_order_hash_alike() -> None:
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    reordered = dict(reversed(list(FIELDS.items()))) | {
        "at": plus_two,
        "details": {"by": ["region"], "rows": 12},
    }
    assert audit_hash(GENESIS_HASH, reordered) == audit_hash(GENESIS_HASH, FIELDS)


def test_fields_must_be_exactly_the_hashed_ones() -> None:
    missing = {k: v for k, v in FIELDS.items() if k != "target"}
    with pytest.raises(InternalError, match=r"missing \['target'\], unknown \[\]"):
        audit_hash(GENESIS_HASH, missing)
    with pytest.raises(InternalError, match=r"missing \[\], unknown \['extra'\]"):
        audit_hash(GENESIS_HASH, FIELDS | {"extra": 1})
    assert set(FIELDS) == set(HASHED_AUDIT_FIELDS)


@pytest.mark.parametrize("at", [AT.replace(tzinfo=None), AT.isoformat(), None])
def test_at_must_be_an_aware_datetime(at: Any) -> None:
    with pytest.raises(InternalError, match="at must be an aware datetime"):
        audit_hash(GENESIS_HASH, FIELDS | {"at": at})


@pytest.mark.parametrize(
    "details",
    [{"x": float("nan")}, {"x": float("inf")}, {"x": {1, 2}}, {"x": AT}, {1: "a", "b": 2}],
)
def test_details_must_be_json(details: Any) -> None:
    with pytest.raises(InvalidInput, match="Not a JSON value") as caught:
        audit_hash(GENESIS_HASH, FIELDS | {"details": details})
    assert caught.value.hint is not None


def test_canonical_json_is_compact_sorted_and_ascii() -> None:
    assert canonical_json({"b": 1, "a": ["é", None, True, 1.5]}) == (
        '{"a":["\\u00e9",null,true,1.5],"b":1}'
    )
