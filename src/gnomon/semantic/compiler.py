"""Compile a metric query into one SQL tree that DuckDB, PostgreSQL and Spark answer alike.

A query of one semantic model whose metrics read no earlier buckets (simple metrics, ratios,
formulas) takes the folded shape of :mod:`gnomon.semantic.folded`: its aggregate and one SELECT
filling the spine's buckets. Every other query takes the general shape, as CTEs:

1. one aggregate per semantic model: its rows in the range (plus any lead the metrics need,
   e.g. six extra days for a trailing week), filtered, grouped by time bucket and dimensions,
   with one column per simple metric;
2. the frame: every bucket of the spine (an in-memory table built in Python, see
   :mod:`gnomon.semantic.time`) times every dimension combination seen, so empty buckets appear;
3. the base: the frame left-joined to each model aggregate (null-safe on dimensions), with
   empty buckets filled as each metric declares;
4. one level per computed metric, in dependency order: ratios and formulas as expressions,
   cumulative metrics as window functions over the complete spine, period-over-period metrics as
   a join to the spine's earlier bucket;
5. the requested columns of the buckets in range, ordered and limited.

In both, a row condition every metric of an aggregate shares (``status <> 'cancelled'``) is
applied once in its WHERE when that cannot lose a group (see ``_shared_conditions``), and the
rest as ``FILTER (WHERE …)`` on each aggregate. The spine carries only the columns the shape
reads. Ratios are computed from their parts at the query grain (never averaged), so they
re-aggregate correctly at every grain. Results are typed alike everywhere: counts BIGINT, sums,
averages, ratios and percentiles DOUBLE. Division is always by ``NULLIF(x, 0)``.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import pyarrow as pa
from sqlglot import exp

from gnomon.semantic._nodes import (
    DOUBLE,
    aliased,
    cross_join,
    divide,
    left_join,
    metric_column,
    safe_division,
    with_ctes,
)
from gnomon.semantic.definitions import CumulativeMetric, PeriodOverPeriodMetric, parse_window
from gnomon.semantic.errors import MetricQueryError
from gnomon.semantic.expressions import (
    ExpressionProblem,
    columns_of,
    parse_expression,
    replace_columns,
)
from gnomon.semantic.folded import FOLDABLE_KINDS, fold
from gnomon.semantic.layer import Metric, SemanticLayer, SemanticModel
from gnomon.semantic.measures import aggregate, row_conditions
from gnomon.semantic.query import MetricQuery
from gnomon.semantic.rollups import RollupPlan, rollup_aggregate, rollup_refusal
from gnomon.semantic.time import (
    TimeRange,
    bucket_expression,
    bucket_start,
    shift_back,
    spine_table,
)

__all__ = ["SPINE_RELATION", "CompiledQuery", "compile_query"]

SPINE_RELATION = "gnomon_time_spine"
"""The name the compiled tree reads the spine by; pass the spine as this relation."""

_TIME = "time"
_BIGINT = exp.DataType(this=exp.DataType.Type.BIGINT)
_COUNTS = ("count", "count_distinct")
_FIXED_MINUTES = {"minute": 1, "hour": 60, "day": 1440, "week": 10080}
_MONTHS = {"month": 1, "quarter": 3, "year": 12, "fiscal_quarter": 3, "fiscal_year": 12}


@dataclass(frozen=True)
class CompiledQuery:
    """A query ready to run: the tree, what it reads, and the columns it returns."""

    tree: exp.Select
    relations: Mapping[str, pa.Table]
    """In-memory tables the tree reads by name (the time spine)."""
    tables: tuple[str, ...]
    """``layer.name`` of every lake table read."""
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    grain: str | None
    time_range: TimeRange | None
    sources: Mapping[str, str] = field(default_factory=dict)
    """Per semantic model: the table its rows came from (the raw table or a rollup)."""
    rollup_refusals: Mapping[str, str] = field(default_factory=dict)
    """Per semantic model whose rollup was not used: why."""

    @property
    def columns(self) -> list[str]:
        """The result's columns, in order."""
        return [*([_TIME] if self.grain else []), *self.dimensions, *self.metrics]


def compile_query(
    layer: SemanticLayer,
    query: MetricQuery,
    *,
    dialect: str,
    rollups: Mapping[str, RollupPlan] | None = None,
) -> CompiledQuery:
    """Compile ``query`` against ``layer`` for ``dialect`` (duckdb, postgres or spark).

    ``rollups`` (by semantic model) are fresh rollups the query may read instead of the raw
    tables, wherever they give the exact same answer (see :mod:`gnomon.semantic.rollups`).

    Raises:
        UnknownMetric: a metric is not defined.
        MetricQueryError: a dimension, filter, grain, range or order key the metrics cannot
            answer; the message says which and what is available.
    """
    return _Compiler(layer, query, dialect, rollups or {}).compile()


class _Compiler:
    def __init__(
        self,
        layer: SemanticLayer,
        query: MetricQuery,
        dialect: str,
        rollups: Mapping[str, RollupPlan],
    ) -> None:
        self.layer = layer
        self.rollups = rollups
        self.sources: dict[str, str] = {}
        """Per model: the table its aggregate reads."""
        self.reasons: dict[str, str] = {}
        """Per model with a rollup it did not use: why."""
        self.query = query
        self.dialect = dialect
        self.requested = [layer.metric(name) for name in query.metrics]
        self.needed = self._dependency_order()
        self.bases = [m for m in self.needed if m.kind == "simple"]
        self.skip: tuple[datetime, datetime] | None = None
        """Local times left out of the data read: the part of the first bucket before the range
        starts, when earlier (lead) buckets are read too."""

    # ------------------------------------------------------------ checks

    def _dependency_order(self) -> list[Metric]:
        order: dict[str, Metric] = {}

        def visit(metric: Metric) -> None:
            for name in metric.inputs:
                visit(self.layer.metrics[name])
            order.setdefault(metric.name, metric)

        for metric in self.requested:
            visit(metric)
        return list(order.values())

    def _models(self) -> list[SemanticModel]:
        seen: dict[str, SemanticModel] = {}
        for base in self.bases:
            assert base.model is not None  # noqa: S101 - simple metrics have one
            seen.setdefault(base.model.name, base.model)
        return list(seen.values())

    def _check_dimensions(self, models: Sequence[SemanticModel]) -> None:
        for name in self.query.by:
            missing = [m.name for m in models if name not in m.dimensions]
            if missing:
                available = sorted(set.intersection(*(set(m.dimensions) for m in models)))
                raise MetricQueryError(
                    f"{name!r} is not a dimension of "
                    f"{' and '.join(map(repr, self.query.metrics))}.",
                    hint=f"Use one of: {', '.join(available) or '(none)'}.",
                    dimension=name,
                )
        clash = set(self.query.by) & ({_TIME} | {m.name for m in self.needed})
        if clash:
            raise MetricQueryError(
                f"{', '.join(sorted(clash))} names both a dimension and a metric (or the time).",
                hint="Rename the dimension or the metric so result columns are unambiguous.",
            )

    def _filter(self, models: Sequence[SemanticModel]) -> exp.Expr | None:
        if self.query.where is None:
            return None
        try:
            condition = parse_expression(self.query.where, what="filter")
        except ExpressionProblem as exc:
            raise MetricQueryError(
                str(exc)[0].upper() + str(exc)[1:] + ".",
                hint="Write a condition over the metrics' dimensions, e.g. channel = 'web'.",
            ) from exc
        allowed = set.intersection(*(set(m.dimensions) for m in models))
        unknown = [c for c in columns_of(condition) if c not in allowed]
        if unknown:
            raise MetricQueryError(
                f"The filter refers to {', '.join(map(repr, unknown))}, which is not a "
                "dimension of the metrics.",
                hint=f"Filters may use the dimensions: {', '.join(sorted(allowed)) or '(none)'}.",
                where=self.query.where,
            )
        return condition

    def _time_range(self) -> TimeRange | None:
        start, end = self.query.start, self.query.end
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise MetricQueryError(
                "Give both a start and an end, or neither.",
                hint="e.g. --start 2025-01-01 --end 2025-03-31 (the end day is included).",
            )
        try:
            return TimeRange.of(start, end, zone=self.layer.calendar.time_zone)
        except ValueError as exc:
            raise MetricQueryError(
                str(exc)[0].upper() + str(exc)[1:] + ".", hint="Swap or widen the range."
            ) from exc

    def _check_time(self, models: Sequence[SemanticModel], time_range: TimeRange | None) -> None:
        timed = [m for m in self.needed if m.kind in ("cumulative", "period_over_period")]
        if self.query.grain is None and timed:
            raise MetricQueryError(
                f"{timed[0].name!r} is a {timed[0].kind} metric: it needs a grain.",
                hint="Add a grain, e.g. --grain day.",
            )
        if self.query.grain is not None and time_range is None:
            raise MetricQueryError(
                "A query with a grain needs a time range.",
                hint="Add --start and --end (the end day is included).",
            )
        if self.query.grain is not None or time_range is not None:
            untimed = [m.name for m in models if m.time_column is None]
            if untimed:
                raise MetricQueryError(
                    f"Semantic model {untimed[0]!r} has no time column, so its metrics cannot "
                    "be bucketed or limited to a range.",
                    hint="Add 'time: {column: ...}' to the model, or query without grain and "
                    "range.",
                )

    # ------------------------------------------------------------ compile

    def compile(self) -> CompiledQuery:
        models = self._models()
        self._check_dimensions(models)
        condition = self._filter(models)
        time_range = self._time_range()
        self._check_time(models, time_range)
        grain = self.query.grain
        folds = len(models) == 1 and all(m.kind in FOLDABLE_KINDS for m in self.needed)
        relations: dict[str, pa.Table] = {}
        data_start = None
        if grain is not None and time_range is not None:
            first = bucket_start(time_range.start, grain, self.layer.calendar)
            lead_to = min(self._earliest(m, first) for m in self.requested)
            # Buckets hold only the rows in the range, so that they add up to the range's
            # total; the lead buckets before it are read whole.
            data_start = time_range.start
            if lead_to < first:
                data_start = lead_to
                if first < time_range.start:
                    self.skip = (first, time_range.start)
            try:
                relations[SPINE_RELATION] = spine_table(
                    time_range,
                    grain,
                    self.layer.calendar,
                    lead_to=lead_to,
                    columns=[_TIME] if folds else self._spine_columns(),
                )
            except ValueError as exc:
                raise MetricQueryError(
                    str(exc)[0].upper() + str(exc)[1:] + ".",
                    hint="e.g. --grain day for a year, --grain hour for a week.",
                ) from exc
        elif time_range is not None:
            data_start = time_range.start
        aggregates = [self._source(model, condition, time_range, data_start) for model in models]
        if folds:
            select, outputs = fold(
                aggregates[0],
                needed=self.needed,
                metrics=self.query.metrics,
                dimensions=self.query.by,
                spine=SPINE_RELATION if grain is not None else None,
            )
            final = self._ordered(select, outputs)
        else:
            final = self._general(models, aggregates)
        return CompiledQuery(
            tree=final,
            relations=relations,
            tables=tuple(dict.fromkeys(self.sources[m.name] for m in models)),
            sources=dict(self.sources),
            rollup_refusals=dict(self.reasons),
            dimensions=self.query.by,
            metrics=self.query.metrics,
            grain=grain,
            time_range=time_range,
        )

    def _general(
        self, models: Sequence[SemanticModel], aggregates: Sequence[exp.Select]
    ) -> exp.Select:
        """The general shape: frame, base, one level per computed metric, the rows in range."""
        ctes: list[tuple[str, exp.Query]] = [
            (f"m{index}", aggregate) for index, aggregate in enumerate(aggregates)
        ]
        ctes.append(("frame", self._frame(len(aggregates))))
        ctes.append(("base", self._base(models)))
        previous = "base"
        for index, metric in enumerate(m for m in self.needed if m.kind != "simple"):
            name = f"l{index}"
            ctes.append((name, self._level(metric, previous)))
            previous = name
        outputs = [
            *([_TIME] if self.query.grain else []),
            *self.query.by,
            *self.query.metrics,
        ]
        select = exp.select(*(_col(c) for c in outputs)).from_(aliased(previous), copy=False)
        if self.query.grain is not None:
            select = select.where(_col("in_range"), copy=False)
        final = self._ordered(select, {name: _col(name) for name in outputs})
        return with_ctes(final, ctes)

    def _spine_columns(self) -> list[str]:
        """The spine columns the general shape reads: lead flags, comparisons, periods."""
        columns = [_TIME, "in_range"]
        for metric in self.needed:
            spec = metric.spec
            if isinstance(spec, PeriodOverPeriodMetric):
                if spec.compare_to == "same_period_last_year":
                    columns.append("year_ago_time")
                else:
                    columns.append("prev_time")
            elif isinstance(spec, CumulativeMetric) and spec.grain_to_date is not None:
                columns.append(f"period_{spec.grain_to_date}")
        return list(dict.fromkeys(columns))

    def _source(
        self,
        model: SemanticModel,
        condition: exp.Expr | None,
        time_range: TimeRange | None,
        data_start: datetime | None,
    ) -> exp.Select:
        """The model's aggregate, from its rollup when that is exact, else from the table."""
        plan = self.rollups.get(model.name)
        metrics = [b for b in self.bases if b.model is not None and b.model.name == model.name]
        if plan is not None:
            end = time_range.end if time_range is not None else None
            reason = rollup_refusal(
                plan,
                metrics,
                layer=self.layer,
                grain=self.query.grain,
                data_start=data_start,
                end=end,
            )
            if reason is None and self.skip is not None:
                # The part of the first bucket before the range is left out: only whole
                # rollup buckets can be.
                reason = rollup_refusal(
                    plan,
                    metrics,
                    layer=self.layer,
                    grain=self.query.grain,
                    data_start=self.skip[1],
                    end=end,
                )
            if reason is None:
                self.sources[model.name] = plan.table_key
                aggregate = rollup_aggregate(
                    plan,
                    metrics,
                    self.layer,
                    by=self.query.by,
                    grain=self.query.grain,
                    data_start=data_start,
                    end=end,
                    condition=condition,
                )
                if self.skip is not None:
                    aggregate = aggregate.where(
                        _outside_rollup(aggregate, self.skip), append=True, copy=False
                    )
                return aggregate
            self.reasons[model.name] = reason
        self.sources[model.name] = model.table_key
        return self._model_aggregate(model, condition, time_range, data_start)

    def _earliest(self, metric: Metric, first: datetime) -> datetime:
        """The first bucket whose data ``metric`` needs to answer from bucket ``first`` on."""
        grain = self.query.grain
        assert grain is not None  # noqa: S101 - only called with a grain
        spec = metric.spec
        if isinstance(spec, CumulativeMetric):
            if spec.window is not None:
                span = self._window_buckets(metric)
                for _ in range(span - 1):
                    first = shift_back(first, grain, year=False)
            elif spec.grain_to_date is not None:
                first = bucket_start(
                    bucket_start(first, spec.grain_to_date, self.layer.calendar),
                    grain,
                    self.layer.calendar,
                )
        elif isinstance(spec, PeriodOverPeriodMetric):
            first = shift_back(first, grain, year=spec.compare_to == "same_period_last_year")
        inputs = [self.layer.metrics[name] for name in metric.inputs]
        return min([first, *(self._earliest(item, first) for item in inputs)])

    def _window_buckets(self, metric: Metric) -> int:
        spec = metric.spec
        assert isinstance(spec, CumulativeMetric) and spec.window is not None  # noqa: S101
        grain = self.query.grain
        assert grain is not None  # noqa: S101
        count, unit = parse_window(spec.window)
        if unit in _FIXED_MINUTES and grain in _FIXED_MINUTES:
            total, step = count * _FIXED_MINUTES[unit], _FIXED_MINUTES[grain]
        elif unit in _MONTHS and grain in _MONTHS:
            total, step = count * _MONTHS[unit], _MONTHS[grain]
        else:
            total, step = 1, 0
        if step == 0 or total % step or total < step:
            raise MetricQueryError(
                f"{metric.name!r} sums over {spec.window}, which is not a whole number of "
                f"{grain} buckets.",
                hint="Query it at a grain that divides the window (e.g. --grain day for "
                "'7 days', --grain month for '3 months').",
                metric=metric.name,
            )
        return total // step

    def _model_aggregate(
        self,
        model: SemanticModel,
        condition: exp.Expr | None,
        time_range: TimeRange | None,
        data_start: datetime | None,
    ) -> exp.Select:
        alias = "t"

        def column(name: str) -> exp.Expr:
            return exp.column(name, table=alias, quoted=True)

        def dimension(name: str) -> exp.Expr:
            return replace_columns(model.dimensions[name].expr, column)

        grain = self.query.grain
        select = exp.select().from_(
            exp.Table(
                this=exp.to_identifier(model.table),
                db=exp.to_identifier(model.layer),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            ),
            copy=False,
        )
        groups: list[exp.Expr] = []
        if grain is not None:
            assert model.time_column is not None  # noqa: S101 - checked
            bucket = bucket_expression(
                column(model.time_column),
                grain,
                self.layer.calendar,
                is_date=model.time_is_date,
                is_naive=model.time_is_naive,
            )
            groups.append(bucket.copy())
            select = select.select(exp.alias_(bucket, _TIME, quoted=True, copy=False), copy=False)
        for name in self.query.by:
            named = exp.alias_(dimension(name), name, quoted=True, copy=False)
            select = select.select(named, copy=False)
            groups.append(dimension(name))
        metrics = [b for b in self.bases if b.model is not None and b.model.name == model.name]
        shared = self._shared_conditions(metrics, column, dimension)
        for base in metrics:
            assert base.measure is not None  # noqa: S101 - simple metrics have one
            value = aggregate(
                base, base.measure.agg, column, dimension, dialect=self.dialect, applied=shared
            )
            named = exp.alias_(value, base.name, quoted=True, copy=False)
            select = select.select(named, copy=False)
        filters: list[exp.Expr] = []
        if time_range is not None and data_start is not None:
            assert model.time_column is not None  # noqa: S101 - checked
            filters += _range_filter(
                column(model.time_column),
                time_range,
                data_start,
                skip=self.skip,
                is_date=model.time_is_date,
                is_naive=model.time_is_naive,
            )
        if condition is not None:
            filters.append(replace_columns(condition, dimension))
        filters += shared
        if filters:
            select = select.where(exp.and_(*filters, copy=False), copy=False)
        if groups:
            select = select.group_by(*groups, copy=False)
        return select

    def _shared_conditions(
        self,
        metrics: Sequence[Metric],
        column: Callable[[str], exp.Expr],
        dimension: Callable[[str], exp.Expr],
    ) -> list[exp.Expr]:
        """Row conditions every metric of one aggregate has, to apply once in its ``WHERE``.

        A row failing one counts for none of the metrics, so leaving it out changes no value;
        it can only make a group disappear. That is harmless where the group's place is kept
        regardless: without dimensions, one row without a grain (no ``GROUP BY``) or every
        bucket of the spine with one. A bucket emptied this way then shows the fill of an empty
        bucket; for sums, averages, minima, maxima and percentiles that is what an aggregate of
        no rows gives anyway (NULL, then the fill), but a count of no rows is 0, so counts
        must be filled with 0 to allow it. With dimensions, the combinations seen would change.
        """
        if self.query.by or not metrics:
            return []
        if self.query.grain is not None and any(
            m.measure is not None and m.measure.agg in _COUNTS and not m.fill_zero for m in metrics
        ):
            return []
        shared = row_conditions(metrics[0], column, dimension)
        for metric in metrics[1:]:
            others = row_conditions(metric, column, dimension)
            shared = [c for c in shared if c in others]
        return list(dict.fromkeys(shared))

    def _frame(self, model_count: int) -> exp.Query:
        dims = self.query.by
        combos: exp.Query | None = None
        if dims:
            for index in range(model_count):
                part = exp.select(*(_col(d) for d in dims)).from_(aliased(f"m{index}"), copy=False)
                combos = part if combos is None else exp.union(combos, part, distinct=True)
            assert combos is not None  # noqa: S101
            combos = (
                exp.select(*(_col(d) for d in dims))
                .from_(combos.subquery("c", copy=False), copy=False)
                .distinct(copy=False)
            )
        if self.query.grain is None:
            if combos is not None:
                return combos
            return exp.select(exp.alias_(exp.Literal.number(1), "one", quoted=True))
        spine = exp.select(exp.Star()).from_(aliased(SPINE_RELATION), copy=False)
        if combos is None:
            return spine
        frame = exp.select(exp.Star()).from_(spine.subquery("s", copy=False), copy=False)
        frame.append("joins", cross_join(combos.subquery("d", copy=False)))
        return frame

    def _base(self, models: Sequence[SemanticModel]) -> exp.Select:
        keys = ([_TIME] if self.query.grain else []) + list(self.query.by)
        select = exp.select(_star("f")).from_(aliased("frame", "f"), copy=False)
        for index, model in enumerate(models):
            alias = f"a{index}"
            on: exp.Expr = exp.true()
            if keys:
                on = exp.and_(
                    *(
                        exp.NullSafeEQ(
                            this=metric_column(k, alias), expression=metric_column(k, "f")
                        )
                        for k in keys
                    )
                )
            select.append("joins", left_join(aliased(f"m{index}", alias), on))
            for base in self.bases:
                if base.model is None or base.model.name != model.name:
                    continue
                value: exp.Expr = metric_column(base.name, alias)
                if base.fill_zero:
                    zero = exp.Literal.number(0)
                    value = exp.Coalesce(this=value, expressions=[zero])
                select = select.select(exp.alias_(value, base.name, quoted=True), copy=False)
        return select

    def _level(self, metric: Metric, previous: str) -> exp.Select:
        spec = metric.spec
        if isinstance(spec, PeriodOverPeriodMetric):
            return self._period_over_period(metric, spec, previous)
        select = exp.select(exp.Star()).from_(aliased(previous), copy=False)
        if metric.kind == "ratio":
            numerator, denominator = metric.inputs[0], metric.inputs[-1]
            value: exp.Expr = divide(_col(numerator), _col(denominator))
        elif metric.kind == "derived":
            assert metric.formula is not None  # noqa: S101
            value = safe_division(replace_columns(metric.formula, _col))
            value = exp.cast(value, DOUBLE)
        else:
            assert isinstance(spec, CumulativeMetric)  # noqa: S101
            value = self._cumulative(metric, spec)
        return select.select(exp.alias_(value, metric.name, quoted=True), copy=False)

    def _cumulative(self, metric: Metric, spec: CumulativeMetric) -> exp.Expr:
        base = self.layer.metrics[spec.metric]
        partition = [exp.column(d, quoted=True) for d in self.query.by]
        if spec.window is not None:
            span = self._window_buckets(metric)
            frame = exp.WindowSpec(
                kind="ROWS",
                start=exp.Literal.number(span - 1) if span > 1 else "CURRENT ROW",
                start_side="PRECEDING" if span > 1 else None,
                end="CURRENT ROW",
            )
            in_range_only = False
        else:
            if spec.grain_to_date is not None:
                partition.append(exp.column(f"period_{spec.grain_to_date}", quoted=True))
            frame = exp.WindowSpec(
                kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
            )
            in_range_only = spec.grain_to_date is None

        def running(name: str) -> exp.Expr:
            source = self.layer.metrics[name]
            agg = source.measure.agg if source.measure is not None else "sum"
            value: exp.Expr = _col(name)
            if in_range_only:
                value = exp.Case(ifs=[exp.If(this=exp.column("in_range", quoted=True), true=value)])
            func: exp.Expr
            if agg == "min":
                func = exp.Min(this=value)
            elif agg == "max":
                func = exp.Max(this=value)
            else:
                func = exp.Sum(this=value)
            window = exp.Window(
                this=func,
                partition_by=[p.copy() for p in partition] or None,
                order=exp.Order(expressions=[exp.Ordered(this=exp.column(_TIME, quoted=True))]),
                spec=frame.copy(),
            )
            cast = _BIGINT if agg == "count" else DOUBLE
            return exp.cast(window, cast) if agg not in ("min", "max") else window

        if base.kind == "ratio":
            return divide(running(base.inputs[0]), running(base.inputs[-1]))
        return running(base.name)

    def _period_over_period(
        self, metric: Metric, spec: PeriodOverPeriodMetric, previous: str
    ) -> exp.Select:
        keys = [_col(d) for d in self.query.by]
        shift = "year_ago_time" if spec.compare_to == "same_period_last_year" else "prev_time"
        on = exp.and_(
            exp.EQ(this=metric_column(_TIME, "p"), expression=metric_column(shift, "c")),
            *(
                exp.NullSafeEQ(
                    this=metric_column(k.name, "p"), expression=metric_column(k.name, "c")
                )
                for k in keys
            ),
        )
        now = metric_column(spec.metric, "c")
        then = metric_column(spec.metric, "p")
        if spec.output == "value":
            value: exp.Expr = exp.cast(then, DOUBLE)
        elif spec.output == "delta":
            value = exp.cast(exp.Sub(this=now, expression=then), DOUBLE)
        else:
            value = divide(exp.Sub(this=now, expression=then), then)
        select = exp.select(_star("c"), exp.alias_(value, metric.name, quoted=True)).from_(
            aliased(previous, "c"), copy=False
        )
        select.append("joins", left_join(aliased(previous, "p"), on))
        return select

    def _ordered(self, select: exp.Select, outputs: Mapping[str, exp.Expr]) -> exp.Select:
        """``select`` ordered as asked (then by time and dimensions) and limited.

        ``outputs`` gives, per result column, the expression to order it by.
        """
        names = list(outputs)
        order = []
        for key in self.query.order:
            if key.column not in outputs:
                raise MetricQueryError(
                    f"Cannot order by {key.column!r}: it is not a column of the result.",
                    hint=f"Order by one of: {', '.join(names)} (prefix - for descending).",
                )
            order.append(
                exp.Ordered(this=outputs[key.column].copy(), desc=key.descending, nulls_first=False)
            )
        named = {key.column for key in self.query.order}
        columns = ([_TIME] if self.query.grain else []) + list(self.query.by)
        order += [
            exp.Ordered(this=outputs[c].copy(), nulls_first=True) for c in columns if c not in named
        ]
        if order:
            select.set("order", exp.Order(expressions=order))
        if self.query.limit is not None:
            select.set("limit", exp.Limit(expression=exp.Literal.number(self.query.limit)))
        return select


def _star(table: str) -> exp.Column:
    return exp.Column(this=exp.Star(), table=exp.to_identifier(table))


def _col(name: str) -> exp.Column:
    return metric_column(name)


def _outside_rollup(aggregate: exp.Select, skip: tuple[datetime, datetime]) -> exp.Expr:
    """A rollup's buckets (local wall-clock starts) outside the local span ``skip``."""
    source = aggregate.find(exp.Table)
    assert source is not None  # noqa: S101 - a rollup aggregate reads its table
    bucket = exp.column(_TIME, table=source.alias_or_name, quoted=True)
    stamp = exp.DataType(this=exp.DataType.Type.TIMESTAMP)
    return exp.or_(
        exp.LT(this=bucket, expression=exp.cast(exp.Literal.string(str(skip[0])), stamp)),
        exp.GTE(this=bucket.copy(), expression=exp.cast(exp.Literal.string(str(skip[1])), stamp)),
    )


def _range_filter(
    column: exp.Expr,
    time_range: TimeRange,
    start: datetime,
    *,
    skip: tuple[datetime, datetime] | None,
    is_date: bool,
    is_naive: bool,
) -> list[exp.Expr]:
    """Rows from the local time ``start`` to the range's end, less the local span ``skip``."""

    def bound(moment: datetime, *, whole_day: bool = False) -> exp.Expr:
        if is_date:
            # A date row is the whole day: a bound inside a day keeps that day, except at the
            # (exclusive) end, where the day the range ends in is kept too.
            day = moment.date()
            if whole_day and moment.time() != time():
                day += timedelta(days=1)
            return exp.cast(
                exp.Literal.string(day.isoformat()), exp.DataType(this=exp.DataType.Type.DATE)
            )
        instant = time_range.utc(moment)
        if is_naive:
            text = instant.replace(tzinfo=None).isoformat(sep=" ")
            return exp.cast(
                exp.Literal.string(text), exp.DataType(this=exp.DataType.Type.TIMESTAMP)
            )
        return exp.cast(
            exp.Literal.string(instant.isoformat(sep=" ")),
            exp.DataType(this=exp.DataType.Type.TIMESTAMPTZ),
        )

    filters: list[exp.Expr] = [
        exp.GTE(this=column.copy(), expression=bound(start)),
        exp.LT(this=column.copy(), expression=bound(time_range.end, whole_day=True)),
    ]
    if skip is not None:
        filters.append(
            exp.or_(
                exp.LT(this=column.copy(), expression=bound(skip[0])),
                exp.GTE(this=column.copy(), expression=bound(skip[1])),
            )
        )
    return filters
