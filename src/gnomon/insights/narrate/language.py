"""Numbers, money, percentages, dates and counted nouns in the reader's language.

Why Babel for every figure: a narrative read in Munich must say "1.234,50 €" and "18 %", one
read in Boston "€1,234.50" and "18%". Hand-written patterns get the spaces, signs and
grouping wrong for some locale; CLDR (through Babel) has them right for all of them, so no
number, currency, percentage or date reaches a template unformatted.

Why the nouns live in ``templates/<lang>/words.yaml`` and not in code: adding a language is
adding a folder (templates and words) without touching Python. Plural choice follows the
locale's CLDR plural rule (``one`` or not), so "1 segment" / "3 segments" and "1 Bestellung" /
"3 Bestellungen" come from the same code.

A locale such as ``de_CH`` or ``en-GB`` is accepted: its base language picks the templates
and words, the full locale formats the figures.
"""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib.resources import files
from typing import Any, Literal

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_time
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent, get_plus_sign_symbol

from gnomon.errors import InvalidInput
from gnomon.insights.findings import MetricFacts, Moment

__all__ = ["LANGUAGES", "Language", "When", "language_for"]

LANGUAGES: tuple[str, ...] = ("en", "de", "es")
"""The languages with templates, by ISO 639-1 code."""

_WEEK = 7


@dataclass(frozen=True, slots=True)
class When:
    """A moment or a span, formatted; templates add the preposition its kind needs.

    Attributes:
        kind: ``today``, ``weekday`` (within the last week: "Tuesday"), ``date`` (a full
            date, with the time for finer grains) or ``range`` (two dates or times).
        text: the formatted moment ("Tuesday, 4 March 2025", "4.-9. März 2025").
    """

    kind: Literal["today", "weekday", "date", "range"]
    text: str


@dataclass(frozen=True, slots=True)
class Language:
    """A language's words and a locale's formats.

    Attributes:
        code: the base language (``de``), which picks the templates.
        locale: the Babel locale that formats figures (``de_CH``).
        nouns: noun key → (singular, plural) in this language.
        words: a few fixed words ("(missing)", "the total").
        units: a metric unit as it may be written ("orders", "Bestellungen") → noun key.
        plurals: plural nouns (casefolded) of this language and of English, whose forms differ
            from the singular ("orders", "Bestellungen"; not "Fehler").
        prepositions: words after which a label's head noun has ended ("per", "of", "pro").
    """

    code: str
    locale: Locale
    nouns: Mapping[str, tuple[str, str]]
    words: Mapping[str, str]
    units: Mapping[str, str]
    plurals: frozenset[str] = frozenset()
    prepositions: frozenset[str] = frozenset()

    def is_plural(self, label: str) -> bool:
        """Whether a metric's label names a plural, so that verbs agree with it.

        The head of the label is what comes before its first preposition ("sessions" in
        "sessions per user"); the label is plural when the head's last word is a plural noun
        the language knows, or, if that word is no noun it knows, when any word of the head is
        one ("units sold"). Labels are often English whatever the narration's language, so
        English plurals count in every language. Anything else is singular ("revenue",
        "return rate", "average order value").

        >>> en = language_for("en")
        >>> [en.is_plural(x) for x in ("Returned orders", "revenue", "sessions per user")]
        [True, False, True]
        """
        words = label.casefold().split()
        for position, word in enumerate(words[1:], start=1):
            if word in self.prepositions:
                words = words[:position]
                break
        if not words:
            return False
        if words[-1] in self.plurals:
            return True
        if words[-1] in self.units:  # a singular noun it knows ("order count" is not "orders")
            return False
        return any(word in self.plurals for word in words)

    # ------------------------------------------------------------------ numbers

    def number(self, value: float, *, digits: int = 2) -> str:
        """A plain number rounded to ``digits`` decimals, grouped as the locale does."""
        if float(value).is_integer():
            return format_decimal(int(value), locale=self.locale)
        return format_decimal(
            _rounded(value, digits), locale=self.locale, decimal_quantization=False
        )

    def percent(self, fraction: float, *, digits: int = 1, signed: bool = False) -> str:
        """A fraction as a percentage (``0.183`` → "18.3%" / "18,3 %"), to ``digits`` decimals.

        ``signed`` adds the locale's plus sign to positive values (Babel adds the minus).
        """
        text = format_percent(
            _rounded(fraction * 100, digits).scaleb(-2),
            locale=self.locale,
            decimal_quantization=False,
        )
        if signed and fraction > 0 and _rounded(fraction * 100, digits) != 0:
            return get_plus_sign_symbol(self.locale) + text
        return text

    def value(self, value: float, metric: MetricFacts, *, exact: bool = False) -> str:
        """A value of ``metric`` with its unit: money, a percentage, or a counted noun.

        ``format == "percent"`` means values are fractions (0.034 is 3.4 %); a unit of ``%``
        with another format means they are already in percent. ``exact`` keeps more decimals
        (for the technical tone). Any other format is used as a Babel number pattern.
        """
        fmt, unit = metric.format, metric.unit
        digits = 6 if exact else 2
        if fmt == "currency" and unit:
            return format_currency(_rounded(value, max(digits, 2)), unit, locale=self.locale)
        if fmt == "percent":
            return self.percent(value, digits=4 if exact else 1)
        if unit == "%":
            return self.percent(value / 100, digits=4 if exact else 1)
        if fmt == "integer":
            text = format_decimal(round(value), locale=self.locale)
        elif fmt in (None, "number"):
            text = self.number(value, digits=digits)
        elif "¤" in fmt and unit:
            return format_currency(value, unit, format=fmt, locale=self.locale)
        else:
            text = format_decimal(value, format=fmt, locale=self.locale)
        if not unit or fmt == "currency":
            return text
        key = self.units.get(unit.casefold())
        return f"{text} {self.noun(value, key) if key else unit}"

    def count(self, count: float, key: str) -> str:
        """``count`` and the noun for ``key`` in the matching number ("1 segment", "3 segments")."""
        return f"{self.number(count)} {self.noun(count, key)}"

    def noun(self, count: float, key: str) -> str:
        """The noun for ``key`` in the form the locale's plural rule picks for ``count``."""
        one, other = self.nouns[key]
        number: float = int(count) if float(count).is_integer() else count
        return one if self.locale.plural_form(number) == "one" else other

    def p_value(self, p: float) -> str:
        """A p-value with its relation: "= 0.012", or "< 0.001" below a thousandth."""
        if p < 0.001:
            return "< " + format_decimal(0.001, locale=self.locale)
        return "= " + format_decimal(p, format="0.###", locale=self.locale)

    def and_list(self, items: Iterable[str]) -> str:
        """Items joined the locale's way ("a, b and c", "a, b und c", "a, b y c")."""
        return format_list(list(items), locale=self.locale)

    # ------------------------------------------------------------------ dates

    def moment(self, moment: Moment, *, today: date | None = None) -> When:
        """A bucket start: "today", a weekday within the last week of ``today``, or a full date.

        Datetimes with a time of day other than midnight get the time added (in their own
        zone; naive ones as they are).
        """
        day = moment.date() if isinstance(moment, datetime) else moment
        clock = ""
        if isinstance(moment, datetime) and moment.time() != datetime.min.time():
            clock = ", " + format_time(moment, format="short", locale=self.locale)
        if today is not None and 0 <= (today - day).days < _WEEK:
            if today == day and not clock:
                return When("today", self.words["today"])
            weekday = format_date(day, format="EEEE", locale=self.locale)
            return When("weekday", weekday + clock)
        return When("date", format_date(day, format="full", locale=self.locale) + clock)

    def window(self, start: Moment, end: Moment, *, today: date | None = None) -> When:
        """A half-open window ``[start, end)``: one bucket reads as its moment, more as a range."""
        if isinstance(start, datetime) and isinstance(end, datetime):
            if end - start <= timedelta(hours=1):
                return self.moment(start, today=today)
            return self.span(start, end - timedelta(hours=1), today=today)
        start, end = _day(start), _day(end)
        if end - start <= timedelta(days=1):
            return self.moment(start, today=today)
        return self.span(start, end - timedelta(days=1), today=today)

    def span(self, first: Moment, last: Moment, *, today: date | None = None) -> When:
        """An inclusive span from ``first`` to ``last`` (one moment when they are equal)."""
        if first == last:
            return self.moment(first, today=today)
        if isinstance(first, datetime) and isinstance(last, datetime):
            text = format_interval(first, last, skeleton="yMMMdHm", locale=self.locale)
        else:
            text = format_interval(_day(first), _day(last), skeleton="yMMMMd", locale=self.locale)
        return When("range", text)


def _day(moment: Moment) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _rounded(value: float, digits: int) -> Decimal:
    """``value`` rounded half-even to ``digits`` decimals, without binary float noise."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits)).normalize()


@functools.lru_cache(maxsize=64)
def language_for(lang: str) -> Language:
    """The language for ``lang``: a base code (``de``) or a locale (``de_CH``, ``en-GB``).

    Raises:
        InvalidInput: the code is not a locale, or its language has no templates.
    """
    try:
        locale = Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise InvalidInput(
            f"Unknown language {lang!r}: it is not a locale code.",
            hint=f"Use one of {', '.join(LANGUAGES)}, or a locale of one (de_CH, en-GB).",
            valid=list(LANGUAGES),
        ) from exc
    if locale.language not in LANGUAGES:
        raise InvalidInput(
            f"Unknown language {lang!r}: narratives are written in {', '.join(LANGUAGES)}.",
            hint=f"Use one of {', '.join(LANGUAGES)}, or a locale of one (de_CH, en-GB).",
            valid=list(LANGUAGES),
        )
    return _words(locale.language, locale)


def _words(code: str, locale: Locale) -> Language:
    own = _load(code)
    english = _load("en") if code != "en" else own
    nouns = {key: (forms[0], forms[1]) for key, forms in own["nouns"].items()}
    units: dict[str, str] = {}
    for table in (english["nouns"], own["nouns"]):
        for key, forms in table.items():
            for form in (key, *forms):
                units[form.casefold()] = key
    plurals = {
        forms[1].casefold()
        for table in (english["nouns"], own["nouns"])
        for forms in table.values()
        if forms[1].casefold() != forms[0].casefold()
    }
    prepositions = {
        str(word).casefold() for table in (english, own) for word in table.get("prepositions", ())
    }
    words = {key: str(word) for key, word in own["words"].items()}
    return Language(code, locale, nouns, words, units, frozenset(plurals), frozenset(prepositions))


@functools.cache
def _load(code: str) -> dict[str, dict[str, Any]]:
    text = (files("gnomon.insights.narrate") / "templates" / code / "words.yaml").read_text(
        encoding="utf-8"
    )
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return loaded
