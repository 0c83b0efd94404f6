"""The project's definitions, resolved and checked as a whole.

Files are checked one by one for shape (:mod:`gnomon.semantic.definitions`); here the names are
resolved across all of them: every metric's measure, numerator, base metric and formula must
name something defined, derived metrics must not form a cycle, and every column must exist in
the lake table the model reads. All problems are collected and reported together, each with the
file and key it is about.
"""

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ValidationError
from sqlglot import exp

from gnomon.semantic.definitions import (
    CalendarSpec,
    CumulativeMetric,
    DerivedMetric,
    MetricSpec,
    PeriodOverPeriodMetric,
    RatioMetric,
    SemanticModelSpec,
    SimpleMetric,
    validate_metric,
)
from gnomon.semantic.errors import DefinitionError, DefinitionIssue, UnknownMetric
from gnomon.semantic.expressions import ExpressionProblem, columns_of, parse_expression
from gnomon.specfiles import SpecIssue, issues_from

__all__ = [
    "Definition",
    "DefinitionKind",
    "Dimension",
    "Measure",
    "Metric",
    "SemanticLayer",
    "SemanticModel",
    "build_layer",
]

DefinitionKind = Literal["semantic_model", "metric", "calendar"]
_M = TypeVar("_M", bound=BaseModel)
_ADDITIVE = frozenset({"sum", "count", "min", "max"})
"""Aggregations whose per-bucket values can be combined over a window of buckets."""


@dataclass(frozen=True, slots=True)
class Definition:
    """One named definition as stored: its kind, its YAML content and where it came from."""

    kind: DefinitionKind
    name: str
    spec: Mapping[str, Any]
    source: str = "<definitions>"


@dataclass(frozen=True, slots=True)
class Dimension:
    """A dimension of a model, as an expression over the model's columns."""

    name: str
    expr: exp.Expr
    parent: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Measure:
    """An aggregation of a model's rows."""

    name: str
    agg: str
    expr: exp.Expr | None
    filter: exp.Expr | None
    percentile: float | None


@dataclass(frozen=True, slots=True)
class SemanticModel:
    """A lake table as metrics read it."""

    name: str
    layer: str
    table: str
    time_column: str | None
    time_is_date: bool
    dimensions: Mapping[str, Dimension]
    measures: Mapping[str, Measure]
    spec: SemanticModelSpec
    source: str
    time_is_naive: bool = False
    """Whether the time column is a timestamp without zone (read as UTC wall-clock time)."""

    @property
    def table_key(self) -> str:
        """``layer.name`` of the table."""
        return f"{self.layer}.{self.table}"


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric with its references resolved."""

    name: str
    spec: MetricSpec
    source: str
    model: SemanticModel | None = None
    """For simple metrics: the model the measure belongs to."""
    measure: Measure | None = None
    filter: exp.Expr | None = None
    """For simple metrics: the condition over dimension names."""
    formula: exp.Expr | None = None
    """For derived metrics: the formula over metric names."""
    inputs: tuple[str, ...] = ()
    """The metrics this one is computed from."""

    @property
    def kind(self) -> str:
        """``simple``, ``ratio``, ``derived``, ``cumulative`` or ``period_over_period``."""
        return self.spec.type

    @property
    def fill_zero(self) -> bool:
        """Whether an empty bucket shows 0 rather than NULL."""
        if self.spec.fill is not None:
            return self.spec.fill == "zero"
        return self.measure is not None and self.measure.agg in ("sum", "count", "count_distinct")


@dataclass(frozen=True)
class SemanticLayer:
    """Every model and metric of a tenant, resolved; the input of the query compiler."""

    models: Mapping[str, SemanticModel]
    metrics: Mapping[str, Metric]
    calendar: CalendarSpec = field(default_factory=CalendarSpec)

    def metric(self, name: str) -> Metric:
        """The metric called ``name``.

        Raises:
            UnknownMetric: there is none; the hint suggests close names.
        """
        found = self.metrics.get(name)
        if found is None:
            raise UnknownMetric(
                f"No metric is called {name!r}.",
                hint=_suggest(name, self.metrics) or "See `gnomon metrics list`.",
                metric=name,
            )
        return found

    def base_metrics(self, name: str) -> list[Metric]:
        """The simple metrics ``name`` is ultimately computed from, in first-use order."""
        found: dict[str, Metric] = {}

        def visit(metric: Metric) -> None:
            if metric.kind == "simple":
                found.setdefault(metric.name, metric)
            for item in metric.inputs:
                visit(self.metrics[item])

        visit(self.metric(name))
        return list(found.values())

    def dimensions_of(self, name: str) -> list[str]:
        """The dimensions every model behind the metric has: the ones it can be sliced by."""
        common: list[str] | None = None
        for base in self.base_metrics(name):
            assert base.model is not None  # noqa: S101 - simple metrics have a model
            names = list(base.model.dimensions)
            common = names if common is None else [n for n in common if n in names]
        return common or []

    def hierarchy(self, model: str) -> list[list[str]]:
        """Each drill path of a model's dimensions, top level first (``region → country``)."""
        dims = self.models[model].dimensions
        leaves = [d for d in dims if not any(o.parent == d for o in dims.values())]
        paths = []
        for leaf in leaves:
            path = [leaf]
            while dims[path[0]].parent is not None:
                path.insert(0, str(dims[path[0]].parent))
            if len(path) > 1:
                paths.append(path)
        return paths


def build_layer(
    definitions: Iterable[Definition], *, tables: Mapping[str, pa.Schema]
) -> SemanticLayer:
    """Resolve and check definitions against the lake tables' schemas (``layer.name`` → schema).

    Raises:
        DefinitionError: anything does not resolve; every problem is listed with its file.
    """
    builder = _Builder(tables)
    return builder.build(list(definitions))


class _Builder:
    def __init__(self, tables: Mapping[str, pa.Schema]) -> None:
        self._tables = tables
        self._issues: list[DefinitionIssue] = []
        self._broken_models: set[str] = set()
        """Models with problems of their own: metrics on them are not reported again."""

    def problem(self, source: str, path: str, message: str, valid: Sequence[str] = ()) -> None:
        self._issues.append(DefinitionIssue(source, SpecIssue(path, message, tuple(valid))))

    def build(self, definitions: list[Definition]) -> SemanticLayer:
        models_raw: dict[str, tuple[SemanticModelSpec, str]] = {}
        metrics_raw: dict[str, tuple[MetricSpec, str]] = {}
        calendar: tuple[CalendarSpec, str] | None = None
        for item in definitions:
            if item.kind == "semantic_model":
                spec = self._validate(item, SemanticModelSpec, f"semantic_models.{item.name}")
                if spec is None:
                    self._broken_models.add(item.name)
                elif self._unique(item, models_raw):
                    models_raw[item.name] = (spec, item.source)
            elif item.kind == "metric":
                metric = self._validate_metric(item)
                if metric is not None and self._unique(item, metrics_raw):
                    metrics_raw[item.name] = (metric, item.source)
            else:
                cal = self._validate(item, CalendarSpec, "calendar")
                if cal is not None:
                    if calendar is not None:
                        self.problem(
                            item.source,
                            "calendar",
                            f"the calendar is also defined in {calendar[1]}; define it once",
                        )
                    else:
                        calendar = (cal, item.source)
        models: dict[str, SemanticModel] = {}
        for name, (spec, source) in models_raw.items():
            model = self._model(name, spec, source)
            if model is None:
                self._broken_models.add(name)
            else:
                models[name] = model
        metrics = self._metrics(metrics_raw, models)
        layer = SemanticLayer(
            models=models,
            metrics=metrics,
            calendar=calendar[0] if calendar is not None else CalendarSpec(),
        )
        self._check_monitors(layer)
        if self._issues:
            raise DefinitionError(self._issues)
        return layer

    def _check_monitors(self, layer: SemanticLayer) -> None:
        """The dimensions a metric's ``monitor`` names must be ones it can be sliced by."""
        for resolved in layer.metrics.values():
            monitor = resolved.spec.monitor
            named = [*(monitor.dimensions or ()), *(d for pair in monitor.pairs for d in pair)]
            known = layer.dimensions_of(resolved.name) if named else []
            for name in dict.fromkeys(named):
                if name not in known:
                    self.problem(
                        resolved.source,
                        f"metrics.{resolved.name}.monitor",
                        f"{name!r} is not a dimension of {resolved.name!r}",
                        known,
                    )

    # ------------------------------------------------------------ per definition

    def _validate(self, item: Definition, model: type[_M], prefix: str) -> _M | None:
        try:
            return model.model_validate(dict(item.spec))
        except ValidationError as exc:
            for issue in issues_from(exc.errors(), model):
                path = ".".join(p for p in (prefix, issue.path) if p)
                self.problem(item.source, path, issue.message, issue.valid)
            return None

    def _validate_metric(self, item: Definition) -> MetricSpec | None:
        spec, issues = validate_metric(item.name, dict(item.spec))
        for issue in issues:
            self.problem(item.source, issue.path, issue.message, issue.valid)
        return spec

    def _unique(self, item: Definition, seen: Mapping[str, tuple[Any, str]]) -> bool:
        if item.name in seen:
            section = "semantic_models" if item.kind == "semantic_model" else "metrics"
            self.problem(
                item.source,
                f"{section}.{item.name}",
                f"{item.name!r} is also defined in {seen[item.name][1]}; names must be unique",
            )
            return False
        return True

    # ------------------------------------------------------------ models

    def _model(self, name: str, spec: SemanticModelSpec, source: str) -> SemanticModel | None:
        prefix = f"semantic_models.{name}"
        layer, _, table = spec.table.partition(".")
        schema = self._tables.get(spec.table)
        if schema is None:
            self.problem(
                source,
                f"{prefix}.table",
                f"{spec.table} does not exist (yet): load or build it first, or check the name",
                sorted(self._tables),
            )
            return None
        columns = {f.name: f.type for f in schema if not f.name.startswith("_")}
        before = len(self._issues)
        time_column = spec.time.column if spec.time is not None else None
        time_is_date = self._time(source, prefix, spec, columns)
        time_type = columns.get(time_column) if time_column is not None else None
        time_is_naive = time_type is not None and _is_naive_timestamp(time_type)
        dimensions = self._dimensions(source, prefix, spec, columns)
        self._parent_cycles(source, prefix, spec)
        measures = self._measures(source, prefix, spec, columns)
        if len(self._issues) > before:
            return None
        return SemanticModel(
            name=name,
            layer=layer,
            table=table,
            time_column=time_column,
            time_is_date=time_is_date,
            dimensions=dimensions,
            measures=measures,
            spec=spec,
            source=source,
            time_is_naive=time_is_naive,
        )

    def _time(
        self,
        source: str,
        prefix: str,
        spec: SemanticModelSpec,
        columns: Mapping[str, pa.DataType],
    ) -> bool:
        """Check the time column; whether it is a date (rather than a timestamp)."""
        if spec.time is None:
            return False
        kind = columns.get(spec.time.column)
        if kind is None:
            self.problem(
                source,
                f"{prefix}.time.column",
                f"{spec.time.column!r} is not a column of {spec.table}",
                sorted(columns),
            )
            return False
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            self.problem(
                source,
                f"{prefix}.time.column",
                f"{spec.time.column!r} is {kind}, not a timestamp or date",
            )
            return False
        return bool(pa.types.is_date(kind))

    def _dimensions(
        self,
        source: str,
        prefix: str,
        spec: SemanticModelSpec,
        columns: Mapping[str, pa.DataType],
    ) -> dict[str, Dimension]:
        dimensions: dict[str, Dimension] = {}
        for dim_name, dim in spec.dimensions.items():
            path = f"{prefix}.dimensions.{dim_name}"
            text = dim.expr if dim.expr is not None else (dim.column or dim_name)
            where = path + (".expr" if dim.expr else ".column")
            tree = self._expression(source, where, text, columns, spec.table)
            if dim.parent is not None and dim.parent not in spec.dimensions:
                self.problem(
                    source,
                    f"{path}.parent",
                    f"{dim.parent!r} is not a dimension of this model",
                    sorted(spec.dimensions),
                )
            if tree is not None:
                dimensions[dim_name] = Dimension(dim_name, tree, dim.parent, dim.description)
        return dimensions

    def _measures(
        self,
        source: str,
        prefix: str,
        spec: SemanticModelSpec,
        columns: Mapping[str, pa.DataType],
    ) -> dict[str, Measure]:
        measures: dict[str, Measure] = {}
        for measure_name, measure in spec.measures.items():
            path = f"{prefix}.measures.{measure_name}"
            value = filter_ = None
            if measure.expr is not None:
                value = self._expression(source, f"{path}.expr", measure.expr, columns, spec.table)
                if value is not None and measure.agg in ("sum", "avg", "median", "percentile"):
                    self._numeric(source, f"{path}.expr", value, columns, measure.agg)
            if measure.filter is not None:
                filter_ = self._expression(
                    source, f"{path}.filter", measure.filter, columns, spec.table
                )
            measures[measure_name] = Measure(
                measure_name, measure.agg, value, filter_, measure.percentile
            )
        return measures

    def _parent_cycles(self, source: str, prefix: str, spec: SemanticModelSpec) -> None:
        for start in spec.dimensions:
            seen = [start]
            current = spec.dimensions[start].parent
            while current is not None and current in spec.dimensions:
                if current == start:
                    self.problem(
                        source,
                        f"{prefix}.dimensions.{start}.parent",
                        "the parents form a cycle: " + " → ".join([*seen, start]),
                    )
                    break
                if current in seen:
                    break
                seen.append(current)
                current = spec.dimensions[current].parent

    def _expression(
        self,
        source: str,
        path: str,
        text: str,
        columns: Mapping[str, pa.DataType],
        table: str,
    ) -> exp.Expr | None:
        try:
            tree = parse_expression(text, what="expression")
        except ExpressionProblem as exc:
            self.problem(source, path, str(exc))
            return None
        unknown = [c for c in columns_of(tree) if c not in columns]
        for column in unknown:
            close = difflib.get_close_matches(column, list(columns), n=3)
            self.problem(
                source,
                path,
                f"{column!r} is not a column of {table}"
                + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""),
                sorted(columns) if not close else (),
            )
        return None if unknown else tree

    def _numeric(
        self,
        source: str,
        path: str,
        tree: exp.Expr,
        columns: Mapping[str, pa.DataType],
        agg: str,
    ) -> None:
        if isinstance(tree, exp.Column):
            kind = columns[tree.name]
            if not (
                pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            ):
                self.problem(
                    source, path, f"agg {agg!r} needs a number, but {tree.name!r} is {kind}"
                )

    # ------------------------------------------------------------ metrics

    def _metrics(
        self,
        raw: Mapping[str, tuple[MetricSpec, str]],
        models: Mapping[str, SemanticModel],
    ) -> dict[str, Metric]:
        resolved: dict[str, Metric] = {}
        for name, (spec, source) in raw.items():
            metric = self._metric(name, spec, source, raw, models)
            if metric is not None:
                resolved[name] = metric
        self._cycles(resolved)
        for name, metric in resolved.items():
            self._cumulative_base(metric, resolved)
            if metric.kind != "simple":
                self._common_dimensions(name, metric, resolved)
        return resolved

    def _metric(
        self,
        name: str,
        spec: MetricSpec,
        source: str,
        raw: Mapping[str, tuple[MetricSpec, str]],
        models: Mapping[str, SemanticModel],
    ) -> Metric | None:
        if isinstance(spec, SimpleMetric):
            return self._simple(name, spec, source, models)
        return self._composite(name, spec, source, raw)

    def _simple(
        self,
        name: str,
        spec: SimpleMetric,
        source: str,
        models: Mapping[str, SemanticModel],
    ) -> Metric | None:
        prefix = f"metrics.{name}"
        model_name, _, measure_name = spec.measure.partition(".")
        model = models.get(model_name)
        if model is None:
            if model_name not in self._broken_models:
                self.problem(
                    source,
                    f"{prefix}.measure",
                    f"{model_name!r} is not a semantic model",
                    sorted(models),
                )
            return None
        measure = model.measures.get(measure_name)
        if measure is None:
            self.problem(
                source,
                f"{prefix}.measure",
                f"{measure_name!r} is not a measure of {model_name!r}",
                sorted(model.measures),
            )
            return None
        condition = None
        if spec.filter is not None:
            try:
                condition = parse_expression(spec.filter, what="filter")
            except ExpressionProblem as exc:
                self.problem(source, f"{prefix}.filter", str(exc))
                return None
            unknown = [c for c in columns_of(condition) if c not in model.dimensions]
            for column in unknown:
                self.problem(
                    source,
                    f"{prefix}.filter",
                    f"{column!r} is not a dimension of {model_name!r}",
                    sorted(model.dimensions),
                )
            if unknown:
                return None
        return Metric(name, spec, source, model=model, measure=measure, filter=condition)

    def _composite(
        self,
        name: str,
        spec: MetricSpec,
        source: str,
        raw: Mapping[str, tuple[MetricSpec, str]],
    ) -> Metric | None:
        prefix = f"metrics.{name}"
        inputs: list[tuple[str, str]] = []
        formula = None
        if isinstance(spec, RatioMetric):
            inputs = [("numerator", spec.numerator), ("denominator", spec.denominator)]
        elif isinstance(spec, CumulativeMetric | PeriodOverPeriodMetric):
            inputs = [("metric", spec.metric)]
        elif isinstance(spec, DerivedMetric):
            try:
                formula = parse_expression(spec.expr, what="formula")
            except ExpressionProblem as exc:
                self.problem(source, f"{prefix}.expr", str(exc))
                return None
            inputs = [("expr", column) for column in columns_of(formula)]
            if not inputs:
                self.problem(source, f"{prefix}.expr", "the formula uses no metric")
                return None
        missing = False
        for key, other in inputs:
            if other not in raw:
                missing = True
                close = difflib.get_close_matches(other, list(raw), n=3)
                self.problem(
                    source,
                    f"{prefix}.{key}",
                    f"{other!r} is not a metric"
                    + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""),
                )
        if missing:
            return None
        return Metric(
            name, spec, source, formula=formula, inputs=tuple(dict.fromkeys(o for _, o in inputs))
        )

    def _cycles(self, metrics: dict[str, Metric]) -> None:
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2 or name not in metrics:
                return
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    metric = metrics[name]
                    self.problem(
                        metric.source,
                        f"metrics.{name}",
                        "metrics depend on each other in a cycle: " + " → ".join(cycle),
                    )
                return
            state[name] = 1
            for item in metrics[name].inputs:
                visit(item, [*path, name])
            state[name] = 2

        for name in list(metrics):
            visit(name, [])
        for key in reported:
            for name in key:
                metrics.pop(name, None)

    def _cumulative_base(self, metric: Metric, metrics: Mapping[str, Metric]) -> None:
        if not isinstance(metric.spec, CumulativeMetric):
            return
        base = metrics.get(metric.spec.metric)
        if base is None:
            return
        parts = [base]
        if base.kind == "ratio":
            parts = [metrics[i] for i in base.inputs if i in metrics]
        for part in parts:
            if part.kind != "simple" or part.measure is None or part.measure.agg not in _ADDITIVE:
                agg = part.measure.agg if part.measure is not None else part.kind
                self.problem(
                    metric.source,
                    f"metrics.{metric.name}.metric",
                    f"{part.name!r} ({agg}) cannot be totalled over time buckets; a cumulative "
                    "metric needs a sum, count, min or max metric, or a ratio of such metrics",
                )

    def _common_dimensions(self, name: str, metric: Metric, metrics: Mapping[str, Metric]) -> None:
        """Metrics from several models must share their time: each model needs a time column."""
        del name
        seen: set[str] = set()
        stack = list(metric.inputs)
        while stack:
            current = metrics.get(stack.pop())
            if current is None or current.name in seen:
                continue
            seen.add(current.name)
            stack.extend(current.inputs)
            if isinstance(current.spec, CumulativeMetric | PeriodOverPeriodMetric):
                continue
        if isinstance(metric.spec, CumulativeMetric | PeriodOverPeriodMetric):
            for base_name in seen | {metric.name}:
                base = metrics.get(base_name)
                if base is not None and base.model is not None and base.model.time_column is None:
                    self.problem(
                        metric.source,
                        f"metrics.{metric.name}",
                        f"{metric.spec.type} metrics need time, but model "
                        f"{base.model.name!r} has no 'time:' column",
                    )
                    return


def _is_naive_timestamp(kind: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(kind)) and getattr(kind, "tz", None) is None


def _suggest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f"Did you mean {', '.join(map(repr, close))}?" if close else None
