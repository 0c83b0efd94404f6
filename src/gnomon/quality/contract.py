"""Data contracts: what a dataset's rows must look like, read from YAML.

A contract is the agreement between whoever sends a dataset and whoever reads it: the columns and
their types, the rules each row must meet, and the checks the dataset as a whole must pass before
it is published. It is versioned, because readers rely on it: any change to its content needs a
higher ``version`` (see :mod:`gnomon.quality.versioning`).

Validation collects every problem it can find and reports each with its key path
(``columns.quantity.min``), so a contract is fixed in one pass rather than one error at a time.
See docs/contracts.md for the full reference.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Final, Literal, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from gnomon.quality.errors import ColumnTypeError, ContractError, ContractIssue
from gnomon.quality.types import TYPE_NAMES, ColumnType, Scalar, coerce_value, parse_type
from gnomon.specfiles import IssueList, issues_from, parse_duration, read_yaml, with_lines

__all__ = [
    "ChecksSpec",
    "ColumnSpec",
    "ContractSpec",
    "DriftPolicy",
    "FreshnessSpec",
    "ReferenceSpec",
    "RowCountSpec",
    "Severity",
    "load_contract",
    "parse_contract",
    "parse_duration",
]

Severity = Literal["block", "warn"]
"""``block`` keeps failing rows out of silver (or stops the publish); ``warn`` only reports."""

DriftPolicy = Literal["evolve", "quarantine", "fail"]
"""What a load does when the file's columns differ from the contract."""

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_STRPTIME_DIRECTIVES: Final = frozenset("aAbBdHIjmMpSyYfzZ%")
_UNORDERED_TYPES: Final = frozenset({"json", "boolean"})
_DRIFT_POLICIES: Final = get_args(DriftPolicy)


def _scalar(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("must be a single value (text, number, date or timestamp)")


def _bound(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a number, a date or a timestamp, not a boolean")
    return _scalar(value)


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


# Dates and timestamps are kept as ISO text, so a contract read from YAML (where PyYAML makes
# ``2025-01-01`` a date) equals the same contract read back from its JSON dump.
Bound = Annotated[int | float | str, PlainValidator(_bound)]
AllowedValue = Annotated[str | int | float | bool, PlainValidator(_scalar)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceSpec(_Spec):
    """A foreign key: every value must exist in ``silver.<dataset>.<column>``."""

    dataset: str
    column: str


class ColumnSpec(_Spec):
    """One column of a contract and the rules each of its values must meet.

    ``severity`` applies to every rule of the column except ``type`` and ``required``, which
    always block: a value that is missing or unreadable cannot be stored in a typed column.
    """

    type: str
    required: bool = False
    description: str | None = None
    source: str | None = None
    format: str | None = None
    timezone: str | None = None
    min: Bound | None = None
    max: Bound | None = None
    allowed: list[AllowedValue] | None = None
    regex: str | None = None
    unique: bool = False
    references: ReferenceSpec | None = None
    severity: Severity = "block"

    @field_validator("type", mode="before")
    @classmethod
    def _normalise_type(cls, value: object) -> str:
        try:
            return str(parse_type(str(value)))
        except ColumnTypeError as exc:
            issue = ContractIssue("", exc.message.rstrip("."), tuple(TYPE_NAMES))
            raise IssueList([issue]) from None

    @model_validator(mode="after")
    def _check(self) -> "ColumnSpec":
        issues = _column_issues(self)
        if issues:
            raise IssueList(issues)
        return self

    @property
    def column_type(self) -> ColumnType:
        """The parsed ``type``."""
        return parse_type(self.type)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of wall-clock times without an offset (``timezone``, default UTC)."""
        return ZoneInfo(self.timezone or "UTC")

    def bounds(self) -> tuple[Scalar | None, Scalar | None]:
        """``(min, max)`` as values of the column's type (timestamps in UTC)."""
        column_type, zone = self.column_type, self.zone
        low = None if self.min is None else coerce_value(column_type, self.min, timezone=zone)
        high = None if self.max is None else coerce_value(column_type, self.max, timezone=zone)
        return low, high

    def allowed_values(self) -> tuple[Scalar, ...] | None:
        """``allowed`` as values of the column's type, in the order written."""
        if self.allowed is None:
            return None
        column_type = self.column_type
        return tuple(coerce_value(column_type, v, timezone=self.zone) for v in self.allowed)


class RowCountSpec(_Spec):
    """How many valid rows a batch must have."""

    min: int | None = Field(default=None, ge=0, strict=True)
    max: int | None = Field(default=None, ge=0, strict=True)
    severity: Severity = "block"

    @model_validator(mode="after")
    def _check(self) -> "RowCountSpec":
        if self.min is None and self.max is None:
            raise IssueList([ContractIssue("", "needs min, max or both")])
        if self.min is not None and self.max is not None and self.min > self.max:
            raise IssueList([ContractIssue("min", f"{self.min} is above max {self.max}")])
        return self


class FreshnessSpec(_Spec):
    """How old the newest value of a date or timestamp column may be."""

    column: str
    max_age: str
    severity: Severity = "block"

    @field_validator("max_age", mode="before")
    @classmethod
    def _check_max_age(cls, value: object) -> str:
        text = str(value)
        parse_duration(text)
        return "".join(text.split())

    @property
    def max_age_delta(self) -> timedelta:
        """``max_age`` as a duration."""
        return parse_duration(self.max_age)


class ChecksSpec(_Spec):
    """Dataset-level checks, run on the batch's valid rows before it is published."""

    row_count: RowCountSpec | None = None
    freshness: FreshnessSpec | None = None


class ContractSpec(_Spec):
    """A parsed, validated data contract; build it with :func:`load_contract`.

    ``columns`` keeps the order written, which is the order of silver's columns.
    """

    dataset: str
    version: int = Field(gt=0, strict=True)
    description: str | None = None
    owner: str | None = None
    primary_key: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(default_factory=list)
    ordering: str | None = None
    schema_drift: DriftPolicy = "evolve"
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    checks: ChecksSpec = Field(default_factory=ChecksSpec)

    @model_validator(mode="after")
    def _check(self) -> "ContractSpec":
        issues = _contract_issues(self)
        if issues:
            raise IssueList(issues)
        return self

    def raw_name(self, column: str) -> str:
        """The name of ``column`` in the files (its ``source``, or the column name)."""
        return self.columns[column].source or column

    def fingerprint(self) -> str:
        """A SHA-256 of the normalised content (version included).

        Formatting, key order, column order, the order of ``allowed`` values, defaults written
        out or left implicit, and ``1`` versus ``1.0`` do not change it.
        """
        text = json.dumps(_canonical(self.model_dump(mode="json")), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def content(self) -> dict[str, object]:
        """The normalised content without ``version``: what a version number stands for."""
        data = self.model_dump(mode="json")
        del data["version"]
        return cast(dict[str, object], _canonical(data))


def _canonical(value: object, key: str | None = None) -> object:
    if isinstance(value, dict):
        items = {k: _canonical(v, k) for k, v in value.items()}
        if key == "columns":
            for name, column in items.items():
                if isinstance(column, dict) and column.get("source") == name:
                    column["source"] = None
        return items
    if isinstance(value, list):
        items_list = [_canonical(v) for v in value]
        if key == "allowed":
            items_list.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items_list
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _column_issues(column: ColumnSpec) -> list[ContractIssue]:
    column_type = column.column_type
    issues: list[ContractIssue] = []
    if column.format is not None:
        issues += _format_issues(column.format, column_type)
    if column.timezone is not None:
        if column_type.name != "timestamp":
            issues.append(ContractIssue("timezone", "applies only to timestamp columns"))
        else:
            issues += _timezone_issues(column.timezone)
    issues += _bound_issues(column, column_type)
    if column.allowed is not None:
        issues += _allowed_issues(column.allowed, column_type, column.zone)
    if column.regex is not None:
        issues += _regex_issues(column.regex, column_type)
    if column.source is not None and (not column.source.strip() or column.source.startswith("_")):
        issues.append(ContractIssue("source", "must be a file column name not starting with '_'"))
    if column.references is not None:
        for key in ("dataset", "column"):
            name = getattr(column.references, key)
            if not _IDENTIFIER.match(name):
                issues.append(_identifier_issue(f"references.{key}", name))
    return issues


def _format_issues(text: str, column_type: ColumnType) -> list[ContractIssue]:
    if not column_type.is_temporal:
        return [ContractIssue("format", "applies only to date and timestamp columns")]
    directives = re.findall(r"%(.)", text)
    unknown = sorted({d for d in directives if d not in _STRPTIME_DIRECTIVES})
    if not directives or unknown or (text.endswith("%") and not text.endswith("%%")):
        listed = ", ".join(f"%{d}" for d in sorted(_STRPTIME_DIRECTIVES))
        detail = f"unknown directive %{unknown[0]}" if unknown else "no % directive"
        return [ContractIssue("format", f"{text!r} is not a strptime format: {detail}", (listed,))]
    return []


def _timezone_issues(name: str) -> list[ContractIssue]:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            ContractIssue(
                "timezone", f"{name!r} is not an IANA time zone", ("UTC", "Europe/Paris", "…")
            )
        ]
    return []


def _bound_issues(column: ColumnSpec, column_type: ColumnType) -> list[ContractIssue]:
    if column.min is None and column.max is None:
        return []
    if not (column_type.is_numeric or column_type.is_temporal):
        key = "min" if column.min is not None else "max"
        return [
            ContractIssue(key, f"does not apply to {column_type} columns"),
        ]
    values: dict[str, Scalar] = {}
    issues: list[ContractIssue] = []
    for key, bound in (("min", column.min), ("max", column.max)):
        if bound is None:
            continue
        try:
            values[key] = coerce_value(column_type, bound, timezone=column.zone)
        except ValueError as exc:
            issues.append(ContractIssue(key, f"{exc} (the column is {column_type})"))
    low, high = values.get("min"), values.get("max")
    if low is not None and high is not None and low > high:  # type: ignore[operator]
        issues.append(ContractIssue("min", f"{column.min} is above max {column.max}"))
    return issues


def _allowed_issues(
    allowed: Sequence[object], column_type: ColumnType, zone: ZoneInfo
) -> list[ContractIssue]:
    if not allowed:
        return [ContractIssue("allowed", "must list at least one value")]
    if column_type.name == "json":
        return [ContractIssue("allowed", "does not apply to json columns")]
    issues = []
    for index, value in enumerate(allowed):
        try:
            coerce_value(column_type, value, timezone=zone)
        except ValueError as exc:
            issues.append(ContractIssue(f"allowed.{index}", f"{exc} (the column is {column_type})"))
    return issues


def _regex_issues(pattern: str, column_type: ColumnType) -> list[ContractIssue]:
    if column_type.name != "string":
        return [ContractIssue("regex", f"applies only to string columns, not {column_type}")]
    try:
        re.compile(pattern)
    except re.error as exc:
        return [ContractIssue("regex", f"{pattern!r} does not compile: {exc}")]
    return []


def _identifier_issue(path: str, name: str) -> ContractIssue:
    return ContractIssue(
        path,
        f"{name!r} is not a valid name: use lower-case letters, digits and underscores, "
        "starting with a letter",
    )


def _contract_issues(spec: ContractSpec) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    if not _IDENTIFIER.match(spec.dataset):
        issues.append(_identifier_issue("dataset", spec.dataset))
    issues += [
        _identifier_issue(f"columns.{name}", name)
        for name in spec.columns
        if not _IDENTIFIER.match(name)
    ]
    return issues + _key_issues(spec) + _freshness_issues(spec) + _source_issues(spec)


def _key_issues(spec: ContractSpec) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    declared = tuple(spec.columns)
    for index, name in enumerate(spec.primary_key):
        if name not in spec.columns:
            issues.append(_undeclared(f"primary_key.{index}", name, declared))
        elif name in spec.primary_key[:index]:
            issues.append(ContractIssue(f"primary_key.{index}", f"{name!r} is listed twice"))
    if spec.ordering is None:
        return issues
    if spec.ordering not in spec.columns:
        issues.append(_undeclared("ordering", spec.ordering, declared))
    elif spec.columns[spec.ordering].column_type.name in _UNORDERED_TYPES:
        orderable = tuple(
            n for n, c in spec.columns.items() if c.column_type.name not in _UNORDERED_TYPES
        )
        issues.append(
            ContractIssue("ordering", f"{spec.ordering!r} is not an orderable column", orderable)
        )
    return issues


def _freshness_issues(spec: ContractSpec) -> list[ContractIssue]:
    freshness = spec.checks.freshness
    if freshness is None:
        return []
    temporal = tuple(n for n, c in spec.columns.items() if c.column_type.is_temporal)
    if freshness.column not in spec.columns:
        return [_undeclared("checks.freshness.column", freshness.column, temporal)]
    if freshness.column not in temporal:
        message = f"{freshness.column!r} is not a date or timestamp column"
        return [ContractIssue("checks.freshness.column", message, temporal)]
    return []


def _source_issues(spec: ContractSpec) -> list[ContractIssue]:
    """Two columns reading one file column: the ``source`` that took a taken name is at fault."""
    readers: dict[str, list[str]] = {}
    for name in spec.columns:
        readers.setdefault(spec.raw_name(name), []).append(name)
    issues: list[ContractIssue] = []
    for raw, names in readers.items():
        if len(names) < 2:
            continue
        owner = next((n for n in names if spec.columns[n].source is None), names[0])
        issues += [
            ContractIssue(
                f"columns.{name}.source", f"file column {raw!r} is already read by {owner!r}"
            )
            for name in names
            if name != owner
        ]
    return issues


def _undeclared(path: str, name: str, valid: tuple[str, ...]) -> ContractIssue:
    return ContractIssue(path, f"{name!r} is not a declared column", valid)


def parse_contract(
    data: object, *, file: str = "<contract>", text: str | None = None
) -> ContractSpec:
    """Validate already-parsed YAML (a mapping) as a contract.

    ``text`` is the YAML source, used to add line numbers to the issues.

    Raises:
        ContractError: the data is not a valid contract; every problem found is listed.
    """
    if data is None:
        raise ContractError(
            file, [ContractIssue("", "the file is empty: write dataset, version and columns")]
        )
    if not isinstance(data, Mapping):
        raise ContractError(
            file,
            [ContractIssue("", "the document must be a mapping with dataset, version and columns")],
        )
    try:
        return ContractSpec.model_validate(data)
    except ValidationError as exc:
        issues = issues_from(exc.errors(), ContractSpec)
    raise ContractError(file, with_lines(issues, text))


def load_contract(path: Path) -> ContractSpec:
    """Read and validate the contract at ``path``.

    Raises:
        ContractError: the file cannot be read, is not YAML, or is not a valid contract; the
            error names the file and the key path (``columns.quantity.min``) of each problem.
    """
    read = read_yaml(path)
    if not isinstance(read, tuple):
        raise ContractError(str(path), [read])
    data, text = read
    return parse_contract(data, file=str(path), text=text)
