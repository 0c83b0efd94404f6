"""Breaking changes between contract versions, and the version-bump rule."""

import copy
from typing import Any

import pytest

from gnomon.errors import Conflict
from gnomon.quality import (
    ContractSpec,
    ContractVersionError,
    breaking_changes,
    changed_paths,
    check_version_bump,
)

OLD: dict[str, Any] = {
    "dataset": "orders",
    "version": 1,
    "description": "Orders.",
    "primary_key": ["id"],
    "ordering": "at",
    "columns": {
        "id": {"type": "string"},
        "at": {"type": "timestamp"},
        "qty": {"type": "integer", "min": 1, "max": 100},
        "price": {"type": "decimal(10,2)"},
        "status": {"type": "string", "allowed": ["placed", "shipped", "returned"]},
        "email": {"type": "string", "severity": "warn"},
        "note": {"type": "string"},
    },
}


def spec(data: dict[str, Any]) -> ContractSpec:
    return ContractSpec.model_validate(data)


def changed(**edits: Any) -> ContractSpec:
    """OLD with ``columns__qty__max=50``-style edits; ``None`` deletes the key."""
    data = copy.deepcopy(OLD)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return spec(data)


@pytest.mark.parametrize(
    ("new", "sentence"),
    [
        (changed(columns__note=None), "Column 'note' was removed."),
        (
            changed(columns__qty={"type": "string"}),
            "Column 'qty' changed type from integer to string, which is not a widening.",
        ),
        (
            changed(columns__price={"type": "decimal(10,1)"}),
            "Column 'price' changed type from decimal(10,2) to decimal(10,1)",
        ),
        (
            changed(columns__note={"type": "string", "required": True}),
            "Column 'note' became required.",
        ),
        (
            changed(columns__coupon={"type": "string", "required": True}),
            "New column 'coupon' is required",
        ),
        (changed(primary_key=["id", "at"]), "The primary key changed from [id] to [id, at]."),
        (changed(ordering=None), "The ordering column changed from 'at' to None."),
        (
            changed(columns__status={"type": "string", "allowed": ["placed", "shipped"]}),
            "Column 'status' no longer allows: returned.",
        ),
        (
            changed(columns__note={"type": "string", "allowed": ["a"]}),
            "Column 'note' now allows only: a.",
        ),
        (changed(columns__qty__min=2), "Column 'qty' min raised from 1 to 2."),
        (changed(columns__qty__max=99), "Column 'qty' max lowered from 100 to 99."),
        (
            changed(columns__price={"type": "decimal(10,2)", "min": 0}),
            "Column 'price' min raised from None to 0.",
        ),
        (changed(columns__email__regex="@"), "Column 'email' regex added: '@'."),
        (
            changed(columns__note={"type": "string", "unique": True}),
            "Column 'note' must now be unique.",
        ),
        (
            changed(
                columns__note={"type": "string", "references": {"dataset": "n", "column": "id"}}
            ),
            "Column 'note' must now reference n.id.",
        ),
        (
            changed(columns__email__severity="block"),
            "Column 'email' rules now block instead of warn.",
        ),
        (
            changed(columns__note={"type": "string", "source": "Note"}),
            "Column 'note' is now read from file column 'Note' instead of 'note'.",
        ),
        (
            changed(columns__at={"type": "timestamp", "timezone": "Europe/Paris"}),
            "Column 'at' reads times without an offset in Europe/Paris instead of UTC.",
        ),
        (changed(schema_drift="fail"), "schema_drift became stricter: evolve → fail."),
    ],
)
def test_breaking_changes_are_reported(new: ContractSpec, sentence: str) -> None:
    changes = breaking_changes(spec(OLD), new)

    assert any(c.startswith(sentence) for c in changes), changes


def test_regex_changes_are_breaking() -> None:
    old = changed(columns__email__regex="@")
    new = changed(columns__email__regex="@.+")

    assert breaking_changes(old, new) == ["Column 'email' regex changed: '@.+'."]


@pytest.mark.parametrize(
    "new",
    [
        changed(description="Orders, one row per line."),
        changed(version=2),
        changed(columns__coupon={"type": "string"}),
        changed(columns__qty={"type": "float", "min": 1, "max": 100}),
        changed(columns__qty={"type": "decimal(21,2)", "min": 1, "max": 100}),
        changed(columns__price={"type": "decimal(12,3)"}),
        changed(columns__qty__min=None),
        changed(columns__qty__max=1000),
        changed(
            columns__status={"type": "string", "allowed": ["placed", "shipped", "returned", "lost"]}
        ),
        changed(columns__status={"type": "string"}),
        changed(columns__qty__severity="warn"),
        changed(columns__qty__required=False),
        changed(columns__email__description="Where receipts go."),
    ],
)
def test_loosening_and_cosmetic_changes_are_not_breaking(new: ContractSpec) -> None:
    assert breaking_changes(spec(OLD), new) == []


def test_identical_contracts_have_no_changes() -> None:
    assert breaking_changes(spec(OLD), spec(OLD)) == []
    assert changed_paths(spec(OLD), spec(OLD)) == []


def test_changed_paths_name_every_difference_but_the_version() -> None:
    new = changed(version=5, description="New.", columns__qty__max=50, columns__note=None)

    assert changed_paths(spec(OLD), new) == [
        "description",
        "columns.qty.max",
        "columns.note",
    ]


def test_first_contract_needs_no_bump() -> None:
    check_version_bump(None, spec(OLD))


def test_unchanged_contract_keeps_its_version() -> None:
    check_version_bump(spec(OLD), spec(OLD))


def test_changed_contract_with_higher_version_passes() -> None:
    check_version_bump(spec(OLD), changed(version=2, columns__note=None))


def test_changed_contract_without_a_bump_is_refused() -> None:
    new = changed(columns__qty__max=50, description="Changed.")

    with pytest.raises(ContractVersionError) as caught:
        check_version_bump(spec(OLD), new)

    error = caught.value
    assert isinstance(error, Conflict)
    assert "Contract 'orders' changed but its version is still 1" in error.message
    assert "Column 'qty' max lowered from 100 to 50." in error.message
    assert "changed keys: description, columns.qty.max" in error.message
    assert "Bump the version" in error.message
    assert error.hint is not None and "above 1" in error.hint
    assert error.changes == (
        "Column 'qty' max lowered from 100 to 50.",
        "changed description",
        "changed columns.qty.max",
    )


def test_cosmetic_change_still_needs_a_bump() -> None:
    with pytest.raises(ContractVersionError, match="changed keys: owner"):
        check_version_bump(spec(OLD), changed(owner="someone@example.com"))


def test_versions_never_go_down() -> None:
    with pytest.raises(ContractVersionError, match="lower than the registered version 3"):
        check_version_bump(changed(version=3), changed(version=2))
