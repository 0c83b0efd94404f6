"""The folded shape: a query of one semantic model whose metrics read no earlier buckets.

Most dashboard queries are one model's simple metrics, ratios and formulas, which need the rows
of their own bucket only. Such a query compiles to what a person would write: one ``GROUP BY``
over the model's rows (the time range and every filter all the metrics share in its ``WHERE``)
and one ``SELECT`` over it, instead of the general shape's frame, base and one layer per
computed metric (see :mod:`gnomon.semantic.compiler`). Nothing else changes:

* with a grain, the spine (its ``time`` only: with no lead every bucket is in range) is
  left-joined to the aggregate, so a bucket without rows still appears, filled as each metric
  declares; with dimensions too, every combination seen appears in every bucket, as in the
  general shape's frame (the aggregate is then a CTE, read twice);
* without a grain the aggregate already has one row per combination (one row in all without
  dimensions), so it is read as it is;
* empty values are filled before ratios and formulas are computed from them, in the same
  expressions the general shape's layers use, so the answers are identical.
"""

from collections.abc import Mapping, Sequence

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
from gnomon.semantic.expressions import replace_columns
from gnomon.semantic.layer import Metric

__all__ = ["FOLDABLE_KINDS", "fold", "metric_values"]

FOLDABLE_KINDS = frozenset({"simple", "ratio", "derived"})
"""Metric kinds computed from their own bucket's rows alone."""

_TIME = "time"
_AGGREGATE = "a0"
_CTE = "m0"
_SPINE = "s"
_COMBINATIONS = "d"


def fold(
    aggregate: exp.Select,
    *,
    needed: Sequence[Metric],
    metrics: Sequence[str],
    dimensions: Sequence[str],
    spine: str | None,
) -> tuple[exp.Select, dict[str, exp.Expr]]:
    """The query's ``SELECT`` over ``aggregate`` (one model's), and each output's expression.

    ``needed`` are the metrics in dependency order (inputs first), all of
    :data:`FOLDABLE_KINDS`; ``metrics`` the ones to return. ``spine`` names the spine relation
    when the query has a grain. The expressions (by output name) are for ordering by: the
    outputs' names may also be the aggregate's columns, which dialects resolve differently.
    """
    outputs: dict[str, exp.Expr] = {}
    if spine is None:
        source: exp.Expr = aggregate.subquery(_AGGREGATE, copy=False)
        for name in dimensions:
            outputs[name] = metric_column(name, _AGGREGATE)
        joins: list[exp.Join] = []
        ctes: list[tuple[str, exp.Query]] = []
    else:
        source = aliased(spine, _SPINE)
        outputs[_TIME] = metric_column(_TIME, _SPINE)
        on: exp.Expr = exp.EQ(
            this=metric_column(_TIME, _AGGREGATE), expression=metric_column(_TIME, _SPINE)
        )
        if dimensions:
            # Every combination seen, in every bucket: the aggregate is read twice, so it is a
            # CTE (computed once where the engine materialises CTEs read twice).
            ctes = [(_CTE, aggregate)]
            seen = (
                exp.select(*(metric_column(d) for d in dimensions))
                .from_(aliased(_CTE), copy=False)
                .distinct(copy=False)
            )
            joins = [cross_join(seen.subquery(_COMBINATIONS, copy=False))]
            for name in dimensions:
                outputs[name] = metric_column(name, _COMBINATIONS)
                on = exp.and_(
                    on,
                    exp.NullSafeEQ(
                        this=metric_column(name, _AGGREGATE),
                        expression=metric_column(name, _COMBINATIONS),
                    ),
                )
            joined: exp.Expr = aliased(_CTE, _AGGREGATE)
        else:
            ctes = []
            joins = []
            joined = aggregate.subquery(_AGGREGATE, copy=False)
        joins.append(left_join(joined, on))
    values = metric_values(needed, _AGGREGATE)
    for name in metrics:
        outputs[name] = values[name]
    select = exp.select(
        *(
            exp.alias_(value.copy(), name, quoted=True, copy=False)
            for name, value in outputs.items()
        )
    ).from_(source, copy=False)
    for join in joins:
        select.append("joins", join)
    return with_ctes(select, ctes), outputs


def metric_values(needed: Sequence[Metric], table: str) -> Mapping[str, exp.Expr]:
    """Each metric's value over the simple metrics' columns of ``table``, empty ones filled.

    The same expressions as the general shape's levels: a ratio divides its parts' filled
    values, a formula is computed over its inputs' values with every division made safe.
    """
    values: dict[str, exp.Expr] = {}

    def value(name: str) -> exp.Expr:
        return values[name].copy()

    for metric in needed:
        if metric.kind == "simple":
            column: exp.Expr = metric_column(metric.name, table)
            if metric.fill_zero:
                column = exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])
            values[metric.name] = column
        elif metric.kind == "ratio":
            numerator, denominator = metric.inputs[0], metric.inputs[-1]
            values[metric.name] = divide(value(numerator), value(denominator))
        elif metric.kind == "derived":
            assert metric.formula is not None  # noqa: S101 - derived metrics have one
            # Divisions made safe before the inputs go in: their own divisions already are.
            formula = replace_columns(safe_division(metric.formula), value)
            values[metric.name] = exp.cast(formula, DOUBLE)
        else:
            raise ValueError(f"{metric.kind} metrics read earlier buckets: they do not fold")
    return values
