"""Dataset-level checks: facts about a batch as a whole, decided before it is published.

Each check is split in two so that the engine does the counting and Python does the judging: a
``query`` that returns ONE row of observations, and an ``evaluate`` that turns that row into a
:class:`CheckResult`. The query runs wherever the data is (DuckDB, Spark, PostgreSQL); evaluation
needs no engine and takes "now" from the caller's injected clock, so it is testable.

A failed check with severity ``block`` stops the publish; ``warn`` is reported only.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlglot import exp

from gnomon.errors import InvalidInput
from gnomon.quality import _sql
from gnomon.quality.contract import Severity

__all__ = [
    "CheckResult",
    "DatasetCheck",
    "FreshnessCheck",
    "RowCountCheck",
    "UniqueCheck",
]

_CANDIDATE = "__candidate"
_CURRENT = "__current"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one dataset check.

    Attributes:
        rule: the check's name (``row_count``, ``freshness``, ``sku.unique``).
        severity: ``block`` or ``warn``.
        passed: whether the data met the expectation.
        observed: what was measured (a count, the newest timestamp …).
        expected: the expectation, in words.
        message: one sentence for people, saying what was found.
        failed_rows: rows at fault, when the check can count them.
    """

    rule: str
    severity: Severity
    passed: bool
    observed: Any
    expected: str
    message: str
    failed_rows: int | None = None

    @property
    def blocking(self) -> bool:
        """Whether this result stops the publish."""
        return not self.passed and self.severity == "block"

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (``observed`` as text unless it is a number or boolean)."""
        observed = self.observed
        if not (observed is None or isinstance(observed, bool | int | float | str)):
            observed = observed.isoformat() if isinstance(observed, date) else str(observed)
        return {
            "rule": self.rule,
            "severity": self.severity,
            "passed": self.passed,
            "observed": observed,
            "expected": self.expected,
            "message": self.message,
            "failed_rows": self.failed_rows,
        }


class DatasetCheck(Protocol):
    """A check over the batch's valid rows (the *candidate*) and, optionally, the current table."""

    @property
    def name(self) -> str:
        """The rule name results carry."""
        ...

    @property
    def severity(self) -> Severity:
        """``block`` or ``warn``."""
        ...

    def query(self, candidate: exp.Expr, current: exp.Expr | None) -> exp.Select:
        """One row of observations.

        ``candidate`` is a relation of the batch's valid rows; ``current`` is the published table
        (or only its rows whose key the batch does not replace), ``None`` on a first load.
        """
        ...

    def evaluate(self, row: Mapping[str, Any], *, now: datetime) -> CheckResult:
        """Judge the observations; ``now`` comes from the caller's clock."""
        ...


@dataclass(frozen=True, slots=True)
class RowCountCheck:
    """The batch has between ``min`` and ``max`` valid rows (either bound optional)."""

    min: int | None
    max: int | None
    severity: Severity = "block"
    name: str = "row_count"

    def query(self, candidate: exp.Expr, current: exp.Expr | None) -> exp.Select:  # noqa: ARG002
        """``row_count``: rows in the candidate."""
        count = exp.Count(this=exp.Star())
        return exp.select(_sql.alias(count, "row_count")).from_(
            _sql.relation(candidate, _CANDIDATE)
        )

    def evaluate(self, row: Mapping[str, Any], *, now: datetime) -> CheckResult:  # noqa: ARG002
        """Pass when the count is within the bounds."""
        count = int(row.get("row_count") or 0)
        passed = (self.min is None or count >= self.min) and (self.max is None or count <= self.max)
        if self.min is not None and self.max is not None:
            expected = f"between {self.min} and {self.max} rows"
        elif self.min is not None:
            expected = f"at least {self.min} rows"
        else:
            expected = f"at most {self.max} rows"
        return CheckResult(
            rule=self.name,
            severity=self.severity,
            passed=passed,
            observed=count,
            expected=expected,
            message=f"{self.name}: {count} valid rows, expected {expected}.",
        )


@dataclass(frozen=True, slots=True)
class FreshnessCheck:
    """The newest value of a date or timestamp column is at most ``max_age`` before now.

    The newest value is taken over the candidate and the current table together: a backfill of
    old rows does not make a dataset stale. A date counts as the end of that day, in UTC.
    """

    column: str
    max_age: timedelta
    max_age_text: str
    severity: Severity = "block"
    name: str = "freshness"

    def query(self, candidate: exp.Expr, current: exp.Expr | None) -> exp.Select:
        """``latest``: the newest value; ``dated_rows``: rows that have one."""
        rows = _column_union(self.column, candidate, current)
        value = _sql.col(self.column)
        return exp.select(
            _sql.alias(exp.Max(this=value), "latest"),
            _sql.alias(exp.Count(this=value.copy()), "dated_rows"),
        ).from_(rows)

    def evaluate(self, row: Mapping[str, Any], *, now: datetime) -> CheckResult:
        """Pass when ``now - latest`` is at most ``max_age`` (a future value passes)."""
        expected = f"newest {self.column} at most {self.max_age_text} old"
        latest = _instant(row.get("latest"), column=self.column)
        if latest is None:
            return CheckResult(
                rule=self.name,
                severity=self.severity,
                passed=False,
                observed=None,
                expected=expected,
                message=f"{self.name}: {self.column} has no values, so the data's age is unknown.",
            )
        moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        age = moment - latest
        passed = age <= self.max_age
        return CheckResult(
            rule=self.name,
            severity=self.severity,
            passed=passed,
            observed=row.get("latest"),
            expected=expected,
            message=f"{self.name}: newest {self.column} is {_age(age)} "
            f"({latest.isoformat()}), expected at most {self.max_age_text}.",
        )


def _instant(value: object, *, column: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    raise InvalidInput(
        f"Freshness of {column!r} cannot be judged: the newest value {value!r} is not a date or "
        "a timestamp.",
        hint=f"Declare {column!r} as a date or timestamp column in the contract.",
        column=column,
    )


def _age(age: timedelta) -> str:
    """``1d 15h old``, ``20m old`` or ``2d 0h in the future``."""
    suffix = "old" if age >= timedelta(0) else "in the future"
    seconds = int(abs(age.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h {suffix}"
    if hours:
        return f"{hours}h {minutes}m {suffix}"
    return f"{minutes}m {suffix}"


@dataclass(frozen=True, slots=True)
class UniqueCheck:
    """No two rows share a value of ``column`` (NULLs aside), across the batch and the table.

    Rows of the current table whose primary ``key`` the batch replaces are left out, so an update
    of a row does not collide with the row it replaces.
    """

    column: str
    key: tuple[str, ...] = ()
    severity: Severity = "block"

    @property
    def name(self) -> str:
        """``<column>.unique``."""
        return f"{self.column}.unique"

    def query(self, candidate: exp.Expr, current: exp.Expr | None) -> exp.Select:
        """``duplicate_values``, ``duplicate_rows`` and an ``example`` of a repeated value."""
        rows = _column_union(self.column, candidate, current, key=self.key)
        value = _sql.col(self.column)
        repeated = exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))
        groups = (
            exp.select(_sql.alias(value, "value"), _sql.alias(exp.Count(this=exp.Star()), "n"))
            .from_(rows)
            .where(exp.not_(exp.Is(this=value.copy(), expression=exp.Null())))
            .group_by(value.copy())
            .having(repeated)
        )
        return exp.select(
            _sql.alias(exp.Count(this=exp.Star()), "duplicate_values"),
            _sql.alias(
                exp.Coalesce(this=exp.Sum(this=_sql.col("n")), expressions=[exp.Literal.number(0)]),
                "duplicate_rows",
            ),
            _sql.alias(exp.Min(this=_sql.text(_sql.col("value"))), "example"),
        ).from_(groups.subquery(_sql.ident("__duplicates")))

    def evaluate(self, row: Mapping[str, Any], *, now: datetime) -> CheckResult:  # noqa: ARG002
        """Pass when no value repeats."""
        values = int(row.get("duplicate_values") or 0)
        rows = int(row.get("duplicate_rows") or 0)
        if values:
            message = (
                f"{self.name}: {rows} rows share {values} repeated value(s) of {self.column}, "
                f"for example {row.get('example')!r}."
            )
        else:
            message = f"{self.name}: every {self.column} value is unique."
        return CheckResult(
            rule=self.name,
            severity=self.severity,
            passed=values == 0,
            observed=values,
            expected=f"no repeated {self.column} values",
            message=message,
            failed_rows=rows,
        )


def _column_union(
    column: str,
    candidate: exp.Expr,
    current: exp.Expr | None,
    *,
    key: tuple[str, ...] = (),
) -> exp.Expr:
    """``column`` of the candidate's rows plus those of the current table's rows not replaced."""
    value = _sql.col(column)
    rows: exp.Query = exp.select(value).from_(_sql.relation(candidate, _CANDIDATE))
    if current is not None:
        kept = exp.select(_sql.col(column, _CURRENT)).from_(_sql.relation(current, _CURRENT))
        if key:
            keys = exp.select(*(_sql.alias(_sql.col(k), f"__key_{i}") for i, k in enumerate(key)))
            keys = keys.distinct().from_(_sql.relation(candidate, _CANDIDATE))
            on = exp.and_(
                *(
                    exp.EQ(
                        this=_sql.col(f"__key_{i}", "__replaced"), expression=_sql.col(k, _CURRENT)
                    )
                    for i, k in enumerate(key)
                )
            )
            kept = kept.join(
                keys.subquery(_sql.ident("__replaced")), on=on, join_type="left"
            ).where(exp.Is(this=_sql.col("__key_0", "__replaced"), expression=exp.Null()))
        rows = exp.union(rows, kept, distinct=False)
    return rows.subquery(_sql.ident("__rows"))
