"""A measure as an SQL aggregate: its value, its filters, its aggregation, typed alike everywhere.

Shared by the query compiler (raw tables) and the rollups (partial states): both must aggregate a
metric's rows the same way for rollup answers to equal raw ones. Counts are BIGINT; sums,
averages and percentiles DOUBLE; minima and maxima keep the column's type.
"""

from collections.abc import Callable

from sqlglot import exp

from gnomon.semantic.expressions import replace_columns
from gnomon.semantic.layer import Metric

__all__ = ["aggregate"]


def aggregate(
    metric: Metric,
    agg: str,
    column: Callable[[str], exp.Expr],
    dimension: Callable[[str], exp.Expr],
    *,
    dialect: str,
) -> exp.Expr:
    """``agg`` of a simple metric's measure over the rows its measure and metric filters keep."""
    measure = metric.measure
    assert measure is not None  # noqa: S101 - only simple metrics have a measure
    conditions = []
    if measure.filter is not None:
        conditions.append(replace_columns(measure.filter, column))
    if metric.filter is not None:
        conditions.append(replace_columns(metric.filter, dimension))
    value: exp.Expr = (
        replace_columns(measure.expr, column) if measure.expr is not None else exp.Literal.number(1)
    )
    if conditions:
        value = exp.Case(ifs=[exp.If(this=exp.and_(*conditions), true=value)])
    double = exp.DataType(this=exp.DataType.Type.DOUBLE)
    bigint = exp.DataType(this=exp.DataType.Type.BIGINT)
    if agg == "count":
        if measure.expr is None and not conditions:
            return exp.cast(exp.Count(this=exp.Star()), bigint)
        return exp.cast(exp.Count(this=value), bigint)
    if agg == "count_distinct":
        return exp.cast(exp.Count(this=exp.Distinct(expressions=[value])), bigint)
    if agg == "sum":
        return exp.cast(exp.Sum(this=value), double)
    if agg == "avg":
        return exp.cast(exp.Avg(this=exp.cast(value, double)), double)
    if agg == "min":
        return exp.Min(this=value)
    if agg == "max":
        return exp.Max(this=value)
    fraction = 0.5 if agg == "median" else float(measure.percentile or 0.5)
    numeric = exp.cast(value, double)
    if dialect == "spark":
        call: exp.Expr = exp.Anonymous(
            this="percentile", expressions=[numeric, exp.Literal.number(fraction)]
        )
    else:
        call = exp.PercentileCont(this=numeric, expression=exp.Literal.number(fraction))
    return exp.cast(call, double)
