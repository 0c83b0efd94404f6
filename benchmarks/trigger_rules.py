"""Trigger rules: 1,000 conditions judged over a stream of 1,000,000 events, vs. a per-event loop.

    python -m benchmarks.trigger_rules [--rules 1000] [--events 1000000] [--batch 10000]
                                       [--other-batch 1000] [--sample 2000] [--seed 0]

The events are generated here (seeded): a shop's and its operations' stream over six weeks of
March and April 2025 (across the change to summer time) with ten event types (orders, payments,
carts, refunds, logins, errors, deploys …) and the columns ``type``, ``time`` (UTC), ``amount``
(NULL outside commerce and for 2 % of it), ``quantity`` (0 now and then), ``country`` (sometimes
lower case or missing), ``channel``, ``user`` (NULL for guests and machines) and ``status``. The
rules are generated too: most scoped to an event type (``type = …``, ``IN``, ``LIKE``), then one
to four tests joined by AND/OR/NOT: comparisons, IN, BETWEEN, LIKE/ILIKE, IS NULL, arithmetic
(``amount * quantity``, ``amount / quantity`` with its division by zero), CASE and IF,
``hour_of_day``/``day_of_week`` in several zones, ``lower``/``upper``, ``coalesce``, times
written as text. Every one is parsed by ``parse_condition`` and must compile for the schema.

gnomon: ``ConditionSet.compile`` once (timed apart), then ``evaluate`` on each micro-batch of
``--batch`` events (a record batch, as a consumer hands them over) and each rule's matches
counted (``true_count``); the whole stream is timed. A second pass over the first
``--other-batch-events`` events with micro-batches of ``--other-batch`` shows what a smaller
batch costs.

Baseline, the per-event loop a script would write: each rule compiled ONCE into nested Python
closures over a row dict (the syntax tree is not walked per event; column-against-constant tests
are specialised; AND/OR short-circuit), with SQL's meaning as in docs/triggers.md: three-valued
logic, division by zero is NULL, calendar functions on the zone's clock. Rows are Python dicts,
converted before the clock starts. The whole stream would take over ten minutes this way, so
``--sample`` events spread over the stream run through every rule and the per-event rate is
extrapolated. The same sample is then judged by gnomon (untimed) and, for every rule, the rows
that match must be the same both ways; otherwise the run prints the first differences and
exits 1.
Reported: events per second both ways and the ratio (target >= 50x).
"""

import argparse
import operator
import random
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from sqlglot import exp

from benchmarks._setup import report
from gnomon.triggers import Condition, ConditionSet, parse_condition

TARGET = 50.0

START = datetime(2025, 3, 3, tzinfo=UTC)
"""A Monday; the stream runs six weeks from here, over Europe's change to summer time."""
WEEKS = 6

EVENT_TYPES: dict[str, float] = {
    "shop.order.created": 0.26,
    "shop.order.paid": 0.18,
    "shop.cart.updated": 0.20,
    "shop.refund.issued": 0.03,
    "shop.payment.failed": 0.04,
    "auth.login": 0.14,
    "auth.login.failed": 0.03,
    "ops.error": 0.06,
    "ops.latency": 0.055,
    "ops.deploy": 0.005,
}
COUNTRIES: dict[str, float] = {
    "DE": 0.30, "AT": 0.07, "CH": 0.06, "FR": 0.12, "NL": 0.08, "GB": 0.10,
    "US": 0.12, "PL": 0.05, "IT": 0.05, "ES": 0.05,
}  # fmt: skip
CHANNELS: dict[str, float] = {
    "web": 0.42, "app": 0.30, "store": 0.10, "marketplace": 0.10, "partner_api": 0.05,
    "web_beta": 0.03,
}  # fmt: skip
STATUSES: dict[str, float] = {
    "ok": 0.80, "pending": 0.06, "failed": 0.06, "declined": 0.03, "timeout": 0.03,
    "cancelled": 0.02,
}  # fmt: skip
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")

SCHEMA = pa.schema(
    [
        ("type", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("amount", pa.float64()),
        ("quantity", pa.int64()),
        ("country", pa.string()),
        ("channel", pa.string()),
        ("user", pa.string()),
        ("status", pa.string()),
    ]
)


# ---------------------------------------------------------------------- events


def _pick(rng: np.random.Generator, weights: Mapping[str, float], count: int) -> np.ndarray:
    names = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()))
    return names[rng.choice(len(names), size=count, p=p / p.sum())]


def event_stream(count: int, seed: int) -> pa.Table:
    """``count`` events in time order, one column per field rules read."""
    rng = np.random.default_rng(seed)
    span_us = WEEKS * 7 * 86_400 * 1_000_000
    start_us = int(START.timestamp() * 1_000_000)
    # More traffic by day (Europe) than by night: accept offsets with a daily weight.
    offsets = np.sort(rng.integers(0, span_us, size=count * 2))
    hour = (offsets // 3_600_000_000 + 1) % 24
    keep = rng.random(offsets.size) < np.where((hour >= 7) & (hour <= 22), 0.9, 0.3)
    offsets = offsets[keep][:count]
    while offsets.size < count:  # rare: top up with uniform times
        offsets = np.sort(np.concatenate([offsets, rng.integers(0, span_us, count - offsets.size)]))
    types = _pick(rng, EVENT_TYPES, count)
    commerce = np.char.startswith(types.astype(str), "shop.")
    amount = np.round(rng.lognormal(3.8, 1.0, count), 2)
    amount_null = ~commerce | (rng.random(count) < 0.02)
    quantity = np.where(commerce, rng.integers(1, 13, count), 0)
    quantity[commerce & (rng.random(count) < 0.03)] = 0
    country = _pick(rng, COUNTRIES, count)
    lowered = rng.random(count) < 0.03
    country[lowered] = np.char.lower(country[lowered].astype(str)).astype(object)
    country_null = rng.random(count) < 0.01
    users = np.char.add("u", np.char.zfill(rng.zipf(1.3, count).clip(1, 999_999).astype(str), 6))
    machine = np.char.startswith(types.astype(str), "ops.")
    user_null = machine | (rng.random(count) < 0.15)
    return pa.table(
        [
            pa.array(types.tolist(), pa.string()),
            pa.array(offsets + start_us, pa.timestamp("us", tz="UTC")),
            pa.array(amount, pa.float64(), mask=amount_null),
            pa.array(quantity, pa.int64()),
            pa.array(country.tolist(), pa.string(), mask=country_null),
            pa.array(_pick(rng, CHANNELS, count).tolist(), pa.string()),
            pa.array(users.tolist(), pa.string(), mask=user_null),
            pa.array(_pick(rng, STATUSES, count).tolist(), pa.string()),
        ],
        schema=SCHEMA,
    )


# ---------------------------------------------------------------------- rules


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _atom(rng: random.Random) -> str:  # noqa: C901 - one branch per kind of test
    """One test of a rule, of a kind picked at random."""
    compare = rng.choice([">", ">=", "<", "<=", "=", "<>"])
    big = rng.choice([20, 50, 100, 250, 500, 1000, 2500])
    countries = rng.sample(list(COUNTRIES), rng.randint(1, 4))
    zone = rng.choice(ZONES)
    kind = rng.randrange(24)
    if kind == 0:
        return f"amount {compare} {big}"
    if kind == 1:
        return f"amount * quantity > {big * rng.choice([1, 2, 5])}"
    if kind == 2:
        return f"amount / quantity {rng.choice(['>', '<'])} {rng.choice([5, 12.5, 40, 80])}"
    if kind == 3:
        low = rng.randint(0, 5)
        return f"quantity {rng.choice(['', 'NOT '])}BETWEEN {low} AND {low + rng.randint(1, 6)}"
    if kind == 4:
        return f"amount BETWEEN {big / 2} AND {big * 3}"
    if kind == 5:
        return f"country {rng.choice(['', 'NOT '])}IN ({_quoted(countries)})"
    if kind == 6:
        return f"lower(country) = '{countries[0].lower()}'"
    if kind == 7:
        return f"upper(country) IN ({_quoted(countries)})"
    if kind == 8:
        return rng.choice(
            ["channel LIKE 'web%'", "channel NOT LIKE 'web%'", "channel LIKE '%_api'",
             "channel ILIKE 'APP'", "channel LIKE 'st_re'", "status NOT LIKE '%ed'"]
        )  # fmt: skip
    if kind == 9:
        return rng.choice(["user IS NULL", "user IS NOT NULL", "amount IS NULL", "country IS NULL"])
    if kind == 10:
        return f"user LIKE 'u0000{rng.randint(0, 9)}%'"
    if kind == 11:
        low = rng.randint(6, 10)
        return (
            f"hour_of_day(time, '{zone}') {rng.choice(['', 'NOT '])}BETWEEN {low} "
            f"AND {low + rng.randint(6, 10)}"
        )
    if kind == 12:
        return f"hour_of_day(time) {rng.choice(['>=', '<'])} {rng.randint(5, 22)}"
    if kind == 13:
        return rng.choice(
            ["day_of_week(time) IN (6, 7)", f"day_of_week(time, '{zone}') = {rng.randint(1, 7)}",
             f"day_of_week(time, '{zone}') NOT IN (6, 7)"]
        )  # fmt: skip
    if kind == 14:
        return rng.choice(
            [f"coalesce(amount, 0) {compare} {big}", "coalesce(user, 'guest') = 'guest'",
             f"coalesce(amount, quantity * 10.0) > {big}"]
        )  # fmt: skip
    if kind == 15:
        return (
            f"CASE WHEN country IN ({_quoted(countries)}) THEN amount > {big} "
            f"ELSE amount > {big * 2} END"
        )
    if kind == 16:
        return (
            f"CASE channel WHEN 'web' THEN amount WHEN 'app' THEN amount * 1.1 "
            f"ELSE amount * 0.9 END {compare} {big}"
        )
    if kind == 17:
        status = rng.sample(list(STATUSES), rng.randint(1, 3))
        return rng.choice([f"status = '{status[0]}'", f"status IN ({_quoted(status)})",
                           "status <> 'ok'"])  # fmt: skip
    if kind == 18:
        day = rng.randint(3, 40)
        return rng.choice(
            [f"time >= '2025-03-{3 + day % 28:02d}'",
             f"time BETWEEN '2025-03-{3 + day % 20:02d} 08:00' AND '2025-04-0{1 + day % 9} 18:00'"]
        )  # fmt: skip
    if kind == 19:
        return f"amount - {rng.choice([2, 5, 10])} * quantity < {rng.choice([0, 10, 30])}"
    if kind == 20:
        return rng.choice(
            ["starts_with(channel, 'web')", "contains(status, 'fail')", "length(user) > 6",
             "ends_with(type, '.failed')"]
        )  # fmt: skip
    if kind == 21:
        return f"IF(channel = 'app', amount, amount * 0.8) > {big}"
    if kind == 22:
        return f"-amount < -{big}"
    return f"abs(amount - {big}) < {big / 10}"


def _tree(rng: random.Random, leaves: int) -> str:
    if leaves == 1:
        text = _atom(rng)
        return f"NOT ({text})" if rng.random() < 0.08 else text
    left = rng.randint(1, leaves - 1)
    joint = rng.choice(["AND", "AND", "OR"])
    text = f"({_tree(rng, left)} {joint} {_tree(rng, leaves - left)})"
    return f"NOT {text}" if rng.random() < 0.05 else text


def rule_conditions(count: int, seed: int) -> dict[str, str]:
    """``count`` varied conditions, most of them scoped to an event type or family."""
    rng = random.Random(seed)
    types = list(EVENT_TYPES)
    rules: dict[str, str] = {}
    for index in range(count):
        scope = rng.random()
        body = _tree(rng, rng.choice([1, 2, 2, 3, 3, 4]))
        if scope < 0.55:
            text = f"type = '{rng.choice(types)}' AND {body}"
        elif scope < 0.70:
            text = f"type IN ({_quoted(rng.sample(types, rng.randint(2, 3)))}) AND {body}"
        elif scope < 0.80:
            family = rng.choice(["shop.", "shop.order.", "auth.", "ops."])
            text = f"type LIKE '{family}%' AND {body}"
        else:
            text = body
        rules[f"rule_{index:04d}"] = text
    return rules


# ---------------------------------------------------------------------- the per-event loop

Row = Mapping[str, Any]
Fn = Callable[[Row], Any]
"""A compiled node: the row's value of it, ``None`` for NULL."""

_COMPARE: dict[type[exp.Expr], Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}
_ARITHMETIC: dict[type[exp.Expr], Callable[[Any, Any], Any]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
}


def _constant(value: Any) -> Fn:
    return lambda _row: value


class NaiveCompiler:
    """A checked condition as nested Python closures over a row dict, built once per rule.

    ``compile`` returns the closure and, for a node whose value is a time, ``"time"`` (a text
    literal compared with a time is read as one, in the rule's zone, as gnomon does).
    """

    def __init__(self, schema: pa.Schema, zone: str) -> None:
        self.zone = zone
        self.times = {f.name for f in schema if pa.types.is_timestamp(f.type)}

    def rule(self, tree: exp.Expr) -> Fn:
        return self.compile(tree)[0]

    def compile(self, node: exp.Expr) -> tuple[Fn, str | None]:  # noqa: C901
        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if isinstance(node, exp.Column):
            name = node.name
            return operator.itemgetter(name), "time" if name in self.times else None
        if isinstance(node, exp.Literal):
            if node.is_string:
                return _constant(str(node.this)), "text"
            text = str(node.this)
            return _constant(int(text) if text.isdigit() else float(text)), None
        if isinstance(node, exp.Null):
            return _constant(None), None
        if isinstance(node, exp.Boolean):
            return _constant(bool(node.this)), None
        if isinstance(node, exp.And):
            return self._and(self.rule(node.this), self.rule(node.expression)), None
        if isinstance(node, exp.Or):
            return self._or(self.rule(node.this), self.rule(node.expression)), None
        if isinstance(node, exp.Not):
            return self._not(self.rule(node.this)), None
        if type(node) in _COMPARE:
            return self._compare(node.this, node.expression, _COMPARE[type(node)]), None
        if isinstance(node, exp.In):
            tests = [self._compare(node.this, o, operator.eq) for o in node.expressions]
            result = tests[0]
            for test in tests[1:]:
                result = self._or(result, test)
            return result, None
        if isinstance(node, exp.Between):
            low = self._compare(node.this, node.args["low"], operator.ge)
            high = self._compare(node.this, node.args["high"], operator.le)
            return self._and(low, high), None
        if isinstance(node, exp.Like | exp.ILike):
            return self._like(node), None
        if isinstance(node, exp.Is):
            return self._is(node), None
        if type(node) in _ARITHMETIC:
            return self._arithmetic(node, _ARITHMETIC[type(node)]), None
        if isinstance(node, exp.Div):
            return self._divide(self.rule(node.this), self.rule(node.expression)), None
        if isinstance(node, exp.Neg):
            value = self.rule(node.this)
            return (lambda row: None if (v := value(row)) is None else -v), None
        if isinstance(node, exp.Case):
            return self._case(node), None
        if isinstance(node, exp.If):
            test, then, otherwise = (
                self.rule(node.this), self.rule(node.args["true"]), self.rule(node.args["false"])
            )  # fmt: skip
            return (lambda row: then(row) if test(row) is True else otherwise(row)), None
        if isinstance(node, exp.Anonymous):
            return self._function(node), None
        raise NotImplementedError(f"the per-event loop has no {type(node).__name__}")

    # ------------------------------------------------------------------ logic

    @staticmethod
    def _and(left: Fn, right: Fn) -> Fn:
        def both(row: Row) -> bool | None:
            a = left(row)
            if a is False:
                return False
            b = right(row)
            if b is False:
                return False
            return None if a is None or b is None else True

        return both

    @staticmethod
    def _or(left: Fn, right: Fn) -> Fn:
        def either(row: Row) -> bool | None:
            a = left(row)
            if a is True:
                return True
            b = right(row)
            if b is True:
                return True
            return None if a is None or b is None else False

        return either

    @staticmethod
    def _not(value: Fn) -> Fn:
        return lambda row: None if (v := value(row)) is None else not v

    # ------------------------------------------------------------------ comparisons

    def _operand(self, node: exp.Expr, other: exp.Expr) -> tuple[Fn, Any, bool]:
        """The operand's closure, and its value when it is a constant (times read as times)."""
        fn, kind = self.compile(node)
        if isinstance(node, exp.Literal):
            value = fn({})
            if kind == "text" and self.compile(other)[1] == "time":
                moment = datetime.fromisoformat(value.strip())
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=ZoneInfo(self.zone))
                value = moment.astimezone(UTC)
            return _constant(value), value, True
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            value = fn({})
            return fn, value, True
        return fn, None, False

    def _compare(
        self, left_node: exp.Expr, right_node: exp.Expr, op: Callable[[Any, Any], bool]
    ) -> Fn:
        left, left_value, left_constant = self._operand(left_node, right_node)
        right, right_value, right_constant = self._operand(right_node, left_node)
        if (right_constant and right_value is None) or (left_constant and left_value is None):
            return _constant(None)
        if right_constant and isinstance(left_node, exp.Column):
            name = left_node.name

            def column_constant(row: Row) -> bool | None:
                v = row[name]
                return None if v is None else op(v, right_value)

            return column_constant
        if right_constant:
            return lambda row: None if (v := left(row)) is None else op(v, right_value)

        def pair(row: Row) -> bool | None:
            a = left(row)
            if a is None:
                return None
            b = right(row)
            return None if b is None else op(a, b)

        return pair

    def _like(self, node: exp.Like | exp.ILike) -> Fn:
        subject = self.rule(node.this)
        pattern = str(node.expression.this)
        flags = re.DOTALL | (re.IGNORECASE if isinstance(node, exp.ILike) else 0)
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        match = re.compile(regex, flags).fullmatch
        negate = bool(node.args.get("negate"))

        def like(row: Row) -> bool | None:
            v = subject(row)
            if v is None:
                return None
            return (match(v) is None) if negate else (match(v) is not None)

        return like

    def _is(self, node: exp.Is) -> Fn:
        subject = self.rule(node.this)
        target = node.expression
        if isinstance(target, exp.Null):
            return lambda row: subject(row) is None
        wanted = bool(target.this)
        return lambda row: subject(row) is wanted

    # ------------------------------------------------------------------ values

    def _arithmetic(self, node: exp.Expr, op: Callable[[Any, Any], Any]) -> Fn:
        left, right = self.rule(node.this), self.rule(node.expression)

        def arithmetic(row: Row) -> Any:
            a = left(row)
            if a is None:
                return None
            b = right(row)
            return None if b is None else op(a, b)

        return arithmetic

    @staticmethod
    def _divide(numerator: Fn, denominator: Fn) -> Fn:
        def divide(row: Row) -> float | None:
            a = numerator(row)
            if a is None:
                return None
            b = denominator(row)
            return None if b is None or b == 0 else a / b

        return divide

    def _case(self, node: exp.Expr) -> Fn:
        default = node.args.get("default")
        otherwise = self.rule(default) if default is not None else _constant(None)
        subject = self.rule(node.this) if node.this is not None else None
        branches: list[tuple[Fn, Fn]] = []
        for branch in node.args.get("ifs") or []:
            if subject is None:
                test = self.rule(branch.this)
            else:
                test = self._compare(node.this, branch.this, operator.eq)
            branches.append((test, self.rule(branch.args["true"])))

        def case(row: Row) -> Any:
            for test, value in branches:
                if test(row) is True:
                    return value(row)
            return otherwise(row)

        return case

    def _function(self, node: exp.Anonymous) -> Fn:  # noqa: C901
        name = str(node.name).lower()
        args = [self.rule(a) for a in node.expressions]
        first = args[0]
        if name in ("hour_of_day", "day_of_week"):
            zone_arg = node.expressions[1].this if len(node.expressions) > 1 else self.zone
            zone = ZoneInfo(str(zone_arg))
            if name == "hour_of_day":
                return lambda row: None if (t := first(row)) is None else t.astimezone(zone).hour
            return lambda row: (
                None if (t := first(row)) is None else t.astimezone(zone).isoweekday()
            )
        if name == "lower":
            return lambda row: None if (v := first(row)) is None else v.lower()
        if name == "upper":
            return lambda row: None if (v := first(row)) is None else v.upper()
        if name == "length":
            return lambda row: None if (v := first(row)) is None else len(v)
        if name == "abs":
            return lambda row: None if (v := first(row)) is None else abs(v)
        if name in ("starts_with", "ends_with", "contains"):
            part = str(node.expressions[1].this)
            if name == "starts_with":
                return lambda row: None if (v := first(row)) is None else v.startswith(part)
            if name == "ends_with":
                return lambda row: None if (v := first(row)) is None else v.endswith(part)
            return lambda row: None if (v := first(row)) is None else part in v
        if name == "coalesce":

            def coalesce(row: Row) -> Any:
                for arg in args:
                    if (v := arg(row)) is not None:
                        return v
                return None

            return coalesce
        raise NotImplementedError(f"the per-event loop has no {name}()")


def naive_rules(conditions: Mapping[str, Condition], schema: pa.Schema) -> list[Fn]:
    """Each condition compiled once into a closure, in the order of ``conditions``."""
    return [NaiveCompiler(schema, c.timezone).rule(c.tree) for c in conditions.values()]


def naive_matches(rules: Sequence[Fn], rows: Sequence[Row]) -> tuple[list[list[int]], float]:
    """For each rule, the rows (by position) where it is TRUE; and the seconds it took."""
    fired: list[list[int]] = [[] for _ in rules]
    started = time.perf_counter()
    for position, row in enumerate(rows):
        for rule, matches in zip(rules, fired, strict=True):
            if rule(row) is True:
                matches.append(position)
    return fired, time.perf_counter() - started


# ---------------------------------------------------------------------- gnomon


def gnomon_counts(
    compiled: ConditionSet, batches: Sequence[pa.RecordBatch]
) -> tuple[dict[str, int], float]:
    """Matches per rule over the batches, and the seconds evaluating and counting took."""
    counts = dict.fromkeys(compiled.expressions, 0)
    started = time.perf_counter()
    for batch in batches:
        for name, fired in compiled.evaluate(batch).items():
            counts[name] += fired.true_count
    return counts, time.perf_counter() - started


def check_sample(
    names: Sequence[str], naive: Sequence[Sequence[int]], compiled: ConditionSet, sample: pa.Table
) -> list[str]:
    """Where the two ways disagree on the sample: one line per rule that differs."""
    ours = compiled.evaluate(sample)
    problems = []
    for name, theirs in zip(names, naive, strict=True):
        rows = np.flatnonzero(ours[name].to_numpy(zero_copy_only=False)).tolist()
        if rows != list(theirs):
            only_ours = sorted(set(rows) - set(theirs))[:3]
            only_loop = sorted(set(theirs) - set(rows))[:3]
            problems.append(
                f"{name}: gnomon {len(rows)} matches, per-event loop {len(theirs)}; "
                f"only gnomon at rows {only_ours}, only the loop at {only_loop}"
            )
    return problems


def stream_rate(compiled: ConditionSet, table: pa.Table, batch: int) -> tuple[int, float, int]:
    """Events, seconds and total matches of the stream cut into micro-batches of ``batch``."""
    batches = table.to_batches(max_chunksize=batch)
    counts, seconds = gnomon_counts(compiled, batches)
    return table.num_rows, seconds, sum(counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events per micro-batch")
    parser.add_argument("--other-batch", type=int, default=1_000, help="a second batch size")
    parser.add_argument(
        "--other-batch-events", type=int, default=200_000, help="events timed at --other-batch"
    )
    parser.add_argument("--sample", type=int, default=2_000, help="events through the loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    table = event_stream(args.events, args.seed)
    print(f"events: {table.num_rows:,} in {time.perf_counter() - started:.1f} s", flush=True)
    texts = rule_conditions(args.rules, args.seed)
    started = time.perf_counter()
    conditions = {name: parse_condition(text) for name, text in texts.items()}
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    compiled = ConditionSet.compile(conditions, table.schema)
    compile_s = time.perf_counter() - started
    if compiled.errors:
        for name, error in compiled.errors.items():
            print(f"FAILED: {name} does not compile: {texts[name]}: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"rules: {len(conditions)} parsed in {parse_s:.2f} s, compiled in {compile_s:.2f} s")

    events, gnomon_s, matches = stream_rate(compiled, table, args.batch)
    gnomon_rate = events / gnomon_s
    print(f"gnomon: {events:,} events in {gnomon_s:.1f} s ({gnomon_rate:,.0f}/s)", flush=True)
    head = table.slice(0, min(args.other_batch_events, table.num_rows))
    other_events, other_s, _ = stream_rate(compiled, head, args.other_batch)
    other_rate = other_events / other_s
    print(f"gnomon, batches of {args.other_batch}: {other_rate:,.0f}/s", flush=True)

    picks = np.sort(np.random.default_rng(args.seed + 1).choice(
        table.num_rows, size=min(args.sample, table.num_rows), replace=False
    ))  # fmt: skip
    sample = table.take(pa.array(picks))
    rows = sample.to_pylist()
    loop = naive_rules(conditions, table.schema)
    fired, naive_s = naive_matches(loop, rows)
    naive_rate = len(rows) / naive_s
    print(f"per-event loop: {len(rows):,} events in {naive_s:.1f} s ({naive_rate:,.1f}/s)")
    problems = check_sample(list(conditions), fired, compiled, sample)
    if problems:
        print(f"FAILED: {len(problems)} rules match differently on the sample:", file=sys.stderr)
        for line in problems[:20]:
            print(f"  {line}\n    {texts[line.split(':', 1)[0]]}", file=sys.stderr)
        sys.exit(1)
    sample_matches = sum(len(f) for f in fired)
    print(f"sample check: all {len(conditions)} rules agree ({sample_matches:,} matches)")
    report(
        "trigger_rules",
        {
            "events": events,
            "rules": len(conditions),
            "rule_examples": list(texts.values())[:3],
            "parse_s": round(parse_s, 2),
            "compile_s": round(compile_s, 2),
            "batch": args.batch,
            "gnomon_s": round(gnomon_s, 2),
            "gnomon_events_per_s": round(gnomon_rate),
            "matches": matches,
            "other_batch": args.other_batch,
            "other_batch_events": other_events,
            "other_batch_events_per_s": round(other_rate),
            "loop_sample": len(rows),
            "loop_sample_s": round(naive_s, 2),
            "loop_events_per_s": round(naive_rate, 1),
            "loop_extrapolated_s": round(events / naive_rate),
            "sample_matches_agree": sample_matches,
            "speedup": round(gnomon_rate / naive_rate, 1),
            "target": f">= {TARGET:.0f}x",
        },
    )


if __name__ == "__main__":
    main()
