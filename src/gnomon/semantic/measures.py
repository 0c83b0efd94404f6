"""A measure as an SQL aggregate: its value, its filters, its aggregation, typed alike everywhere.

Shared by the query compiler (raw tables) and the rollups (partial states): both must aggregate a
metric's rows the same way for rollup answers to equal raw ones. Counts are BIGINT; sums,
averages and percentiles DOUBLE; minima and maxima keep the column's type.
"""

from collections.abc import Callable, Collection
from typing import Literal

from sqlglot import exp

from gnomon.semantic.expressions import replace_columns
from gnomon.semantic.layer import Metric

__all__ = ["aggregate", "row_conditions"]


def row_conditions(
    metric: Metric,
    column: Callable[[str], exp.Expr],
    dimension: Callable[[str], exp.Expr],
) -> list[exp.Expr]:
    """The conditions (ANDed) a row must meet to count for a simple metric, split at each AND.

    They are the measure's filter over the model's columns and the metric's over its dimensions;
    split so that a condition every metric of one aggregate shares can move into its ``WHERE``.
    """
    measure = metric.measure
    assert measure is not None  # noqa: S101 - only simple metrics have a measure
    found: list[exp.Expr] = []
    if measure.filter is not None:
        found += _conjuncts(replace_columns(measure.filter, column))
    if metric.filter is not None:
        found += _conjuncts(replace_columns(metric.filter, dimension))
    return found


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    inner = condition.unnest()
    if isinstance(inner, exp.And):
        return [*_conjuncts(inner.left), *_conjuncts(inner.right)]
    return [inner]


def aggregate(
    metric: Metric,
    agg: str,
    column: Callable[[str], exp.Expr],
    dimension: Callable[[str], exp.Expr],
    *,
    dialect: str,
    applied: Collection[exp.Expr] = (),
) -> exp.Expr:
    """``agg`` of a simple metric's measure over the rows its measure and metric filters keep.

    ``applied`` are conditions of :func:`row_conditions` the rows are already known to meet
    (the aggregate's ``WHERE`` holds them); they are left out of the aggregate.
    """
    measure = metric.measure
    assert measure is not None  # noqa: S101 - only simple metrics have a measure
    conditions = [c for c in row_conditions(metric, column, dimension) if c not in applied]
    value: exp.Expr = (
        replace_columns(measure.expr, column) if measure.expr is not None else exp.Star()
    )
    if agg == "count":
        return _typed(_only(exp.Count(this=value), conditions), "bigint")
    if agg == "count_distinct":
        counted = exp.Count(this=exp.Distinct(expressions=[value]))
        return _typed(_only(counted, conditions), "bigint")
    if agg == "sum":
        return _typed(_only(exp.Sum(this=value), conditions), "double")
    if agg == "avg":
        average = exp.Avg(this=_typed(value, "double"))
        return _typed(_only(average, conditions), "double")
    if agg == "min":
        return _only(exp.Min(this=value), conditions)
    if agg == "max":
        return _only(exp.Max(this=value), conditions)
    fraction = 0.5 if agg == "median" else float(measure.percentile or 0.5)
    numeric = _typed(value, "double")
    if dialect == "spark":
        call: exp.Expr = exp.Anonymous(
            this="percentile", expressions=[numeric, exp.Literal.number(fraction)]
        )
    else:
        call = exp.PercentileCont(this=numeric, expression=exp.Literal.number(fraction))
    return _typed(_only(call, conditions), "double")


def _typed(value: exp.Expr, kind: Literal["double", "bigint"]) -> exp.Expr:
    """``CAST(value AS kind)`` around a fresh ``value`` (not copied: trees are built once)."""
    to = exp.DataType.Type.DOUBLE if kind == "double" else exp.DataType.Type.BIGINT
    return exp.cast(value, exp.DataType(this=to), copy=False)


def _only(call: exp.Expr, conditions: list[exp.Expr]) -> exp.Expr:
    """The aggregate over the rows meeting ``conditions``: ``FILTER (WHERE …)``.

    DuckDB, PostgreSQL and Spark all read the clause; DuckDB skips the rows outright, where
    ``agg(CASE WHEN … THEN x END)`` evaluates a CASE per row (3-8 % slower on the demo's
    queries). Every aggregation used ignores NULLs, so the two give the same values.
    """
    if not conditions:
        return call
    return exp.Filter(this=call, expression=exp.Where(this=exp.and_(*conditions, copy=False)))
