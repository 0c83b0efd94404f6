"""The hash chain of the audit log: how an entry's hash is computed from its fields.

Each entry's hash covers the previous entry's hash and the entry's own fields, so changing any
stored field, or removing an entry, breaks every link after it, and :meth:`verify
<gnomon.catalog.repositories.audit.AuditRepository.verify>` finds the first broken one. The
chain detects changes; it cannot prevent them, and removing entries from the *end* of the log
leaves a shorter chain that is still whole (keep the last hash elsewhere to detect that).

The hashed text is canonical JSON (sorted keys, no spaces, ASCII only), so the same fields hash
the same on every backend and in every Python version; the timestamp is ISO 8601 in UTC with
microseconds, the precision both catalog backends store.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gnomon.errors import InternalError, InvalidInput

__all__ = ["GENESIS_HASH", "HASHED_AUDIT_FIELDS", "audit_hash", "canonical_json"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a tenant's first audit entry."""

HASHED_AUDIT_FIELDS = (
    "tenant",
    "seq",
    "at",
    "principal",
    "action",
    "target",
    "correlation_id",
    "details",
)
"""The fields of an entry its hash covers, besides the previous hash."""


def canonical_json(value: Any) -> str:
    r"""One text for one JSON value: sorted keys, no spaces, ASCII, no NaN or infinity.

    >>> canonical_json({"b": [1, 2.5], "a": "é"})
    '{"a":"\\u00e9","b":[1,2.5]}'

    Raises:
        InvalidInput: the value is not made of JSON values (dicts with string keys, lists,
            strings, numbers, booleans, ``None``), or holds NaN or an infinity.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Not a JSON value: {exc}.",
            hint="Pass only dicts with string keys, lists, strings, finite numbers, booleans and"
            " None; convert timestamps to ISO strings first.",
        ) from exc


def audit_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The SHA-256 hex digest that chains an audit entry to the one before it.

    Args:
        prev_hash: the previous entry's hash, or :data:`GENESIS_HASH` for the first entry.
        fields: exactly the :data:`HASHED_AUDIT_FIELDS`; ``at`` is an aware datetime and
            ``details`` a JSON object.

    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> fields = {"tenant": "acme", "seq": 1, "at": at, "principal": "u", "action": "a",
    ...           "target": None, "correlation_id": None, "details": {}}
    >>> digest = audit_hash(GENESIS_HASH, fields)
    >>> len(digest), digest == audit_hash(GENESIS_HASH, dict(fields))
    (64, True)
    >>> digest == audit_hash(GENESIS_HASH, fields | {"details": {"rows": 1}})
    False

    Raises:
        InternalError: a field is missing or unknown, or ``at`` is not an aware datetime.
        InvalidInput: ``details`` is not made of JSON values.
    """
    names, wanted = set(fields), set(HASHED_AUDIT_FIELDS)
    if names != wanted:
        raise InternalError(
            "Cannot hash an audit entry: the fields must be exactly"
            f" {', '.join(HASHED_AUDIT_FIELDS)}; missing {sorted(wanted - names)},"
            f" unknown {sorted(names - wanted)}.",
            hint="Pass the entry's fields by these names.",
        )
    at = fields["at"]
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InternalError(
            f"Cannot hash an audit entry: at must be an aware datetime, got {at!r}.",
            hint="Pass the entry's timestamp as stored (timezone-aware UTC).",
        )
    payload = dict(fields) | {"at": at.astimezone(UTC).isoformat(timespec="microseconds")}
    text = prev_hash + canonical_json(payload)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
