"""Conditions evaluated over batches: every rule at once, vectorised, in Arrow.

A batch of events (or KPI values, or anomalies) is an Arrow table whose columns are the fields
rules read. Each checked :class:`~gnomon.triggers.language.Condition` is compiled once per
schema into an Arrow compute expression, with the coercions SQL would make (a text literal
compared with a time is read as a time in the rule's zone; integers and decimals meet floats as
floats), and all of a batch's conditions are projected in one pass of Arrow's engine: the cost
per event is a few vector operations per rule, not a Python call per rule and event.

With many rules, much of that work is the same: Arrow evaluates each projected expression on
its own, so a sub-expression that several rules hold (``hour_of_day(time, 'Europe/Berlin')``,
``type = 'shop.order.paid'``), or that one rule holds twice (the operand of ``BETWEEN`` or
``IN``), would be computed again for each. So a set's repeated sub-expressions become columns
of their own, each computed once per batch in a projection before the rules read it, and NULL
(unknown) is turned into FALSE once, on each rule's result. What a rule means does not change;
what it costs is measured by ``benchmarks/trigger_rules.py``.

A field the batch does not have is NULL (events of another type simply do not match). A
condition whose types do not fit the batch (text compared with a number) is not evaluated for
that schema; its :class:`RuleTypeError` is kept in :attr:`ConditionSet.errors`, so one bad rule
does not stop the others.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.compute as pc
from sqlglot import exp

from gnomon.triggers._typed import NAMES, Typed, as_float, kind_of, null_of
from gnomon.triggers.errors import RuleTypeError
from gnomon.triggers.functions import FUNCTIONS, Call, Literal
from gnomon.triggers.language import Condition

__all__ = ["ConditionSet", "compile_condition"]

_TIME_UNIT = "us"


def _call(function: str, args: list[pc.Expression], options: object = None) -> pc.Expression:
    return pc.Expression._call(function, args, options)  # noqa: SLF001 - Arrow's own API


def compile_condition(condition: Condition, schema: pa.Schema) -> pc.Expression:
    """The condition as an Arrow expression over ``schema``: TRUE where the rule fires.

    NULL (unknown) becomes FALSE: a rule fires only where its condition is known to hold.

    Raises:
        RuleTypeError: the condition's types do not fit the schema.
    """
    typed = _Compiler(schema, condition.timezone).condition(condition.tree)
    if typed.kind == "null":
        return pc.scalar(False)
    return _call("coalesce", [typed.expr, pc.scalar(False)])


@dataclass(frozen=True, slots=True)
class ConditionSet:
    """Named conditions compiled for one schema; ``errors`` holds those that did not compile."""

    schema: pa.Schema
    expressions: Mapping[str, pc.Expression]
    errors: Mapping[str, RuleTypeError]
    _program: "_Program | None" = field(default=None, repr=False, compare=False)
    """How ``evaluate`` computes the results; a set built without ``compile`` projects
    ``expressions`` as they are."""

    @classmethod
    def compile(cls, conditions: Mapping[str, Condition], schema: pa.Schema) -> "ConditionSet":
        """Compile each condition for ``schema``; type errors are collected, not raised."""
        expressions: dict[str, pc.Expression] = {}
        errors: dict[str, RuleTypeError] = {}
        for name, condition in conditions.items():
            try:
                expressions[name] = compile_condition(condition, schema)
            except RuleTypeError as exc:
                errors[name] = exc
        program = _Program.build({name: conditions[name] for name in expressions}, schema)
        return cls(schema=schema, expressions=expressions, errors=errors, _program=program)

    def evaluate(self, batch: pa.Table | pa.RecordBatch) -> dict[str, pa.BooleanArray]:
        """Where each condition holds, one boolean per row (never NULL).

        Raises:
            ValueError: the batch's schema is not the one the set was compiled for.
        """
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if not table.schema.equals(self.schema):
            raise ValueError("The batch's schema is not the one the conditions were compiled for.")
        if not self.expressions:
            return {}
        program = self._program
        if program is None:
            names = tuple(self.expressions)
            stage = acero.ProjectNodeOptions([self.expressions[n] for n in names], list(names))
            program = _Program(names, (stage,))
        return program.run(table)


def _boolean_array(column: pa.ChunkedArray, rows: int) -> pa.BooleanArray:
    if column.num_chunks == 0:
        return pa.array([False] * rows, type=pa.bool_())
    combined = column.combine_chunks()
    if len(combined) != rows:  # a scalar broadcast by Arrow keeps the table's length
        return pa.repeat(combined[0], rows)
    return combined


def _known(fired: pa.BooleanArray) -> pa.BooleanArray:
    """NULL as FALSE: ``x AND x IS NOT NULL`` (Kleene), two bitmap operations."""
    if fired.null_count == 0:
        return fired
    return pc.and_kleene(fired, pc.is_valid(fired))


# ---------------------------------------------------------------------- shared work


class _Keys:
    """What each sub-expression computes, as text: its structure and the rule's time zone.

    Two sub-expressions with one key compile to the same Arrow expression (compiling a node
    depends only on the node, the zone and the schema). Keys are remembered per node object,
    so a tree's keys cost one walk, not one rendering per node and ancestor.
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[exp.Expr, str]] = {}

    def of(self, node: exp.Expr, zone: str) -> str:
        return f"{zone}\x00{self._structure(node)}"

    def _structure(self, node: exp.Expr) -> str:
        known = self._memo.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        parts = []
        for name in sorted(node.args):
            value = node.args[name]
            if value is None:
                continue
            items = value if isinstance(value, list) else [value]
            shown = ",".join(
                self._structure(v) if isinstance(v, exp.Expr) else repr(v) for v in items
            )
            parts.append(f"{name}=[{shown}]" if isinstance(value, list) else f"{name}={shown}")
        text = f"{type(node).__name__}({';'.join(parts)})"
        self._memo[id(node)] = (node, text)  # the node is kept, so its id is not reused
        return text


def _shareable(node: exp.Expr) -> bool:
    """Worth a column of its own when repeated: an operation that reads at least one field."""
    return not isinstance(node, _LEAVES) and node.find(exp.Column) is not None


_LEAVES = (exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Identifier, exp.DataType)


@dataclass(frozen=True, slots=True)
class _SharedColumn:
    """A repeated sub-expression, computed once per batch as the column ``name``.

    ``reads`` are the shared columns its expression reads; ``level`` is one more than theirs,
    so each level can be projected from the columns of the levels before it.
    """

    name: str
    typed: Typed
    level: int
    reads: frozenset[str]


class _Sharing:
    """The sub-expressions met more than once in a set's conditions, and their columns."""

    def __init__(self, repeated: frozenset[str], prefix: str) -> None:
        self.repeated = repeated
        self.prefix = prefix
        self.by_key: dict[str, _SharedColumn] = {}
        self.by_name: dict[str, _SharedColumn] = {}

    def add(self, key: str, typed: Typed, reads: frozenset[str]) -> _SharedColumn:
        level = 1 + max((self.by_name[name].level for name in reads), default=0)
        column = _SharedColumn(f"{self.prefix}{len(self.by_key)}", typed, level, reads)
        self.by_key[key] = column
        self.by_name[column.name] = column
        return column


@dataclass(frozen=True, slots=True)
class _Program:
    """A set's conditions as projections: shared columns level by level, then the results."""

    names: tuple[str, ...]
    stages: tuple[acero.ProjectNodeOptions, ...]

    @classmethod
    def build(cls, conditions: Mapping[str, Condition], schema: pa.Schema) -> "_Program":
        """Compile ``conditions`` (each known to compile) with their shared sub-expressions."""
        keys = _Keys()
        counts: Counter[str] = Counter()
        for condition in conditions.values():
            _Compiler(schema, condition.timezone, counts=counts, keys=keys).condition(
                condition.tree
            )
        prefix = "__shared_"  # names of their own, beside the batch's fields
        while any(name.startswith(prefix) for name in schema.names):
            prefix += "_"
        # Shared columns are projected beside the batch's fields, which needs unique names.
        unique = len(set(schema.names)) == len(schema.names)
        repeated = frozenset(key for key, n in counts.items() if n > 1 and unique)
        sharing = _Sharing(repeated, prefix)
        results: list[pc.Expression] = []
        read: set[str] = set()
        for condition in conditions.values():
            compiler = _Compiler(schema, condition.timezone, sharing=sharing, keys=keys)
            typed = compiler.condition(condition.tree)
            results.append(pc.scalar(False) if typed.kind == "null" else typed.expr)
            read |= compiler.reads
        stages = _stages(schema, sharing, read)
        stages.append(acero.ProjectNodeOptions(results, list(conditions)))
        return cls(tuple(conditions), tuple(stages))

    def run(self, table: pa.Table) -> dict[str, pa.BooleanArray]:
        """Each condition's result on ``table``, NULL as FALSE."""
        steps = [acero.Declaration("table_source", acero.TableSourceNodeOptions(table))]
        steps += [acero.Declaration("project", stage) for stage in self.stages]
        result = acero.Declaration.from_sequence(steps).to_table(use_threads=False)
        return {
            name: _known(_boolean_array(result.column(index), table.num_rows))
            for index, name in enumerate(self.names)
        }


def _stages(schema: pa.Schema, sharing: _Sharing, read: set[str]) -> list[acero.ProjectNodeOptions]:
    """One projection per level of shared columns (``read`` are those the results read).

    Each passes on the batch's fields and the shared columns read after it.
    """
    levels: dict[int, list[_SharedColumn]] = {}
    for column in sharing.by_name.values():
        levels.setdefault(column.level, []).append(column)
    groups = [levels[level] for level in sorted(levels)]
    read_after: list[set[str]] = [set() for _ in groups]
    wanted = set(read)
    for position in range(len(groups) - 1, -1, -1):
        read_after[position] = set(wanted)
        wanted |= {name for column in groups[position] for name in column.reads}
    fields = list(schema.names)
    carried: list[str] = []
    stages = []
    for group, after in zip(groups, read_after, strict=True):
        defined = {column.name: column.typed.expr for column in group}
        passed = [name for name in [*carried, *defined] if name in after]
        values = [pc.field(name) for name in fields]
        values += [defined[name] if name in defined else pc.field(name) for name in passed]
        stages.append(acero.ProjectNodeOptions(values, fields + passed))
        carried = passed
    return stages


class _Compiler:
    """Compiles a checked tree, node by node, into typed Arrow expressions.

    With ``counts``, it also counts how often each sub-expression is compiled; with
    ``sharing``, a sub-expression counted more than once compiles to a reference to its shared
    column (compiled the first time it is met), and ``reads`` collects the columns referred to.
    """

    def __init__(
        self,
        schema: pa.Schema,
        zone: str,
        *,
        counts: Counter[str] | None = None,
        sharing: _Sharing | None = None,
        keys: _Keys | None = None,
    ) -> None:
        self.schema = schema
        self.zone = zone
        self.counts = counts
        self.sharing = sharing
        self.keys = keys or _Keys()
        self.reads: set[str] = set()
        self.handlers: dict[type[exp.Expr], Callable[[exp.Expr], Typed]] = {
            exp.Paren: lambda n: self.compile(n.this),
            exp.And: self._and,
            exp.Or: self._or,
            exp.Not: self._not,
            exp.EQ: lambda n: self._compare(n, "equal"),
            exp.NEQ: lambda n: self._compare(n, "not_equal"),
            exp.GT: lambda n: self._compare(n, "greater"),
            exp.GTE: lambda n: self._compare(n, "greater_equal"),
            exp.LT: lambda n: self._compare(n, "less"),
            exp.LTE: lambda n: self._compare(n, "less_equal"),
            exp.In: self._in,
            exp.Between: self._between,
            exp.Like: lambda n: self._like(n, ignore_case=False),
            exp.ILike: lambda n: self._like(n, ignore_case=True),
            exp.Is: self._is,
            exp.Add: lambda n: self._arithmetic(n, "add"),
            exp.Sub: lambda n: self._arithmetic(n, "subtract"),
            exp.Mul: lambda n: self._arithmetic(n, "multiply"),
            exp.Div: self._divide,
            exp.Neg: self._negate,
            exp.DPipe: self._concat,
            exp.Case: self._case,
            exp.If: self._if,
            exp.Anonymous: self._function,
            exp.Cast: self._cast,
            exp.Column: self._column,
            exp.Literal: self._literal,
            exp.Boolean: lambda n: Typed(pc.scalar(bool(n.this)), pa.bool_()),
            exp.Null: lambda _: null_of(pa.null()),
        }

    def condition(self, tree: exp.Expr) -> Typed:
        """A whole condition: true, false or NULL.

        Raises:
            RuleTypeError: its types do not fit the schema, or it yields a value.
        """
        typed = self.compile(tree)
        if typed.kind not in ("bool", "null"):
            raise RuleTypeError(
                f"The condition yields {NAMES[typed.kind]}, not true or false.",
                hint="Compare the value: e.g. amount > 100.",
            )
        return typed

    def compile(self, node: exp.Expr) -> Typed:
        if (self.counts is None and self.sharing is None) or not _shareable(node):
            return self._compile(node)
        key = self.keys.of(node, self.zone)
        if self.counts is not None:
            self.counts[key] += 1
        sharing = self.sharing
        if sharing is None or key not in sharing.repeated:
            return self._compile(node)
        column = sharing.by_key.get(key)
        if column is None:
            outer, self.reads = self.reads, set()
            try:
                column = sharing.add(key, self._compile(node), frozenset(self.reads))
            finally:
                self.reads = outer
        self.reads.add(column.name)
        return Typed(pc.field(column.name), column.typed.type)

    def _compile(self, node: exp.Expr) -> Typed:
        handler = self.handlers.get(type(node))
        if handler is None:  # the language's checks keep other nodes out
            raise RuleTypeError(f"{type(node).__name__} cannot be evaluated.")
        result = handler(node)
        if node.args.get("negate"):  # sqlglot keeps NOT LIKE as LIKE with negate set
            return Typed(_call("invert", [result.expr]), pa.bool_())
        return result

    # ------------------------------------------------------------------ logic

    def logical(self, node: exp.Expr, what: str) -> Typed:
        value = self.compile(node)
        if value.kind == "null":
            return null_of(pa.bool_())
        if value.kind != "bool":
            raise RuleTypeError(
                f"{what} must be true or false, not {NAMES[value.kind]}.",
                hint="Compare the value: e.g. amount > 100.",
            )
        return value

    def _and(self, node: exp.Expr) -> Typed:
        left = self.logical(node.this, "An operand of AND")
        right = self.logical(node.expression, "An operand of AND")
        return Typed(_call("and_kleene", [left.expr, right.expr]), pa.bool_())

    def _or(self, node: exp.Expr) -> Typed:
        left = self.logical(node.this, "An operand of OR")
        right = self.logical(node.expression, "An operand of OR")
        return Typed(_call("or_kleene", [left.expr, right.expr]), pa.bool_())

    def _not(self, node: exp.Expr) -> Typed:
        value = self.logical(node.this, "The operand of NOT")
        return Typed(_call("invert", [value.expr]), pa.bool_())

    # ------------------------------------------------------------------ comparisons

    def _compare(self, node: exp.Expr, function: str) -> Typed:
        left, right = self._comparable(*self._pair(node.this, node.expression))
        return Typed(_call(function, [left.expr, right.expr]), pa.bool_())

    def _pair(self, left_node: exp.Expr, right_node: exp.Expr) -> tuple[Typed, Typed]:
        """Both operands compiled; a text literal met by a time or date is read as one."""
        left, right = self.compile(left_node), self.compile(right_node)
        return self._read_as(left_node, left, right), self._read_as(right_node, right, left)

    def _read_as(self, node: exp.Expr, value: Typed, other: Typed) -> Typed:
        if not (isinstance(node, exp.Literal) and node.is_string):
            return value
        if other.kind == "timestamp":
            return self._time_literal(str(node.this))
        if other.kind == "date":
            return self._date_literal(str(node.this))
        return value

    def _comparable(self, left: Typed, right: Typed) -> tuple[Typed, Typed]:
        """Both sides of a comparison in one type, as SQL would coerce them."""
        if left.kind == "null" or right.kind == "null":
            target = right.type if left.kind == "null" else left.type
            if pa.types.is_null(target):
                target = pa.bool_()
            return (
                null_of(target) if left.kind == "null" else left,
                null_of(target) if right.kind == "null" else right,
            )
        if left.kind == right.kind == "number":
            if left.type != right.type:
                return as_float(left), as_float(right)
            return left, right
        if left.kind in ("timestamp", "date") or right.kind in ("timestamp", "date"):
            return self._temporal_pair(left, right)
        if left.kind != right.kind:
            raise RuleTypeError(
                f"Cannot compare {NAMES[left.kind]} with {NAMES[right.kind]}.",
                hint="Compare values of one kind; quote text, leave numbers unquoted.",
            )
        return left, right

    def _temporal_pair(self, left: Typed, right: Typed) -> tuple[Typed, Typed]:
        kinds = {left.kind, right.kind}
        if kinds == {"date"}:
            return left, right
        if kinds <= {"timestamp"}:
            utc = pa.timestamp(_TIME_UNIT, tz="UTC")
            return self._as_type(left, utc), self._as_type(right, utc)
        if kinds == {"timestamp", "date"}:
            return self._date_as_time(left), self._date_as_time(right)
        raise RuleTypeError(
            f"Cannot compare {NAMES[left.kind]} with {NAMES[right.kind]}.",
            hint="Write a time as text, e.g. '2025-01-31 08:00', or use local_date(time).",
        )

    def _as_type(self, value: Typed, target: pa.DataType) -> Typed:
        if value.type == target:
            return value
        if isinstance(value.type, pa.TimestampType) and value.type.tz is None:
            # Arrow reads a zone-less time as UTC when it adds the zone; convert units first.
            naive = value.expr.cast(pa.timestamp(_TIME_UNIT))
            return Typed(naive.cast(target), target)
        return Typed(value.expr.cast(target), target)

    def _date_as_time(self, value: Typed) -> Typed:
        """A date as its midnight in the rule's zone; a time as UTC microseconds."""
        utc = pa.timestamp(_TIME_UNIT, tz="UTC")
        if value.kind != "date":
            return self._as_type(value, utc)
        midnight = value.expr.cast(pa.timestamp(_TIME_UNIT))
        zoned = _call(
            "assume_timezone", [midnight], pc.AssumeTimezoneOptions(self.zone, ambiguous="earliest",
                                                                   nonexistent="earliest")
        )  # fmt: skip
        return Typed(zoned.cast(utc), utc)

    def _in(self, node: exp.Expr) -> Typed:
        result: pc.Expression | None = None
        for option in node.expressions:
            left, right = self._comparable(*self._pair(node.this, option))
            equal = _call("equal", [left.expr, right.expr])
            result = equal if result is None else _call("or_kleene", [result, equal])
        assert result is not None  # noqa: S101 - the language refuses an empty list
        return Typed(result, pa.bool_())

    def _between(self, node: exp.Expr) -> Typed:
        low_left, low = self._comparable(*self._pair(node.this, node.args["low"]))
        high_left, high = self._comparable(*self._pair(node.this, node.args["high"]))
        above = _call("greater_equal", [low_left.expr, low.expr])
        below = _call("less_equal", [high_left.expr, high.expr])
        return Typed(_call("and_kleene", [above, below]), pa.bool_())

    def _like(self, node: exp.Expr, *, ignore_case: bool) -> Typed:
        subject = self.compile(node.this)
        if subject.kind == "null":
            return null_of(pa.bool_())
        if subject.kind != "text":
            raise RuleTypeError(f"LIKE needs text, not {NAMES[subject.kind]}.")
        pattern = str(node.expression.this)
        if "%" not in pattern and "_" not in pattern:
            # No wildcard: plain equality (Arrow's LIKE also misses '' LIKE '').
            if ignore_case:
                lowered = _call("utf8_lower", [subject.expr])
                return Typed(_call("equal", [lowered, pc.scalar(pattern.lower())]), pa.bool_())
            return Typed(_call("equal", [subject.expr, pc.scalar(pattern)]), pa.bool_())
        # SQL's LIKE here has no escape character; Arrow's treats a backslash as one.
        pattern = pattern.replace("\\", "\\\\")
        options = pc.MatchSubstringOptions(pattern, ignore_case=ignore_case)
        return Typed(_call("match_like", [subject.expr], options), pa.bool_())

    def _is(self, node: exp.Expr) -> Typed:
        subject = self.compile(node.this)
        target = node.expression
        if isinstance(target, exp.Null):
            if subject.kind == "null":
                return Typed(pc.scalar(True), pa.bool_())
            return Typed(_call("is_null", [subject.expr]), pa.bool_())
        value = self.logical(node.this, "The value before IS TRUE/FALSE")
        wanted = pc.scalar(bool(target.this))
        known = _call("equal", [value.expr, wanted])
        return Typed(_call("coalesce", [known, pc.scalar(False)]), pa.bool_())

    # ------------------------------------------------------------------ values

    def _numbers(self, node: exp.Expr, what: str) -> tuple[Typed, Typed]:
        left, right = self.compile(node.this), self.compile(node.expression)
        for side in (left, right):
            if side.kind not in ("number", "null"):
                raise RuleTypeError(f"{what} needs numbers, not {NAMES[side.kind]}.")
        if left.kind == "null" or right.kind == "null":
            return null_of(pa.float64()), null_of(pa.float64())
        if left.type != right.type or not (
            pa.types.is_int64(left.type) or pa.types.is_float64(left.type)
        ):
            return as_float(left), as_float(right)
        return left, right

    def _arithmetic(self, node: exp.Expr, function: str) -> Typed:
        left, right = self._numbers(node, "Arithmetic")
        return Typed(_call(function, [left.expr, right.expr]), left.type)

    def _divide(self, node: exp.Expr) -> Typed:
        left, right = self._numbers(node, "Division")
        numerator, denominator = as_float(left), as_float(right)
        zero = _call("equal", [denominator.expr, pc.scalar(0.0)])
        safe = _call("if_else", [zero, null_of(pa.float64()).expr, denominator.expr])
        return Typed(_call("divide", [numerator.expr, safe]), pa.float64())

    def _negate(self, node: exp.Expr) -> Typed:
        value = self.compile(node.this)
        if value.kind == "null":
            return null_of(pa.float64())
        if value.kind != "number":
            raise RuleTypeError(f"A minus sign needs a number, not {NAMES[value.kind]}.")
        return Typed(_call("negate", [value.expr]), value.type)

    def _concat(self, node: exp.Expr) -> Typed:
        parts = [self.compile(node.this), self.compile(node.expression)]
        for part in parts:
            if part.kind not in ("text", "null"):
                raise RuleTypeError(f"|| joins text, not {NAMES[part.kind]}.")
        left, right = (p if p.kind == "text" else null_of(pa.string()) for p in parts)
        joined = _call("binary_join_element_wise", [left.expr, right.expr, pc.scalar("")])
        return Typed(joined, pa.string())

    def _case(self, node: exp.Expr) -> Typed:
        subject = node.this
        branches: list[tuple[pc.Expression, Typed]] = []
        for branch in node.args.get("ifs") or []:
            if subject is None:
                test = self.logical(branch.this, "A WHEN of CASE")
            else:
                left, right = self._comparable(*self._pair(node.this, branch.this))
                test = Typed(_call("equal", [left.expr, right.expr]), pa.bool_())
            branches.append((test.expr, self.compile(branch.args["true"])))
        default = node.args.get("default")
        otherwise = self.compile(default) if default is not None else null_of(pa.null())
        return self._choose(branches, otherwise)

    def _if(self, node: exp.Expr) -> Typed:
        test = self.logical(node.this, "The condition of IF")
        return self._choose(
            [(test.expr, self.compile(node.args["true"]))], self.compile(node.args["false"])
        )

    def _choose(self, branches: list[tuple[pc.Expression, Typed]], otherwise: Typed) -> Typed:
        """CASE: the first branch whose test is TRUE (a NULL test is not), else ``otherwise``."""
        values = [value for _, value in branches] + [otherwise]
        kinds = {v.kind for v in values} - {"null"}
        if len(kinds) > 1:
            raise RuleTypeError(
                f"The branches of CASE/IF give {' and '.join(NAMES[k] for k in sorted(kinds))}.",
                hint="Make every branch give values of one kind.",
            )
        types = {v.type for v in values if v.kind != "null"}
        target = (
            pa.null()
            if not types
            else types.pop()
            if len(types) == 1
            else pa.float64()
            if kinds == {"number"}
            else pa.timestamp(_TIME_UNIT, tz="UTC")
        )
        if pa.types.is_null(target):
            return null_of(pa.null())

        def fit(value: Typed) -> pc.Expression:
            if value.kind == "null":
                return null_of(target).expr
            return value.expr if value.type == target else value.expr.cast(target)

        result = fit(otherwise)
        for test, value in reversed(branches):
            known = _call("coalesce", [test, pc.scalar(False)])
            result = _call("if_else", [known, fit(value), result])
        return Typed(result, target)

    def _function(self, node: exp.Expr) -> Typed:
        spec = FUNCTIONS[str(node.name).lower()]
        args = [self.compile(argument) for argument in node.expressions]
        literals: list[Literal] = [_literal_value(a) for a in node.expressions]
        try:
            return spec.build(Call(args, literals, self.zone))
        except pa.ArrowInvalid as exc:
            raise RuleTypeError(f"{spec.name}() cannot take these arguments: {exc}") from exc

    def _cast(self, node: exp.Expr) -> Typed:
        target = node.args["to"].this
        if target == exp.DataType.Type.DOUBLE:
            value = self.compile(node.this)
            if value.kind == "null":
                return null_of(pa.float64())
            if value.kind != "number":
                raise RuleTypeError(f"CAST to DOUBLE needs a number, not {NAMES[value.kind]}.")
            return as_float(value)
        text = str(node.this.this)
        if target == exp.DataType.Type.DATE:
            return self._date_literal(text)
        return self._time_literal(text)

    def _column(self, node: exp.Expr) -> Typed:
        assert isinstance(node, exp.Column)  # noqa: S101 - dispatched by type
        path = [str(part.name) for part in node.parts]
        data_type: pa.DataType | None = None
        current: pa.Schema | pa.StructType = self.schema
        for step in path:
            index = current.get_field_index(step)
            if index < 0:
                return null_of(pa.null())
            data_type = current.field(index).type
            if isinstance(data_type, pa.StructType):
                current = data_type
            elif step != path[-1]:
                return null_of(pa.null())
        assert data_type is not None  # noqa: S101 - a column has at least one part
        if kind_of(data_type) == "other":
            raise RuleTypeError(
                f"The field {'.'.join(path)!r} holds {data_type}, which rules cannot compare.",
                hint="Compare one of its members instead, e.g. data.amount.",
            )
        return Typed(pc.field(*path), data_type)

    def _literal(self, node: exp.Expr) -> Typed:
        if node.is_string:
            return Typed(pc.scalar(str(node.this)), pa.string())
        text = str(node.this)
        if text.isdigit() and int(text) < 2**63:
            return Typed(pc.scalar(pa.scalar(int(text), type=pa.int64())), pa.int64())
        return Typed(pc.scalar(float(text)), pa.float64())

    def _date_literal(self, text: str) -> Typed:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise RuleTypeError(
                f"{text!r} is not a date.", hint="Write dates as 'YYYY-MM-DD'."
            ) from None
        return Typed(pc.scalar(pa.scalar(day, type=pa.date32())), pa.date32())

    def _time_literal(self, text: str) -> Typed:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise RuleTypeError(
                f"{text!r} is not a time.",
                hint="Write times as 'YYYY-MM-DD HH:MM[:SS][+01:00]'.",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(self.zone))
        utc = pa.timestamp(_TIME_UNIT, tz="UTC")
        return Typed(pc.scalar(pa.scalar(moment, type=utc)), utc)


def _literal_value(node: exp.Expr) -> Literal:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        text = str(node.this)
        return int(text) if text.isdigit() else None
    return None
