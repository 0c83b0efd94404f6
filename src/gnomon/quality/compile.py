"""Contracts compiled to SQL: the checks run in the query engine, as sqlglot trees.

Why SQL and not Python: checks must scale with the engine that holds the data (DuckDB on a laptop,
Spark on a cluster), and a row that fails must be set aside without sinking the batch. So every
row rule becomes a boolean expression over the raw row, and the plan offers four queries over any
source relation the caller provides:

* :meth:`CheckPlan.checked`: every row, typed, with the rules it failed (``_failed``), the warn
  rules it tripped (``_warned``) and why (``_reason``);
* :meth:`CheckPlan.valid`: the rows with no blocking failure, one per primary key;
* :meth:`CheckPlan.quarantined`: the rows with a blocking failure, exactly as read;
* :meth:`CheckPlan.warnings`: how many rows tripped each warn rule.

Trees use portable constructs only (TRY_CAST, CASE, CONCAT_WS, REGEXP_LIKE, ROW_NUMBER, LEFT JOIN)
and render for DuckDB, Spark and PostgreSQL. Tables a plan reads besides the source (referenced
silver tables) appear as ``silver.<dataset>``; the caller's query path scopes them to the tenant.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Final, Literal

import pyarrow as pa
from sqlglot import exp

from gnomon.quality import _sql
from gnomon.quality._casts import TypedColumn, typed_column
from gnomon.quality.checks import DatasetCheck, FreshnessCheck, RowCountCheck, UniqueCheck
from gnomon.quality.contract import ColumnSpec, ContractSpec, ReferenceSpec, Severity
from gnomon.quality.drift import DriftReport, detect_drift, is_metadata
from gnomon.quality.errors import SchemaDriftError

__all__ = [
    "FAILED_COLUMN",
    "REASON_COLUMN",
    "RESERVED_COLUMNS",
    "RULES_COLUMN",
    "RULE_COLUMN",
    "WARNED_COLUMN",
    "CheckPlan",
    "RowRule",
    "RuleKind",
    "compile_contract",
]

RuleKind = Literal[
    "type", "required", "min", "max", "allowed", "regex", "references", "schema_drift"
]

FAILED_COLUMN: Final = "_failed"
WARNED_COLUMN: Final = "_warned"
REASON_COLUMN: Final = "_reason"
RULE_COLUMN: Final = "_rule"
RULES_COLUMN: Final = "_rules"
RESERVED_COLUMNS: Final = frozenset(
    {FAILED_COLUMN, WARNED_COLUMN, REASON_COLUMN, RULE_COLUMN, RULES_COLUMN}
)
"""Output columns of the plan; raw columns with these names are not passed through."""
_TENANT_COLUMN: Final = "_tenant_id"
_ROW_COLUMN: Final = "_row"  # the record number within its file: breaks ties between equal keys

_SOURCE: Final = "__source"
_CHECKED: Final = "__checked"
_RANKED: Final = "__ranked"
_RANK: Final = "__rank"
_REF_KEY: Final = "__key"
_SHOWN_ALLOWED: Final = 10
_BIGINT: Final = exp.DataType.build("BIGINT")


@dataclass(frozen=True, slots=True)
class RowRule:
    """One rule each row is checked against.

    Attributes:
        name: ``<column>.<kind>`` (``quantity.min``), or ``schema_drift``.
        column: the contract column, ``None`` for ``schema_drift``.
        kind: what the rule checks.
        severity: ``block`` sends failing rows to quarantine; ``warn`` only counts them.
    """

    name: str
    column: str | None
    kind: RuleKind
    severity: Severity

    @property
    def blocking(self) -> bool:
        """Whether a failing row is kept out of silver."""
        return self.severity == "block"


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: RowRule
    violation: exp.Expr
    reason: exp.Expr


@dataclass(frozen=True, slots=True)
class _Layout:
    """The compiled trees a plan assembles its queries from (copied on every use)."""

    typed: tuple[tuple[str, exp.Expr], ...] = ()
    carried: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()
    rules: tuple[_CompiledRule, ...] = ()
    joins: tuple[exp.Join, ...] = ()
    references: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """A contract compiled against one raw schema; build it with :func:`compile_contract`.

    Every query method takes ``source``: any table or subquery expression holding the raw
    columns the plan was compiled for, including the metadata columns (``_tenant_id``, ``_row``
    …) the caller wants carried through. The trees are fresh on each call.

    Attributes:
        contract: the contract compiled.
        row_rules: every row rule, in evaluation order.
        dataset_checks: the dataset-level checks (``row_count``, ``freshness``, ``<col>.unique``).
        drift: the schema drift the plan was compiled with.
    """

    contract: ContractSpec
    row_rules: tuple[RowRule, ...]
    dataset_checks: tuple[DatasetCheck, ...]
    drift: DriftReport = field(default_factory=DriftReport)
    _layout: _Layout = field(default_factory=_Layout, repr=False, compare=False)

    def checked(self, source: exp.Expr) -> exp.Select:
        """Every source row: typed contract columns, carried and metadata columns, verdicts.

        ``_failed`` lists the blocking rules the row failed, comma-separated (``''`` when none);
        ``_warned`` the warn rules; ``_reason`` explains each, with the offending value.
        """
        rules = self._layout.rules
        blocking = [r for r in rules if r.rule.blocking]
        warning = [r for r in rules if not r.rule.blocking]
        return self._select(
            source,
            [
                *(_sql.alias(typed, name) for name, typed in self._layout.typed),
                *(_sql.alias(_sql.col(name, _SOURCE), name) for name in self._passed_through()),
                _sql.alias(_rule_names(blocking), FAILED_COLUMN),
                _sql.alias(_rule_names(warning), WARNED_COLUMN),
                _sql.alias(_reasons([*blocking, *warning]), REASON_COLUMN),
            ],
        )

    def valid(self, source: exp.Expr) -> exp.Select:
        """The rows without blocking failures, typed, one per (``_tenant_id``, primary key).

        Among rows with the same key the one with the highest ``ordering`` value wins (NULL
        lowest); ties go to the highest ``_row``, the later record of the file. Without a
        primary key every valid row is kept.
        """
        names = [*(name for name, _ in self._layout.typed), *self._passed_through()]
        checked = self.checked(source).subquery(_sql.ident(_CHECKED))
        passed = exp.EQ(this=_sql.col(FAILED_COLUMN), expression=_sql.string(""))
        if not self.contract.primary_key:
            return exp.select(*(_sql.col(n) for n in names)).from_(checked).where(passed)
        partition = [_sql.col(k) for k in self.contract.primary_key]
        if _TENANT_COLUMN in self._layout.metadata:
            partition.insert(0, _sql.col(_TENANT_COLUMN))
        order = [
            exp.Ordered(this=_sql.col(name), desc=True, nulls_first=False)
            for name in (self.contract.ordering, _ROW_COLUMN)
            if name is not None and (name in self.contract.columns or name in self._layout.metadata)
        ] or [exp.Ordered(this=p.copy()) for p in partition]
        rank = exp.Window(
            this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=order)
        )
        ranked = (
            exp.select(*(_sql.col(n) for n in names), _sql.alias(rank, _RANK))
            .from_(checked)
            .where(passed)
        )
        first = exp.EQ(this=_sql.col(_RANK), expression=exp.Literal.number(1))
        return (
            exp.select(*(_sql.col(n) for n in names))
            .from_(ranked.subquery(_sql.ident(_RANKED)))
            .where(first)
        )

    def quarantined(self, source: exp.Expr) -> exp.Select:
        """The rows with a blocking failure, as read, with ``_rule``, ``_rules`` and ``_reason``.

        ``_rule`` is the first rule failed (in :attr:`row_rules` order), ``_rules`` all of them
        comma-separated, and ``_reason`` explains each with the offending value.
        """
        blocking = [r for r in self._layout.rules if r.rule.blocking]
        first: exp.Expr = exp.Cast(this=exp.Null(), to=_sql.TEXT.copy())
        if blocking:
            cases = [_sql.case_when(r.violation, _sql.string(r.rule.name)) for r in blocking]
            first = (
                cases[0] if len(cases) == 1 else exp.Coalesce(this=cases[0], expressions=cases[1:])
            )
        raw = list(self._layout.raw)
        annotated = self._select(
            source,
            [
                *(_sql.alias(_sql.col(name, _SOURCE), name) for name in raw),
                _sql.alias(first, RULE_COLUMN),
                _sql.alias(_rule_names(blocking), RULES_COLUMN),
                _sql.alias(_reasons(blocking), REASON_COLUMN),
            ],
        )
        failed = exp.NEQ(this=_sql.col(RULES_COLUMN), expression=_sql.string(""))
        columns = [*raw, RULE_COLUMN, RULES_COLUMN, REASON_COLUMN]
        return (
            exp.select(*(_sql.col(name) for name in columns))
            .from_(annotated.subquery(_sql.ident("__annotated")))
            .where(failed)
        )

    def warnings(self, source: exp.Expr) -> exp.Select:
        """One row per warn rule: ``rule`` and ``rows``, the number of source rows it flagged."""
        warning = [r for r in self._layout.rules if not r.rule.blocking]
        count = exp.Count(this=exp.Star())
        if not warning:
            nothing = [
                _sql.alias(exp.Cast(this=exp.Null(), to=_sql.TEXT.copy()), "rule"),
                _sql.alias(exp.Cast(this=exp.Literal.number(0), to=_BIGINT.copy()), "rows"),
            ]
            return self._select(source, nothing).where(exp.false())
        branches: list[exp.Query] = [
            self._select(
                source, [_sql.alias(_sql.string(r.rule.name), "rule"), _sql.alias(count, "rows")]
            ).where(r.violation.copy())
            for r in warning
        ]
        union = reduce(lambda a, b: exp.union(a, b, distinct=False), branches)
        return exp.select(_sql.col("rule"), _sql.col("rows")).from_(
            union.subquery(_sql.ident("__warnings"))
        )

    def references(self) -> list[tuple[str, str]]:
        """The ``(layer, dataset)`` tables the queries read besides the source."""
        return list(self._layout.references)

    def _passed_through(self) -> list[str]:
        return [*self._layout.carried, *self._layout.metadata]

    def _select(self, source: exp.Expr, projections: Sequence[exp.Expr]) -> exp.Select:
        select = exp.select(*projections).from_(_sql.relation(source, _SOURCE))
        for join in self._layout.joins:
            select = select.join(join.copy())
        return select


def _rule_names(rules: list[_CompiledRule]) -> exp.Expr:
    return _sql.concat_ws(
        ",", [_sql.case_when(r.violation, _sql.string(r.rule.name)) for r in rules]
    )


def _reasons(rules: list[_CompiledRule]) -> exp.Expr:
    return _sql.concat_ws("; ", [_sql.case_when(r.violation, r.reason) for r in rules])


def compile_contract(
    contract: ContractSpec,
    *,
    raw_columns: Mapping[str, pa.DataType],
    drift: DriftReport | None = None,
) -> CheckPlan:
    """Compile ``contract`` for a source with ``raw_columns`` (name → Arrow type, as read).

    ``raw_columns`` should include the metadata columns (names starting with ``_``) that the
    caller wants passed through and used for deduplication (``_tenant_id``, ``_row``). ``drift``
    is the report of :func:`gnomon.quality.detect_drift` for the batch; drift visible in
    ``raw_columns`` itself (new or missing columns) is found either way.

    Raises:
        SchemaDriftError: the contract's policy is ``fail`` and there is drift.
    """
    found = detect_drift(contract, observed=dict.fromkeys(raw_columns, ""), previous=None)
    if drift is not None:
        found = found.merge(drift)
    if contract.schema_drift == "fail" and not found.empty:
        raise SchemaDriftError(
            f"Schema drift in {contract.dataset!r}, whose contract says schema_drift: fail: "
            f"{found.describe()}.",
            dataset=contract.dataset,
            drift=found.to_dict(),
        )
    read = {contract.raw_name(name) for name in contract.columns}
    ordinary = [c for c in raw_columns if c not in RESERVED_COLUMNS]
    carried = (
        [c for c in ordinary if not is_metadata(c) and c not in read and c not in contract.columns]
        if contract.schema_drift == "evolve"
        else []
    )
    compiled: list[_CompiledRule] = []
    joins: list[exp.Join] = []
    typed: list[tuple[str, exp.Expr]] = []
    for name, spec in contract.columns.items():
        raw = contract.raw_name(name)
        column = typed_column(
            name,
            spec,
            raw=raw if raw in raw_columns else None,
            raw_type=raw_columns.get(raw),
            table=_SOURCE,
        )
        typed.append((name, column.typed))
        rules, join = _column_rules(name, spec, column, required=name in contract.primary_key)
        compiled += rules
        joins += [join] if join is not None else []
    if contract.schema_drift == "quarantine" and not found.empty:
        rule = RowRule("schema_drift", None, "schema_drift", "block")
        reason = _sql.string(f"schema_drift: {found.describe()}")
        compiled.insert(0, _CompiledRule(rule, exp.true(), reason))
    references = sorted(
        {("silver", s.references.dataset) for s in contract.columns.values() if s.references}
    )
    return CheckPlan(
        contract=contract,
        row_rules=tuple(r.rule for r in compiled),
        dataset_checks=_dataset_checks(contract),
        drift=found,
        _layout=_Layout(
            typed=tuple(typed),
            carried=tuple(carried),
            metadata=tuple(c for c in ordinary if is_metadata(c)),
            raw=tuple(ordinary),
            rules=tuple(compiled),
            joins=tuple(joins),
            references=tuple(references),
        ),
    )


@dataclass(frozen=True, slots=True)
class _Violation:
    """One rule of a column before it is named: when a row breaks it, and the words why."""

    kind: RuleKind
    severity: Severity
    condition: exp.Expr
    why: tuple[exp.Expr, ...]


def _column_rules(
    name: str, spec: ColumnSpec, column: TypedColumn, *, required: bool
) -> tuple[list[_CompiledRule], exp.Join | None]:
    """The rules of one column, and the join its ``references`` rule needs.

    The order is fixed (type, required, min, max, allowed, regex, references) because ``_rule``
    reports the first rule a row failed.
    """
    found = [
        *_readability(spec, column, required=required),
        *_value_rules(spec, column),
    ]
    join = None
    if spec.references is not None:
        reference, join = _reference_rule(name, spec.references, spec.severity, column)
        found.append(reference)
    rules = []
    for violation in found:
        rule = RowRule(f"{name}.{violation.kind}", name, violation.kind, violation.severity)
        reason = _sql.concat(_sql.string(f"{rule.name}: "), *violation.why)
        rules.append(_CompiledRule(rule, violation.condition, reason))
    return rules, join


def _readability(spec: ColumnSpec, column: TypedColumn, *, required: bool) -> list[_Violation]:
    """``type`` and ``required``: always blocking, since silver cannot store such a value."""
    found = []
    if column.can_fail:
        described = str(column.column_type)
        if spec.format is not None:
            described += f" in format {spec.format}"
        why = (_quoted(column.raw_text), _sql.string(f" is not a valid {described}"))
        found.append(_Violation("type", "block", column.type_failed, why))
    if spec.required or required:
        missing = "the file has no such column" if column.absent else "no value"
        condition = exp.not_(column.present.copy())
        found.append(_Violation("required", "block", condition, (_sql.string(missing),)))
    return found


def _value_rules(spec: ColumnSpec, column: TypedColumn) -> list[_Violation]:
    """``min``, ``max``, ``allowed`` and ``regex``, judged on values that are there."""
    typed, column_type = column.typed, column.column_type
    shown = _quoted(_sql.shown(typed))
    checks: list[tuple[RuleKind, exp.Expr, str]] = []
    low, high = spec.bounds()
    if low is not None:
        below = exp.LT(this=typed.copy(), expression=_sql.literal(column_type, low))
        checks.append(("min", below, f" is below the minimum {_sql.shown_value(low)}"))
    if high is not None:
        above = exp.GT(this=typed.copy(), expression=_sql.literal(column_type, high))
        checks.append(("max", above, f" is above the maximum {_sql.shown_value(high)}"))
    allowed = spec.allowed_values()
    if allowed is not None:
        listed = [_sql.literal(column_type, v) for v in allowed]
        words = ", ".join(_sql.shown_value(v) for v in allowed[:_SHOWN_ALLOWED])
        words += ", …" if len(allowed) > _SHOWN_ALLOWED else ""
        outside = exp.not_(exp.In(this=typed.copy(), expressions=listed))
        checks.append(("allowed", outside, f" is not one of {words}"))
    if spec.regex is not None:
        mismatch = exp.not_(_sql.regexp_like(typed, spec.regex))
        checks.append(("regex", mismatch, f" does not match {spec.regex}"))
    return [
        _Violation(
            kind, spec.severity, exp.and_(column.has_value, test), (shown, _sql.string(words))
        )
        for kind, test, words in checks
    ]


def _reference_rule(
    name: str, target: ReferenceSpec, severity: Severity, column: TypedColumn
) -> tuple[_Violation, exp.Join]:
    """``references`` as an anti-join: LEFT JOIN the distinct keys of the referenced table."""
    table_alias = f"__ref_{name}"
    keys = (
        exp.select(_sql.alias(_sql.col(target.column), _REF_KEY))
        .distinct()
        .from_(exp.Table(this=_sql.ident(target.dataset), db=_sql.ident("silver")))
    )
    on = exp.EQ(this=_sql.col(_REF_KEY, table_alias), expression=column.typed.copy())
    join = exp.Join(this=keys.subquery(_sql.ident(table_alias)), side="LEFT", on=on)
    absent = exp.Is(this=_sql.col(_REF_KEY, table_alias), expression=exp.Null())
    why = (
        _quoted(_sql.shown(column.typed)),
        _sql.string(f" is not in {target.dataset}.{target.column}"),
    )
    return _Violation("references", severity, exp.and_(column.has_value, absent), why), join


def _quoted(value: exp.Expr) -> exp.Expr:
    return _sql.concat(_sql.string("'"), value, _sql.string("'"))


def _dataset_checks(contract: ContractSpec) -> tuple[DatasetCheck, ...]:
    checks: list[DatasetCheck] = []
    row_count = contract.checks.row_count
    if row_count is not None:
        checks.append(RowCountCheck(row_count.min, row_count.max, row_count.severity))
    freshness = contract.checks.freshness
    if freshness is not None:
        checks.append(
            FreshnessCheck(
                freshness.column, freshness.max_age_delta, freshness.max_age, freshness.severity
            )
        )
    key = tuple(contract.primary_key)
    checks += [
        UniqueCheck(name, key, spec.severity)
        for name, spec in contract.columns.items()
        if spec.unique
    ]
    return tuple(checks)
