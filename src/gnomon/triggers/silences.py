"""Silences: for a while, alerts whose labels match are not notified.

A silence is a set of label matchers (``severity=critical``, ``region!=EU``, ``rule=~"kpi_.*"``,
``env!~"test|dev"``) and a time range. An alert is silenced when *every* matcher matches its
labels (see :func:`gnomon.triggers.grouping.alert_labels`) while the silence is active. Silencing
only mutes notifications: the alert still pends, fires and resolves, so lifting the silence
shows the truth at once.

Regular expressions match the *whole* label value (``re.fullmatch``), so ``rule=~kpi`` does not
silence ``kpi_drop`` by accident. They are compiled when the matcher is made, so a bad pattern is
refused when the silence is created, not when an alert arrives; their length is capped to keep
matching cheap. A label an alert does not have counts as the empty string, so ``team!=ops``
covers alerts without a ``team``.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from gnomon.errors import InvalidInput

__all__ = ["MATCH_OPS", "MatchOp", "Matcher", "Silence", "parse_matcher", "silencing"]

MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPS: tuple[MatchOp, ...] = ("=", "!=", "=~", "!~")
MAX_PATTERN = 500
"""Longest regular expression a matcher accepts, in characters."""

_EXAMPLE = 'severity=critical, region!=EU, rule=~"kpi_.*" or env!~"test|dev"'
_NAME = re.compile(r'[^\s=!~"]+')
_MATCHER = re.compile(r'\s*(?P<name>[^\s=!~"]+)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*', re.S)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label: ``name op value``; a missing label counts as ``""``.

    Raises:
        InvalidInput: the name is empty or holds spaces, quotes or operator characters; the
            operator is unknown; or a regular expression does not compile or is too long.
    """

    name: str
    op: MatchOp
    value: str
    _pattern: "re.Pattern[str] | None" = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or not self.name.isprintable():
            raise InvalidInput(
                f"matcher label name {self.name!r} is not valid: it must be non-empty, "
                "without spaces, quotes, '=', '!' or '~'.",
                hint=f"Name a label as alerts carry it, e.g. {_EXAMPLE}.",
                matcher=self.name,
            )
        if self.op not in MATCH_OPS:
            raise InvalidInput(
                f"matcher {self.name!r} has an unknown operator {self.op!r}.",
                hint="Use one of = (equal), != (not equal), =~ (regex), !~ (not regex).",
                matcher=self.name,
                valid=list(MATCH_OPS),
            )
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_pattern", _compile(self))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a label not in ``labels`` is ``""``)."""
        got = labels.get(self.name, "")
        if self._pattern is not None:
            found = self._pattern.fullmatch(got) is not None
            return found if self.op == "=~" else not found
        return (got == self.value) if self.op == "=" else (got != self.value)

    def text(self) -> str:
        """The matcher as :func:`parse_matcher` reads it; the value is quoted only when needed.

        >>> Matcher("rule", "=~", "kpi_.*").text()
        'rule=~kpi_.*'
        >>> Matcher("team", "=", "").text()
        'team=""'
        """
        return f"{self.name}{self.op}{_quoted(self.value)}"


def parse_matcher(text: str) -> Matcher:
    r"""Read one matcher: ``name``, an operator (``=``, ``!=``, ``=~``, ``!~``), and a value.

    Spaces around the operator are allowed. The value runs to the end of the text (surrounding
    spaces dropped) or is written in double quotes, inside which ``\"`` is a quote and ``\\`` a
    backslash (any other backslash is kept, so ``"\d+"`` is the regex ``\d+``).

    >>> parse_matcher('rule =~ "kpi_.*"')
    Matcher(name='rule', op='=~', value='kpi_.*')
    >>> parse_matcher("env!~test|dev").matches({"env": "prod"})
    True

    Raises:
        InvalidInput: the text is not a matcher, or its regular expression is not valid.
    """
    found = _MATCHER.fullmatch(text)
    value = None if found is None else _unquoted(found["value"])
    if found is None or value is None:
        raise InvalidInput(
            f"not a label matcher: {_short(text)!r}.",
            hint=f"Write a label name, an operator (=, !=, =~, !~) and a value, e.g. {_EXAMPLE}; "
            'quote a value with double quotes when it has spaces: team="data ops".',
            text=text,
        )
    return Matcher(found["name"], cast("MatchOp", found["op"]), value)


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts matching all of ``matchers`` are not notified from ``starts_at`` until ``ends_at``.

    Times are timezone-aware; the range includes its start and excludes its end.

    Raises:
        InvalidInput: no matchers, an empty id, naive times, or an end not after the start.
    """

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str | None = None
    comment: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.id:
            raise InvalidInput("silence has an empty id.", hint="Give the silence an id.")
        if not self.matchers:
            raise InvalidInput(
                f"silence {self.id!r} has no matchers: it would silence every alert.",
                hint=f"Give at least one label matcher, e.g. {_EXAMPLE}.",
                silence=self.id,
            )
        for name in ("starts_at", "ends_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise InvalidInput(
                    f"silence {self.id!r} has a {name} without a time zone: {moment.isoformat()}.",
                    hint="Give times with an offset, e.g. 2025-03-01T12:00:00+00:00.",
                    silence=self.id,
                )
        if self.ends_at <= self.starts_at:
            raise InvalidInput(
                f"silence {self.id!r} ends ({self.ends_at.isoformat()}) before it starts "
                f"({self.starts_at.isoformat()}).",
                hint="Set ends_at after starts_at.",
                silence=self.id,
            )

    def active(self, at: datetime) -> bool:
        """Whether the silence holds at ``at`` (aware): ``starts_at <= at < ends_at``."""
        return self.starts_at <= at < self.ends_at

    def covers(self, labels: Mapping[str, str], at: datetime) -> bool:
        """Whether the silence is active at ``at`` and every matcher matches ``labels``."""
        return self.active(at) and all(m.matches(labels) for m in self.matchers)

    def to_dict(self) -> dict[str, object]:
        """The silence as JSON-able data (ISO times), read back by :meth:`from_dict`."""
        return {
            "id": self.id,
            "matchers": [{"name": m.name, "op": m.op, "value": m.value} for m in self.matchers],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "Silence":
        """A silence from :meth:`to_dict`'s shape; a matcher may also be given as its text.

        Raises:
            InvalidInput: a field is missing or of the wrong type, or the silence is not valid.
        """
        matchers = data.get("matchers")
        if not isinstance(matchers, list):
            raise _shape("matchers", "a list of matchers")
        created_by = data.get("created_by")
        if created_by is not None and not isinstance(created_by, str):
            raise _shape("created_by", "a string or null")
        return cls(
            id=_field(data, "id"),
            matchers=tuple(_matcher(m) for m in matchers),
            starts_at=_moment(data, "starts_at"),
            ends_at=_moment(data, "ends_at"),
            created_by=created_by,
            comment=_field(data, "comment", default=""),
        )


def silencing(
    labels: Mapping[str, str], silences: Iterable[Silence], at: datetime
) -> Silence | None:
    """The first of ``silences`` that covers an alert with ``labels`` at ``at``, or ``None``."""
    return next((s for s in silences if s.covers(labels, at)), None)


def _compile(matcher: Matcher) -> "re.Pattern[str]":
    shown = f"{matcher.name}{matcher.op}{_short(_quoted(matcher.value))}"
    if len(matcher.value) > MAX_PATTERN:
        raise InvalidInput(
            f"matcher {shown} has a regular expression of {len(matcher.value)} characters; "
            f"at most {MAX_PATTERN} are allowed.",
            hint="Shorten the pattern, or split the silence into several.",
            matcher=matcher.name,
        )
    try:
        return re.compile(matcher.value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise InvalidInput(
            f"matcher {shown} has an invalid regular expression: {exc}.",
            hint='Fix the pattern (it must match the whole value, e.g. rule=~"kpi_.*"), '
            "or use = or != to compare a plain value.",
            matcher=matcher.name,
        ) from exc


def _quoted(value: str) -> str:
    plain = value and value == value.strip() and value[0] not in '"=~' and value.isprintable()
    if plain:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquoted(raw: str) -> str | None:
    """The value written in ``raw``: as is, or the inside of its double quotes (None if bad)."""
    if not raw.startswith('"'):
        return raw
    chars: list[str] = []
    index = 1
    while index < len(raw):
        char = raw[index]
        if char == '"':
            return "".join(chars) if index == len(raw) - 1 else None
        if char == "\\" and index + 1 < len(raw) and raw[index + 1] in '"\\':
            index += 1
            char = raw[index]
        chars.append(char)
        index += 1
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shape(name: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"silence field {name!r} is missing or wrong: expected {expected}.",
        hint="Send a silence as its to_dict() writes it: id, matchers, starts_at, ends_at.",
        field=name,
    )


def _field(data: Mapping[str, object], name: str, *, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise _shape(name, "a string")
    return value


def _moment(data: Mapping[str, object], name: str) -> datetime:
    text = _field(data, name)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _shape(name, "an ISO 8601 time such as 2025-03-01T12:00:00+00:00") from None


def _matcher(item: object) -> Matcher:
    if isinstance(item, str):
        return parse_matcher(item)
    if isinstance(item, Mapping):
        name, op, value = item.get("name"), item.get("op"), item.get("value")
        if isinstance(name, str) and isinstance(op, str) and isinstance(value, str):
            return Matcher(name, cast("MatchOp", op), value)
    raise _shape("matchers", "each matcher as {name, op, value} or text such as region!=EU")
