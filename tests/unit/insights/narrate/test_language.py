from datetime import date, datetime
from decimal import Decimal

import pytest
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, format_percent

from gnomon.errors import InvalidInput
from gnomon.insights.findings import MetricFacts
from gnomon.insights.narrate.language import language_for


@pytest.mark.parametrize("lang", ["en", "de", "es", "de_CH", "en-GB", "es_MX"])
def test_figures_are_formatted_as_babel_does_for_the_locale(lang: str) -> None:
    language = language_for(lang)
    locale = lang.replace("-", "_")
    money = MetricFacts("revenue", unit="EUR", format="currency")
    plain = MetricFacts("score", format="number")
    assert language.value(1234.5, money) == format_currency(1234.5, "EUR", locale=locale)
    assert language.value(1234.5, plain) == format_decimal(1234.5, locale=locale)
    assert language.percent(0.18, digits=0) == format_percent(0.18, locale=locale)
    assert language.percent(0.183) == format_percent(
        Decimal("0.183"), locale=locale, decimal_quantization=False
    )


def test_german_and_spanish_figures_differ_from_english_ones() -> None:
    # Each language's figures come from its own locale, not from the default one.
    assert language_for("de").number(1234.5) == format_decimal(1234.5, locale="de")
    assert language_for("de").number(1234.5) != language_for("en").number(1234.5)
    assert language_for("es").value(
        1234.5, MetricFacts("x", unit="EUR", format="currency")
    ) == format_currency(1234.5, "EUR", locale="es")
    assert language_for("de").percent(0.18, digits=0) == format_percent(0.18, locale="de")
    assert language_for("de").percent(0.18, digits=0) != language_for("en").percent(0.18, digits=0)


def test_percent_rounds_to_the_digits_asked_and_signs_on_request() -> None:
    en = language_for("en")
    one_decimal = format_percent(Decimal("0.183"), locale="en", decimal_quantization=False)
    assert en.percent(0.18349, digits=1) == one_decimal
    assert en.percent(0.18349, digits=0) == format_percent(0.18, locale="en")
    assert en.percent(0.05, signed=True).startswith("+")
    assert en.percent(-0.05, signed=True).startswith("-")
    assert not en.percent(0.0, signed=True).startswith("+")


def test_value_formats_fractions_percent_units_and_counted_nouns() -> None:
    en = language_for("en")
    three_four = format_percent(Decimal("0.034"), locale="en", decimal_quantization=False)
    assert en.value(0.034, MetricFacts("cr", format="percent")) == three_four
    assert en.value(3.4, MetricFacts("cr", unit="%")) == three_four
    assert en.value(1, MetricFacts("o", unit="orders", format="integer")) == "1 order"
    assert en.value(3, MetricFacts("o", unit="orders", format="integer")) == "3 orders"
    assert en.value(2.5, MetricFacts("t", unit="ms")) == format_decimal(2.5, locale="en") + " ms"


@pytest.mark.parametrize(
    ("lang", "one", "other"),
    [
        ("en", "1 segment", "3 segments"),
        ("de", "1 Segment", "3 Segmente"),
        ("es", "1 segmento", "3 segmentos"),
    ],
)
def test_count_picks_singular_or_plural(lang: str, one: str, other: str) -> None:
    language = language_for(lang)
    assert language.count(1, "segment") == one
    assert language.count(3, "segment") == other


def test_units_are_recognised_in_english_and_in_the_language() -> None:
    de = language_for("de")
    for unit in ("orders", "order", "Bestellungen"):
        metric = MetricFacts("o", unit=unit, format="integer")
        assert de.value(1, metric) == "1 Bestellung"
        assert de.value(3, metric) == "3 Bestellungen"


@pytest.mark.parametrize("lang", ["en", "de", "es", "en_GB"])
def test_dates_are_full_dates_or_weekdays_within_the_last_week(lang: str) -> None:
    language = language_for(lang)
    day = date(2025, 3, 4)
    full = format_date(day, format="full", locale=lang)
    weekday = format_date(day, format="EEEE", locale=lang)
    assert language.moment(day).text == full
    assert language.moment(day, today=date(2025, 3, 7)).text == weekday
    assert language.moment(day, today=date(2025, 3, 12)).text == full
    assert language.moment(day, today=day).kind == "today"


def test_finer_grains_get_the_time_of_day() -> None:
    moment = datetime(2025, 3, 4, 14, 0)
    when = language_for("de").moment(moment)
    assert format_date(moment, format="full", locale="de") in when.text
    assert format_time(moment, format="short", locale="de") in when.text


def test_windows_of_one_bucket_read_as_a_moment_longer_ones_as_a_range() -> None:
    en = language_for("en")
    assert en.window(date(2025, 3, 4), date(2025, 3, 5)).kind == "date"
    week = en.window(date(2025, 3, 3), date(2025, 3, 10))
    assert week.kind == "range"
    assert "3" in week.text and "9" in week.text and "10" not in week.text


def test_p_values_below_a_thousandth_are_bounded() -> None:
    assert language_for("en").p_value(0.0004) == "< " + format_decimal(0.001, locale="en")
    assert language_for("de").p_value(0.0123) == "= " + format_decimal(0.012, locale="de")


@pytest.mark.parametrize("lang", ["fr", "xx_YY", "", "en_GB_too_long!"])
def test_unknown_languages_are_refused_naming_the_choices(lang: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        language_for(lang)
    assert "en, de, es" in str(caught.value)
    assert caught.value.details["valid"] == ["en", "de", "es"]


def test_a_regional_locale_keeps_the_base_language() -> None:
    swiss = language_for("de_CH")
    assert swiss.code == "de"
    assert str(swiss.locale) == "de_CH"
    assert language_for("en-GB").code == "en"


@pytest.mark.parametrize(
    ("label", "plural"),
    [
        ("orders", True),
        ("Returned orders", True),
        ("distinct customers", True),
        ("units sold", True),  # no noun last: any plural noun of the head
        ("sessions per user", True),  # the head ends at the preposition
        ("revenue", False),
        ("return rate", False),
        ("average order value", False),
        ("order count", False),  # a singular noun last
        ("share of orders", False),
    ],
)
def test_labels_are_plural_when_their_head_is_a_plural_noun(label: str, plural: bool) -> None:
    assert language_for("en").is_plural(label) is plural


def test_each_language_knows_its_own_plurals_and_english_ones() -> None:
    assert language_for("de").is_plural("Bestellungen")
    assert language_for("de").is_plural("orders")
    assert not language_for("en").is_plural("Bestellungen")
    assert language_for("es").is_plural("pedidos por cliente")
    assert not language_for("de").is_plural("Umsatz pro Bestellung")
    assert not language_for("de").is_plural("Fehler")  # one and many alike: cannot be told
