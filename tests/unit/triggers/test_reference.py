"""The evaluator against a reference: the same conditions evaluated by DuckDB, on random data.

Hypothesis writes random conditions in the rule language over random rows (with NULLs); each is
evaluated by gnomon's Arrow evaluator and, as plain SQL, by DuckDB, and the rows where the rule
fires must be the same. The rule language's own definitions are spelled out for DuckDB:
division by zero is NULL (``NULLIF``), calendar functions read the clock of a zone
(``TIMEZONE``), ``day_of_week`` is ISO (``ISODOW``), and number literals are BIGINT or DOUBLE
(DuckDB would otherwise compute exactly in DECIMAL or overflow INTEGER, which the language does
not promise). Text literals met by times are read in DuckDB's session zone, set to the rule's.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.triggers import ConditionSet, parse_condition

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
LETTERS = "aAb_%"


# ---------------------------------------------------------------------- data

_ints = st.one_of(st.none(), st.integers(-50, 50))
_floats = st.one_of(st.none(), st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 2)))
_texts = st.one_of(st.none(), st.text(alphabet="aAb ", max_size=3))
_times = st.one_of(
    st.none(),
    st.integers(0, 3 * 365 * 24 * 60).map(
        lambda m: datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=m * 7)
    ),
)
_rows = st.lists(
    st.fixed_dictionaries(
        {"i": _ints, "j": _ints, "f": _floats, "s": _texts, "u": _texts,
         "b": st.one_of(st.none(), st.booleans()), "t": _times}
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip
SCHEMA = pa.schema(
    [("i", pa.int64()), ("j", pa.int64()), ("f", pa.float64()), ("s", pa.string()),
     ("u", pa.string()), ("b", pa.bool_()), ("t", pa.timestamp("us", tz="UTC"))]
)  # fmt: skip


# ---------------------------------------------------------------------- conditions


def _numbers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        ),
        inner.map(lambda v: f"-({v})"),
        st.sampled_from(["abs", "round", "floor", "ceil"]).flatmap(
            lambda f: inner.map(lambda v: f"{f}({v})")
        ),
        st.tuples(st.sampled_from(["coalesce", "greatest", "least", "nullif"]), inner, inner).map(
            lambda p: f"{p[0]}({p[1]}, {p[2]})"
        ),
        st.tuples(inner, st.integers(0, 2)).map(lambda p: f"round({p[0]}, {p[1]})"),
    )


NUMBER = st.recursive(
    st.one_of(
        st.sampled_from(["i", "j", "f"]),
        st.integers(-20, 20).map(str).map(lambda v: v if not v.startswith("-") else f"({v})"),
        st.sampled_from(["0.5", "2.25", "10.0"]),
        st.sampled_from(["hour_of_day(t)", "day_of_week(t)", "day_of_month(t)", "month_of_year(t)",
                         "minute_of_hour(t)"]),
        st.sampled_from(ZONES).map(lambda z: f"hour_of_day(t, '{z}')"),
        st.sampled_from(ZONES).map(lambda z: f"day_of_week(t, '{z}')"),
        st.sampled_from(["length(s)", "length(u)"]),
    ),
    _numbers,
    max_leaves=4,
)  # fmt: skip

TEXT = st.one_of(
    st.sampled_from(["s", "u", "'a'", "'A'", "'ab'", "''"]),
    st.sampled_from(["lower(s)", "upper(u)", "trim(s)", "s || u", "s || 'a'", "coalesce(s, u)"]),
)

_PATTERN = st.text(alphabet=LETTERS, min_size=0, max_size=3).map(lambda p: f"'{p}'")
_TIME_TEXT = st.sampled_from(
    ["'2024-06-01'", "'2025-03-30 02:30'", "'2025-10-26 02:30:00'", "'2026-01-01 00:00'",
     "TIMESTAMP '2025-03-30 01:30'", "'2024-11-03T01:30:00-04:00'"]
)  # fmt: skip


def _conditions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        ),
        inner.map(lambda c: f"NOT ({c})"),
        st.tuples(inner, NUMBER, NUMBER).map(
            lambda p: f"(CASE WHEN {p[0]} THEN {p[1]} ELSE {p[2]} END) > 0"
        ),
        st.tuples(inner, inner, inner).map(lambda p: f"IF({p[0]}, {p[1]}, {p[2]})"),
    )


_COMPARE = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
CONDITION = st.recursive(
    st.one_of(
        st.tuples(NUMBER, _COMPARE, NUMBER).map(" ".join),
        st.tuples(TEXT, _COMPARE, TEXT).map(" ".join),
        st.tuples(NUMBER, NUMBER, NUMBER).map(lambda p: f"{p[0]} BETWEEN {p[1]} AND {p[2]}"),
        st.tuples(
            NUMBER, st.booleans(), st.lists(st.one_of(st.integers(-3, 3).map(str), st.just("NULL")),
                                            min_size=1, max_size=3)
        ).map(lambda p: f"{p[0]} {'NOT ' if p[1] else ''}IN ({', '.join(p[2])})"),
        st.tuples(TEXT, st.booleans(), st.sampled_from(["LIKE", "ILIKE"]), _PATTERN).map(
            lambda p: f"{p[0]} {'NOT ' if p[1] else ''}{p[2]} {p[3]}"
        ),
        st.tuples(st.sampled_from(["i", "f", "s", "b", "t", "i / j"]), st.booleans()).map(
            lambda p: f"{p[0]} IS {'NOT ' if p[1] else ''}NULL"
        ),
        st.sampled_from(["b", "b IS TRUE", "b IS NOT FALSE", "starts_with(s, 'a')",
                         "ends_with(u, 'b')", "contains(s, 'A')"]),
        st.tuples(st.just("t"), _COMPARE, _TIME_TEXT).map(" ".join),
        st.tuples(st.just("local_date(t)"), _COMPARE, st.sampled_from(
            ["'2024-06-01'", "DATE '2025-03-30'", "'2026-01-01'"])).map(" ".join),
        st.sampled_from(["CASE s WHEN 'a' THEN TRUE WHEN 'A' THEN NULL ELSE b END",
                         "CASE WHEN i > 0 THEN s ELSE u END = 'a'"]),
    ),
    _conditions,
    max_leaves=5,
)  # fmt: skip


# ---------------------------------------------------------------------- reference


_CALENDAR: dict[str, Callable[[exp.Expr], exp.Expr]] = {
    "hour_of_day": lambda local: exp.func("HOUR", local),
    "minute_of_hour": lambda local: exp.func("MINUTE", local),
    "day_of_week": lambda local: exp.func("ISODOW", local),
    "day_of_month": lambda local: exp.func("DAYOFMONTH", local),
    "month_of_year": lambda local: exp.func("MONTH", local),
    "local_date": lambda local: exp.cast(local, "DATE"),
}


def reference_sql(text: str, zone: str) -> str:
    """The condition as DuckDB SQL with the rule language's definitions spelled out."""
    tree = parse_condition(text, timezone=zone).tree

    def spell(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() in _CALENDAR:
            args = node.expressions
            where = args[1] if len(args) > 1 else exp.Literal.string(zone)
            local = exp.func("TIMEZONE", where.copy(), args[0].copy())
            return _CALENDAR[node.name.lower()](local)
        if isinstance(node, exp.Div):
            # transform() does not descend into a replacement: spell its operands first.
            numerator = exp.cast(node.this.copy().transform(spell), "DOUBLE")
            denominator = exp.func("NULLIF", exp.cast(node.expression.copy().transform(spell),
                                                      "DOUBLE"), exp.Literal.number(0))  # fmt: skip
            return exp.Div(this=numerator, expression=denominator)
        if isinstance(node, exp.Literal) and not node.is_string:
            # round()'s digits stay an integer, as DuckDB requires.
            if isinstance(node.parent, exp.Anonymous) and node.parent.name.lower() == "round":
                return node
            kind = "DOUBLE" if "." in node.this else "BIGINT"
            return exp.cast(node.copy(), kind)
        return node

    spelled = tree.transform(spell)
    return f"COALESCE(({spelled.sql(dialect='duckdb')}), FALSE)"


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=_rows, condition=CONDITION, zone=st.sampled_from(ZONES))
def test_the_evaluator_agrees_with_duckdb(rows: list[dict[str, object]], condition: str,
                                         zone: str) -> None:  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    compiled = ConditionSet.compile({"rule": parse_condition(condition, timezone=zone)}, SCHEMA)
    assert not compiled.errors, (condition, compiled.errors)
    ours = compiled.evaluate(table)["rule"].to_pylist()
    with duckdb.connect() as db:
        db.execute(f"SET TimeZone = '{zone}'")
        db.register("events", table)
        sql = reference_sql(condition, zone)
        theirs = [bool(r[0]) for r in db.execute(f"SELECT {sql} FROM events").fetchall()]
    assert ours == theirs, (condition, sql, rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_rows,
    parts=st.lists(CONDITION, min_size=1, max_size=4),
    zone=st.sampled_from(ZONES),
)
def test_rules_compiled_together_fire_as_each_compiled_alone(
    rows: list[dict[str, object]], parts: list[str], zone: str
) -> None:
    # Rules built from shared parts (and repeating them) share sub-expressions in one set.
    texts = [*parts, *(f"({a}) AND NOT ({b})" for a, b in zip(parts, parts[::-1], strict=True))]
    texts.append(" OR ".join(f"({p})" for p in parts))
    conditions = {f"r{i}": parse_condition(t, timezone=zone) for i, t in enumerate(texts)}
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    together = ConditionSet.compile(conditions, SCHEMA).evaluate(table)
    for name, condition in conditions.items():
        alone = ConditionSet.compile({name: condition}, SCHEMA).evaluate(table)[name]
        assert together[name].to_pylist() == alone.to_pylist(), texts[int(name[1:])]
