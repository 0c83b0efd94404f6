"""Schema drift: how a file's columns differ from the contract and from the previous load.

Drift is reported whatever the contract's ``schema_drift`` policy; the policy only decides what a
load does about it (see :func:`gnomon.quality.compile_contract`):

* ``evolve``: load anyway. New columns are carried into silver as they were read, and missing
  contract columns are NULL (so a ``required`` one fails row by row).
* ``quarantine``: every row of the batch goes to quarantine with the rule ``schema_drift``.
* ``fail``: the load stops with :class:`~gnomon.quality.SchemaDriftError` before writing silver.

Columns whose names start with ``_`` are metadata the lake adds; they are never drift.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from gnomon.quality.contract import ContractSpec
from gnomon.quality.errors import ColumnTypeError
from gnomon.quality.types import parse_type

__all__ = ["DriftReport", "detect_drift", "is_metadata"]

T = TypeVar("T")


def is_metadata(column: str) -> bool:
    """Whether a file or table column is lake metadata (``_tenant_id``, ``_row`` …)."""
    return column.startswith("_")


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The differences found; all empty means the file matches.

    Attributes:
        new: file columns the contract does not read (by ``source`` name), in file order.
        missing: contract columns (contract names) the file does not have.
        retyped: ``(file column, type before, type after)`` for columns whose inferred type
            changed since the previous load.
    """

    new: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """Whether no drift was found."""
        return not (self.new or self.missing or self.retyped)

    def merge(self, other: "DriftReport") -> "DriftReport":
        """Both reports' findings, each listed once, ``self``'s first."""
        return DriftReport(
            new=_union(self.new, other.new),
            missing=_union(self.missing, other.missing),
            retyped=_union(self.retyped, other.retyped),
        )

    def to_dict(self) -> dict[str, list[str] | list[dict[str, str]]]:
        """The report as plain data, for run records, the API and events."""
        return {
            "new": list(self.new),
            "missing": list(self.missing),
            "retyped": [{"column": c, "before": b, "after": a} for c, b, a in self.retyped],
        }

    def describe(self) -> str:
        """One line for people: what drifted, or ``no schema drift``.

        >>> DriftReport(new=("coupon",), retyped=(("qty", "integer", "string"),)).describe()
        'new columns: coupon; retyped columns: qty (integer → string)'
        """
        parts = []
        if self.new:
            parts.append(f"new columns: {', '.join(self.new)}")
        if self.missing:
            parts.append(f"missing columns: {', '.join(self.missing)}")
        if self.retyped:
            listed = ", ".join(f"{c} ({b} → {a})" for c, b, a in self.retyped)
            parts.append(f"retyped columns: {listed}")
        return "; ".join(parts) or "no schema drift"


def _union(first: tuple[T, ...], second: tuple[T, ...]) -> tuple[T, ...]:
    return (*first, *(item for item in second if item not in first))


def detect_drift(
    contract: ContractSpec,
    *,
    observed: Mapping[str, str],
    previous: Mapping[str, str] | None,
) -> DriftReport:
    """Compare the columns inferred from a file with the contract and with the previous load.

    ``observed`` and ``previous`` map file column names to the contract type names the reader
    inferred (``integer``, ``string`` …); ``previous`` is ``None`` on a dataset's first load.
    """
    read = {contract.raw_name(name) for name in contract.columns}
    new = tuple(c for c in observed if c not in read and not is_metadata(c))
    missing = tuple(n for n in contract.columns if contract.raw_name(n) not in observed)
    retyped: list[tuple[str, str, str]] = []
    for column, after in observed.items():
        if previous is None or column not in previous or is_metadata(column):
            continue
        before = previous[column]
        if _normal(before) != _normal(after):
            retyped.append((column, _normal(before), _normal(after)))
    return DriftReport(new=new, missing=missing, retyped=tuple(retyped))


def _normal(type_name: str) -> str:
    try:
        return str(parse_type(type_name))
    except ColumnTypeError:
        return type_name.strip().lower()
