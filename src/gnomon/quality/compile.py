"""Contracts compiled to SQL: the checks run in the query engine, as sqlglot trees.

Why SQL and not Python: checks must scale with the engine that holds the data (DuckDB on a laptop,
Spark on a cluster), and a row that fails must be set aside without sinking the batch. So every
row rule becomes a boolean expression over the raw row, and the plan offers these queries over any
source relation the caller provides:

* :meth:`CheckPlan.checked`: every row, typed, with the rules it failed (``_failed``), the warn
  rules it tripped (``_warned``) and why (``_reason``);
* :meth:`CheckPlan.valid`: the rows with no blocking failure, one per primary key;
* :meth:`CheckPlan.quarantined`: the rows with a blocking failure, exactly as read;
* :meth:`CheckPlan.warnings`: how many rows tripped each warn rule;
* :meth:`CheckPlan.repeated_keys`: the primary keys more than one row has. Most batches have
  none, and then :meth:`CheckPlan.valid` can skip the dedupe.

Why the queries are layered: a value is read by several rules (a typed ``quantity`` by its type,
``min`` and ``max`` rules, a verdict by ``_failed`` and ``_reason``), and engines do not reliably
share one computation between expressions. So each query reads derived tables that compute every
piece once: the trimmed text, then the typed values and whether a value is present, then one
boolean per rule. Every layer is called ``__rows``, so a reference reads the same at each level.

Trees use portable constructs only (TRY_CAST, CASE, LIKE, CONCAT_WS, REGEXP_LIKE, ROW_NUMBER,
LEFT JOIN, VALUES) and render for DuckDB, Spark and PostgreSQL; the ``dialect`` a plan is compiled
for only picks the cheapest exact conversion where engines differ. Tables a plan reads besides the
source (referenced silver tables) appear as ``silver.<dataset>``; the caller's query path scopes
them to the tenant.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal, get_args

import pyarrow as pa
from sqlglot import exp

from gnomon.errors import InvalidInput
from gnomon.quality import _sql
from gnomon.quality._casts import Dialect, TypedColumn, typed_column
from gnomon.quality.checks import DatasetCheck, FreshnessCheck, RowCountCheck, UniqueCheck
from gnomon.quality.contract import ColumnSpec, ContractSpec, ReferenceSpec, Severity
from gnomon.quality.drift import DriftReport, detect_drift, is_metadata
from gnomon.quality.errors import SchemaDriftError
from gnomon.quality.shapes import TextShape

__all__ = [
    "DIALECTS",
    "FAILED_COLUMN",
    "REASON_COLUMN",
    "RESERVED_COLUMNS",
    "RULES_COLUMN",
    "RULE_COLUMN",
    "WARNED_COLUMN",
    "CheckPlan",
    "Dialect",
    "RowRule",
    "RuleKind",
    "compile_contract",
]

RuleKind = Literal[
    "type", "required", "min", "max", "allowed", "regex", "references", "schema_drift"
]

DIALECTS: Final[tuple[Dialect, ...]] = get_args(Dialect)
"""The engines a plan can be compiled for."""
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

_ROWS: Final = "__rows"
_RANKED: Final = "__ranked"
_CHECKED: Final = "__checked"
_DUPLICATED: Final = "__duplicated"
_VALID: Final = "__valid"
_COUNTS: Final = "__counts"
_WARN_RULES: Final = "__warn_rules"
_REF_KEY: Final = "__key"
_INTERNAL: Final = "__g"
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
    """A rule as SQL: ``violation`` defines the boolean ``flag`` names; ``reason`` reads it.

    Every violation is built never to be NULL (a rule on a value first checks that there is
    one), so filters can negate flags directly.
    """

    rule: RowRule
    violation: exp.Expr
    reason: exp.Expr
    flag: str = ""

    @property
    def failed(self) -> exp.Column:
        """The row broke the rule (never NULL), as computed once in the rules layer."""
        return _sql.col(self.flag, _ROWS)


@dataclass(frozen=True, slots=True)
class _Layout:
    """The compiled trees a plan assembles its queries from (copied on every use).

    ``inputs`` are the raw columns the layers pass on; ``texts`` (trimmed text) and ``typed``
    (typed values, presence) are the projections the first two layers add, and ``outputs`` maps
    each contract column to its typed value in the layers above.
    """

    inputs: tuple[str, ...] = ()
    texts: tuple[exp.Alias, ...] = ()
    typed: tuple[exp.Alias, ...] = ()
    outputs: tuple[tuple[str, exp.Column], ...] = ()
    carried: tuple[str, ...] = ()
    metadata: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()
    rules: tuple[_CompiledRule, ...] = ()
    joins: tuple[exp.Join, ...] = ()
    references: tuple[tuple[str, str], ...] = ()
    internal: str = _INTERNAL

    @property
    def rank(self) -> str:
        """The column holding a row's rank among the rows with its key."""
        return f"{self.internal}rank"


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
        dialect: the engine the trees are meant to run on.
    """

    contract: ContractSpec
    row_rules: tuple[RowRule, ...]
    dataset_checks: tuple[DatasetCheck, ...]
    drift: DriftReport = field(default_factory=DriftReport)
    dialect: Dialect = "duckdb"
    _layout: _Layout = field(default_factory=_Layout, repr=False, compare=False)

    def checked(self, source: exp.Expr) -> exp.Select:
        """Every source row: typed contract columns, carried and metadata columns, verdicts.

        ``_failed`` lists the blocking rules the row failed, comma-separated (``''`` when none);
        ``_warned`` the warn rules; ``_reason`` explains each, with the offending value.
        """
        blocking, warning = self._blocking(), self._warning()
        return exp.select(
            *self._columns(),
            _sql.alias(_rule_names(blocking), FAILED_COLUMN),
            _sql.alias(_rule_names(warning), WARNED_COLUMN),
            _sql.alias(_reasons([*blocking, *warning]), REASON_COLUMN),
        ).from_(self._judged(source))

    def valid(self, source: exp.Expr, *, unique_keys: bool = False) -> exp.Select:
        """The rows without blocking failures, typed, one per (``_tenant_id``, primary key).

        Among rows with the same key the one with the highest ``ordering`` value wins (NULL
        lowest); ties go to the highest ``_row``, the later record of the file. Without a
        primary key every valid row is kept.

        ``unique_keys`` says that no two rows of ``source`` share a key, as an empty result of
        :meth:`repeated_keys` over the same source shows; the query then leaves out the
        dedupe, which costs a ranking (or, on DuckDB, holding every typed row) for nothing.
        Passing it for a source with repeated keys keeps every valid row of each key.
        """
        blocking = self._blocking()
        blocked = exp.or_(*(r.failed for r in blocking)) if blocking else None
        dedupe = bool(self.contract.primary_key) and not unique_keys
        if self.dialect == "duckdb":
            return self._valid_once(source, blocked, dedupe=dedupe)
        passed = self._judged_rows(source, self._columns())
        if blocked is not None:
            passed = passed.where(exp.not_(blocked))
        if not dedupe:
            return passed
        return self._first_per_key(passed, self._key_columns(), table=_ROWS)

    def repeated_keys(self, source: exp.Expr) -> exp.Select:
        """The dedupe keys that more than one row of ``source`` has, one row each.

        A dedupe key is ``_tenant_id`` when carried, then the primary key; without a primary
        key there are no rows. Every row counts, whether or not it passes the rules, so an
        empty result means that the valid rows have unique keys too (see :meth:`valid`'s
        ``unique_keys``). Only the key columns are typed, which makes this far cheaper than
        the dedupe it can spare.
        """
        keys = self._key_columns() if self.contract.primary_key else []
        if not keys:
            return (
                exp.select(exp.Literal.number(1).as_("k"))
                .from_(_sql.relation(source, _ROWS))
                .where(exp.false())
            )
        layout = self._layout
        columns = {name: _sql.col(name, _ROWS) for name in self._passed_through()}
        columns |= dict(layout.outputs)
        typed = exp.select(*(_sql.alias(columns[k].copy(), k) for k in keys)).from_(
            self._typed(source)
        )
        return (
            exp.select(*(_sql.col(k) for k in keys))
            .from_(typed.subquery(_sql.ident(_ROWS)))
            .group_by(*(_sql.col(k) for k in keys))
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        )

    def _valid_once(
        self, source: exp.Expr, blocked: exp.Expr | None, *, dedupe: bool
    ) -> exp.Select:
        """:meth:`valid` for engines that can hold an intermediate result (DuckDB).

        Ranking every row to drop duplicate keys sorts the whole batch, when most keys occur
        once: only the rows whose key repeats are ranked. The checked rows are then read
        three times, so they are computed once into a materialised CTE. Without the dedupe
        they are read once and stream: holding them would cost more (about a seventh of
        the query) than the engine's computing some typed values twice where it pushes the
        filter on the rule flags below the layers that compute them.
        """
        layout = self._layout
        names = [*(name for name, _ in layout.outputs), *self._passed_through()]
        if blocked is None and not dedupe:
            return self._judged_rows(source, self._columns())
        flag = f"{layout.internal}blocked"
        checked = self._judged_rows(
            source, [*self._columns(), _sql.alias(blocked or exp.false(), flag)]
        )
        passed = exp.not_(_sql.col(flag, _CHECKED))
        rows = exp.select(*(_sql.col(n, _CHECKED) for n in names)).from_(_sql.ident(_CHECKED))
        ctes: list[tuple[str, exp.Select]] = [(_CHECKED, checked)]
        if not dedupe:
            query = rows.where(passed)
        else:
            keys = self._key_columns()
            duplicated = (
                exp.select(*(_sql.col(k, _CHECKED) for k in keys))
                .from_(_sql.ident(_CHECKED))
                .where(passed.copy())
                .group_by(*(_sql.col(k, _CHECKED) for k in keys))
                .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
            )
            same_key = exp.and_(
                *(
                    exp.NullSafeEQ(this=_sql.col(k, _DUPLICATED), expression=_sql.col(k, _CHECKED))
                    for k in keys
                )
            )
            once = rows.join(_sql.ident(_DUPLICATED), on=same_key, join_type="anti").where(passed)
            repeated = rows.join(
                _sql.ident(_DUPLICATED), on=same_key.copy(), join_type="semi"
            ).where(passed.copy())
            latest = self._first_per_key(repeated, keys, table=_CHECKED)
            union = exp.union(once, latest, distinct=False)
            query = exp.select(*(_sql.col(n) for n in names)).from_(
                union.subquery(_sql.ident(_VALID))
            )
            ctes.append((_DUPLICATED, duplicated))
        for name, body in ctes:
            query = query.with_(_sql.ident(name), as_=body, materialized=dedupe)
        return query

    def _key_columns(self) -> list[str]:
        """The columns of a dedupe key: the tenant, when carried, then the primary key."""
        tenant = [_TENANT_COLUMN] if _TENANT_COLUMN in self._layout.metadata else []
        return [*tenant, *self.contract.primary_key]

    def _first_per_key(self, rows: exp.Select, keys: list[str], *, table: str) -> exp.Select:
        """Of ``rows`` (checked columns read from ``table``), the latest per dedupe key."""
        layout = self._layout
        names = [*(name for name, _ in layout.outputs), *self._passed_through()]
        columns = dict(zip(names, (_sql.col(n, table) for n in names), strict=True))
        if table == _ROWS:
            columns |= dict(layout.outputs)
        partition = [columns[k].copy() for k in keys]
        order = [
            exp.Ordered(this=columns[name].copy(), desc=True, nulls_first=False)
            for name in (self.contract.ordering, _ROW_COLUMN)
            if name is not None and name in columns
        ] or [exp.Ordered(this=p.copy()) for p in partition]
        rank = exp.Window(
            this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=order)
        )
        ranked = rows.select(_sql.alias(rank, layout.rank))
        first = exp.EQ(this=_sql.col(layout.rank), expression=exp.Literal.number(1))
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
        blocking = self._blocking()
        first: exp.Expr = exp.Cast(this=exp.Null(), to=_sql.TEXT.copy())
        if blocking:
            cases = [_sql.case_when(r.failed, _sql.string(r.rule.name)) for r in blocking]
            first = (
                cases[0] if len(cases) == 1 else exp.Coalesce(this=cases[0], expressions=cases[1:])
            )
        failed = exp.or_(*(r.failed for r in blocking)) if blocking else exp.false()
        return self._judged_rows(
            source,
            [
                *(_sql.alias(_sql.col(name, _ROWS), name) for name in self._layout.raw),
                _sql.alias(first, RULE_COLUMN),
                _sql.alias(_rule_names(blocking), RULES_COLUMN),
                _sql.alias(_reasons(blocking), REASON_COLUMN),
            ],
        ).where(failed)

    def warnings(self, source: exp.Expr) -> exp.Select:
        """One row per warn rule: ``rule`` and ``rows``, the number of source rows it flagged.

        The rows are counted in one pass, then paired with the rules' names.
        """
        warning = self._warning()
        if not warning:
            nothing = [
                _sql.alias(exp.Cast(this=exp.Null(), to=_sql.TEXT.copy()), "rule"),
                _sql.alias(exp.Cast(this=exp.Literal.number(0), to=_BIGINT.copy()), "rows"),
            ]
            return exp.select(*nothing).from_(_sql.relation(source, _ROWS)).where(exp.false())
        counts = self._judged_rows(
            source,
            [
                _sql.alias(exp.Count(this=_sql.case_when(r.failed, exp.Literal.number(1))), f"n{i}")
                for i, r in enumerate(warning)
            ],
        )
        names = exp.Values(
            expressions=[
                exp.Tuple(expressions=[exp.Literal.number(i), _sql.string(r.rule.name)])
                for i, r in enumerate(warning)
            ],
            alias=exp.TableAlias(
                this=_sql.ident(_WARN_RULES), columns=[_sql.ident("i"), _sql.ident("rule")]
            ),
        )
        index = _sql.col("i", _WARN_RULES)
        rows = exp.Case(
            this=index.copy(),
            ifs=[
                exp.If(this=exp.Literal.number(i), true=_sql.col(f"n{i}", _COUNTS))
                for i in range(len(warning))
            ],
        )
        return (
            exp.select(_sql.alias(_sql.col("rule", _WARN_RULES), "rule"), _sql.alias(rows, "rows"))
            .from_(counts.subquery(_sql.ident(_COUNTS)))
            .join(names, join_type="cross")
            .order_by(index)
        )

    def references(self) -> list[tuple[str, str]]:
        """The ``(layer, dataset)`` tables the queries read besides the source."""
        return list(self._layout.references)

    def _blocking(self) -> list[_CompiledRule]:
        return [r for r in self._layout.rules if r.rule.blocking]

    def _warning(self) -> list[_CompiledRule]:
        return [r for r in self._layout.rules if not r.rule.blocking]

    def _passed_through(self) -> list[str]:
        return [*self._layout.carried, *self._layout.metadata]

    def _columns(self) -> list[exp.Expr]:
        """The typed contract columns, then the carried and metadata columns."""
        return [
            *(_sql.alias(value, name) for name, value in self._layout.outputs),
            *(_sql.alias(_sql.col(name, _ROWS), name) for name in self._passed_through()),
        ]

    def _judged_rows(self, source: exp.Expr, projections: Sequence[exp.Expr]) -> exp.Select:
        return exp.select(*projections).from_(self._judged(source))

    def _typed(self, source: exp.Expr) -> exp.Subquery:
        """The source with trimmed text, presence and typed values."""
        layout = self._layout
        texts = exp.select(
            *(_sql.alias(_sql.col(name, _ROWS), name) for name in layout.inputs),
            *(t.copy() for t in layout.texts),
        ).from_(_sql.relation(source, _ROWS))
        typed = exp.select(_every(), *(t.copy() for t in layout.typed)).from_(
            texts.subquery(_sql.ident(_ROWS))
        )
        return typed.subquery(_sql.ident(_ROWS))

    def _judged(self, source: exp.Expr) -> exp.Subquery:
        """The source with trimmed text, presence, typed values and one flag per rule."""
        layout = self._layout
        flags = [_sql.alias(r.violation, r.flag) for r in layout.rules]
        judged = exp.select(_every(), *flags).from_(self._typed(source))
        for join in layout.joins:
            judged = judged.join(join.copy())
        return judged.subquery(_sql.ident(_ROWS))


def _every() -> exp.Column:
    """``"__rows".*``: every column of the layer below."""
    return exp.Column(this=exp.Star(), table=_sql.ident(_ROWS))


def _rule_names(rules: list[_CompiledRule]) -> exp.Expr:
    names = [_sql.case_when(r.failed, _sql.string(r.rule.name)) for r in rules]
    return _when_any_failed(rules, _sql.concat_ws(",", names))


def _reasons(rules: list[_CompiledRule]) -> exp.Expr:
    reasons = [_sql.case_when(r.failed, r.reason) for r in rules]
    return _when_any_failed(rules, _sql.concat_ws("; ", reasons))


def _when_any_failed(rules: list[_CompiledRule], listed: exp.Expr) -> exp.Expr:
    """``listed`` for rows that failed one of ``rules``, else ``''`` (what ``listed`` would be).

    Most rows fail nothing; for them one ``OR`` of flags replaces building the list.
    """
    if not rules:
        return listed
    failed = exp.or_(*(r.failed for r in rules))
    return exp.Case(ifs=[exp.If(this=failed, true=listed)], default=_sql.string(""))


def compile_contract(
    contract: ContractSpec,
    *,
    raw_columns: Mapping[str, pa.DataType],
    drift: DriftReport | None = None,
    dialect: Dialect = "duckdb",
    shapes: Mapping[str, TextShape] | None = None,
) -> CheckPlan:
    """Compile ``contract`` for a source with ``raw_columns`` (name → Arrow type, as read).

    ``raw_columns`` should include the metadata columns (names starting with ``_``) that the
    caller wants passed through and used for deduplication (``_tenant_id``, ``_row``). ``drift``
    is the report of :func:`gnomon.quality.detect_drift` for the batch; drift visible in
    ``raw_columns`` itself (new or missing columns) is found either way. ``dialect`` is the
    engine the queries will run on: every dialect gives the same results, but some conversions
    have a cheaper exact form on one engine than the portable one. ``shapes`` names raw text
    columns every present value of which *in the source the queries will read* is known to have
    a canonical shape (proven by :class:`gnomon.quality.TextShapes`); their casts skip the
    guard and the trim, with the same results. A plan compiled with shapes must not be run on
    other rows.

    Raises:
        InvalidInput: ``dialect`` is not one of :data:`DIALECTS`.
        SchemaDriftError: the contract's policy is ``fail`` and there is drift.
    """
    if dialect not in DIALECTS:
        raise InvalidInput(
            f"Contracts cannot be compiled for the dialect {dialect!r}: it is not supported.",
            hint=f"Use one of: {', '.join(DIALECTS)}.",
            dialect=dialect,
        )
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
    internal = _internal_prefix([*raw_columns, *contract.columns])
    found_rules: list[_CompiledRule] = []
    joins: list[exp.Join] = []
    texts: list[exp.Alias] = []
    typed: list[exp.Alias] = []
    outputs: list[tuple[str, exp.Column]] = []
    for i, (name, spec) in enumerate(contract.columns.items()):
        raw = contract.raw_name(name)
        text, value, present = (f"{internal}{kind}{i}" for kind in ("x", "t", "p"))
        column = typed_column(
            name,
            spec,
            raw=raw if raw in raw_columns else None,
            raw_type=raw_columns.get(raw),
            table=_ROWS,
            trimmed=_sql.col(text, _ROWS),
            dialect=dialect,
            shape=(shapes or {}).get(raw),
        )
        if column.text is not None:
            texts.append(_sql.alias(column.text, text))
        typed += [_sql.alias(column.typed, value), _sql.alias(column.present, present)]
        outputs.append((name, _sql.col(value, _ROWS)))
        stored = replace(column, typed=_sql.col(value, _ROWS), present=_sql.col(present, _ROWS))
        rules, join = _column_rules(name, spec, stored, required=name in contract.primary_key)
        found_rules += rules
        joins += [join] if join is not None else []
    if contract.schema_drift == "quarantine" and not found.empty:
        rule = RowRule("schema_drift", None, "schema_drift", "block")
        reason = _sql.string(f"schema_drift: {found.describe()}")
        found_rules.insert(0, _CompiledRule(rule, exp.true(), reason))
    compiled = [replace(r, flag=f"{internal}v{k}") for k, r in enumerate(found_rules)]
    references = sorted(
        {("silver", s.references.dataset) for s in contract.columns.values() if s.references}
    )
    return CheckPlan(
        contract=contract,
        row_rules=tuple(r.rule for r in compiled),
        dataset_checks=_dataset_checks(contract),
        drift=found,
        dialect=dialect,
        _layout=_Layout(
            inputs=tuple(raw_columns),
            texts=tuple(texts),
            typed=tuple(typed),
            outputs=tuple(outputs),
            carried=tuple(carried),
            metadata=tuple(c for c in ordinary if is_metadata(c)),
            raw=tuple(ordinary),
            rules=tuple(compiled),
            joins=tuple(joins),
            references=tuple(references),
            internal=internal,
        ),
    )


def _internal_prefix(names: Sequence[str]) -> str:
    """A prefix no column name starts with (engines compare names case-insensitively)."""
    taken = [n.lower() for n in names]
    prefix = _INTERNAL
    while any(n.startswith(prefix) for n in taken):
        prefix = "_" + prefix
    return prefix


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

    ``column`` reads its typed value and presence from the typed layer. The order is fixed
    (type, required, min, max, allowed, regex, references) because ``_rule`` reports the first
    rule a row failed.
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
