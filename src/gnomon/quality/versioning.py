"""How contracts change over time: breaking changes and the version-bump rule.

Why a rule rather than a convention: silver rows are checked against a contract version and the
catalog keeps each version, so two different contracts under one version number would make it
impossible to say which rules a row passed. Any change to a contract's content therefore needs a
higher ``version``.

A change is *breaking* when data or readers that worked before may now fail: rows that passed
could be quarantined, or a query over silver could stop working. Breaking changes are allowed
with a version bump; they are reported so that senders and readers can be told.
"""

from gnomon.quality.contract import ColumnSpec, ContractSpec
from gnomon.quality.errors import ContractVersionError
from gnomon.quality.types import Scalar, is_widening

__all__ = ["breaking_changes", "changed_paths", "check_version_bump"]

_STRICTNESS = {"evolve": 0, "quarantine": 1, "fail": 2}


def breaking_changes(old: ContractSpec, new: ContractSpec) -> list[str]:
    """The changes from ``old`` to ``new`` that may reject data or break readers, as sentences.

    Covered: a removed column; a type change that is not a widening; a new required column or a
    column becoming required; a primary key or ordering change; allowed values narrowed; ``min``
    raised or ``max`` lowered; a regex, ``unique`` or reference added or changed; a stricter
    ``format``, ``source``, ``timezone``, severity or drift policy.
    """
    changes: list[str] = []
    for name, column in old.columns.items():
        if name not in new.columns:
            changes.append(f"Column {name!r} was removed.")
            continue
        changes += _column_changes(name, column, new.columns[name])
        if not _required(old, name) and _required(new, name):
            changes.append(f"Column {name!r} became required.")
    for name in new.columns:
        if name not in old.columns and _required(new, name):
            changes.append(f"New column {name!r} is required, so data without it is rejected.")
    if old.primary_key != new.primary_key:
        changes.append(
            f"The primary key changed from {_listed(old.primary_key)} to "
            f"{_listed(new.primary_key)}."
        )
    if old.ordering != new.ordering:
        changes.append(f"The ordering column changed from {old.ordering!r} to {new.ordering!r}.")
    if _STRICTNESS[new.schema_drift] > _STRICTNESS[old.schema_drift]:
        changes.append(f"schema_drift became stricter: {old.schema_drift} → {new.schema_drift}.")
    return changes


def _required(spec: ContractSpec, name: str) -> bool:
    return spec.columns[name].required or name in spec.primary_key


def _listed(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]" if names else "none"


def _column_changes(name: str, old: ColumnSpec, new: ColumnSpec) -> list[str]:
    changes: list[str] = []
    if not is_widening(old.column_type, new.column_type):
        changes.append(
            f"Column {name!r} changed type from {old.type} to {new.type}, which is not a widening."
        )
    changes += _allowed_change(name, old, new)
    changes += _bound_changes(name, old, new)
    if new.regex is not None and new.regex != old.regex:
        verb = "added" if old.regex is None else "changed"
        changes.append(f"Column {name!r} regex {verb}: {new.regex!r}.")
    if new.unique and not old.unique:
        changes.append(f"Column {name!r} must now be unique.")
    if new.references is not None and new.references != old.references:
        target = f"{new.references.dataset}.{new.references.column}"
        changes.append(f"Column {name!r} must now reference {target}.")
    if new.format != old.format:
        changes.append(f"Column {name!r} format changed from {old.format!r} to {new.format!r}.")
    if (new.source or name) != (old.source or name):
        changes.append(
            f"Column {name!r} is now read from file column {new.source or name!r} "
            f"instead of {old.source or name!r}."
        )
    if new.zone != old.zone and new.column_type.name == "timestamp":
        changes.append(
            f"Column {name!r} reads times without an offset in {new.zone.key} instead of "
            f"{old.zone.key}."
        )
    if old.severity == "warn" and new.severity == "block":
        changes.append(f"Column {name!r} rules now block instead of warn.")
    return changes


def _allowed_change(name: str, old: ColumnSpec, new: ColumnSpec) -> list[str]:
    new_values = new.allowed_values()
    if new_values is None:
        return []
    old_values = old.allowed_values()
    if old_values is None:
        return [f"Column {name!r} now allows only: {', '.join(map(str, new_values))}."]
    removed = sorted({str(v) for v in old_values} - {str(v) for v in new_values})
    if removed:
        return [f"Column {name!r} no longer allows: {', '.join(removed)}."]
    return []


def _bound_changes(name: str, old: ColumnSpec, new: ColumnSpec) -> list[str]:
    (old_min, old_max), (new_min, new_max) = old.bounds(), new.bounds()
    changes: list[str] = []
    if new_min is not None and (old_min is None or _above(new_min, old_min)):
        changes.append(f"Column {name!r} min raised from {old_min} to {new_min}.")
    if new_max is not None and (old_max is None or _above(old_max, new_max)):
        changes.append(f"Column {name!r} max lowered from {old_max} to {new_max}.")
    return changes


def _above(a: Scalar, b: Scalar) -> bool:
    """``a > b``; bounds that no longer compare (after a type change) count as tightened."""
    try:
        return bool(a > b)  # type: ignore[operator]
    except TypeError:
        return a != b


def changed_paths(old: ContractSpec, new: ContractSpec) -> list[str]:
    """The key paths whose normalised values differ, ``version`` aside (``columns.x.max``)."""
    return _diff(old.content(), new.content(), "")


def _diff(old: object, new: object, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in [*old, *(k for k in new if k not in old)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                paths.append(child)
            else:
                paths += _diff(old[key], new[key], child)
        return paths
    return [] if old == new else [path]


def check_version_bump(old: ContractSpec | None, new: ContractSpec) -> None:
    """Refuse a contract whose content changed without a higher ``version``.

    ``old`` is the contract currently registered (``None`` for the first one). Versions never
    go down, even when the content is the same, since the catalog keys contracts by version.

    Raises:
        ContractVersionError: the content changed and ``new.version`` is not above
            ``old.version``, or the version went down; the message lists the changes.
    """
    if old is None:
        return
    if new.version < old.version:
        raise ContractVersionError(
            f"Contract {new.dataset!r} has version {new.version}, lower than the registered "
            f"version {old.version}: versions only go up.",
            dataset=new.dataset,
            version=old.version,
            changes=[],
        )
    if new.version > old.version or old.content() == new.content():
        return
    breaking = breaking_changes(old, new)
    paths = changed_paths(old, new)
    parts = [*breaking]
    if paths:
        parts.append(f"changed keys: {', '.join(paths)}")
    raise ContractVersionError(
        f"Contract {new.dataset!r} changed but its version is still {new.version}: "
        f"{' '.join(p if p.endswith('.') else p + '.' for p in parts)} Bump the version.",
        dataset=new.dataset,
        version=old.version,
        changes=[*breaking, *(f"changed {p}" for p in paths)],
    )
