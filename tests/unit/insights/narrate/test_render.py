import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from gnomon.errors import InvalidInput
from gnomon.insights.findings import Explanation, Insight, MetricFacts
from gnomon.insights.narrate import (
    FORMATS,
    LANGUAGES,
    TONES,
    chart_uri,
    explanation_chart,
    narrate,
    narrate_feed,
)
from tests.unit.insights.narrate.samples import (
    AOV,
    DAY,
    KINDS,
    ORDERS,
    RETURN_RATE,
    explanation,
    insight,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>x()</script></svg>'

# What each language's executive tone must say; these are the sentence forms asked for.
NONE_STANDS_OUT = {
    "en": "No single segment stands out",
    "de": "Kein einzelnes Segment sticht heraus",
    "es": "Ningún segmento destaca",
}
SEGMENTS = {"en": "segments", "de": "Segmente", "es": "segmentos"}
DOWN = {"en": "fell", "de": "gesunken", "es": "bajó"}
UP = {"en": "rose", "de": "gestiegen", "es": "subió"}
BAD = {"en": "setback", "de": "Rückschlag", "es": "revés"}
GOOD = {"en": "improvement", "de": "Verbesserung", "es": "mejora"}
AND = {"en": "and", "de": "und", "es": "y"}


def _leftovers(text: str) -> list[str]:
    return [bad for bad in ("{{", "}}", "{%", "%}", "None", "Undefined") if bad in text]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_causes_says_nothing_stands_out(lang: str) -> None:
    text = narrate(explanation(0), lang=lang)
    assert NONE_STANDS_OUT[lang] in text
    assert "0 " + SEGMENTS[lang] not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_one_cause_names_the_segment_and_its_share(lang: str) -> None:
    text = narrate(explanation(1), lang=lang)
    assert NONE_STANDS_OUT[lang] not in text
    assert f"country DE {AND[lang]} channel web" in text
    assert format_percent(0.83, locale=lang) in text
    assert "1 " + SEGMENTS[lang] not in text  # no "1 segments"


# A segment of two dimensions is one place, not two subjects: the metric moved in it.
ONE_CAUSE = {
    "en": "because revenue in country DE and channel web fell",
    "de": "dass revenue in country DE und channel web gesunken ist",
    "es": "se debe a que revenue bajó en country DE y channel web",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_volume_cause_says_where_the_metric_moved(lang: str) -> None:
    text = narrate(explanation(1), lang=lang)
    assert ONE_CAUSE[lang] in text, text


# Verbs agree with the metric's label: "revenue" is one, "orders" are many.
AGREEMENT = {
    "en": ("Revenue in country DE has been rising", "Orders in country DE have been rising"),
    "de": ("Revenue in country DE steigt", "Orders in country DE steigen"),
    "es": ("Revenue en country DE viene subiendo", "Orders en country DE vienen subiendo"),
}
FELL = {
    "en": ("Revenue fell", "Orders fell"),
    "de": ("Revenue ist am", "Orders sind am"),
    "es": ("Revenue bajó", "Orders bajaron"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_verbs_agree_with_a_singular_or_plural_label(lang: str) -> None:
    trend = insight("trend")
    one, many = AGREEMENT[lang]
    assert one in narrate(trend, lang=lang), narrate(trend, lang=lang)
    assert many in narrate(replace(trend, metric=ORDERS), lang=lang)
    one, many = FELL[lang]
    assert narrate(explanation(1), lang=lang).startswith(one)
    orders = narrate(explanation(1, metric=ORDERS, before=120, after=100), lang=lang)
    assert orders.startswith(many), orders
    for tone in TONES:
        for kind in KINDS:
            text = narrate(replace(insight(kind), metric=ORDERS), lang=lang, tone=tone)
            assert text and not _leftovers(text), (kind, text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_several_causes_are_counted_in_the_plural(lang: str) -> None:
    for tone in TONES:
        text = narrate(explanation(3), lang=lang, tone=tone)
        assert "3 " + SEGMENTS[lang] in text, (tone, text)
        assert NONE_STANDS_OUT[lang] not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_tone_has_distinct_sentence_forms_for_zero_one_and_many(lang: str) -> None:
    for tone in TONES:
        texts = {n: narrate(explanation(n), lang=lang, tone=tone) for n in (0, 1, 3)}
        assert len(set(texts.values())) == 3
        assert all(not _leftovers(t) for t in texts.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_up_and_down_verbs_and_good_and_bad_words(lang: str) -> None:
    revenue_down = narrate(explanation(before=100.0, after=80.0), lang=lang)
    assert DOWN[lang] in revenue_down and BAD[lang] in revenue_down
    revenue_up = narrate(explanation(before=80.0, after=100.0), lang=lang)
    assert UP[lang] in revenue_up and GOOD[lang] in revenue_up
    returns_down = narrate(explanation(metric=RETURN_RATE, before=0.05, after=0.04), lang=lang)
    assert DOWN[lang] in returns_down and GOOD[lang] in returns_down
    returns_up = narrate(explanation(metric=RETURN_RATE, before=0.04, after=0.05), lang=lang)
    assert UP[lang] in returns_up and BAD[lang] in returns_up


@pytest.mark.parametrize(
    ("lang", "one", "many"),
    [("en", "1 order", "4 orders"), ("de", "1 Bestellung", "4 Bestellungen"),
     ("es", "1 pedido", "4 pedidos")],
)  # fmt: skip
def test_counted_units_agree_with_their_number(lang: str, one: str, many: str) -> None:
    text = narrate(explanation(metric=ORDERS, before=4, after=1), lang=lang, tone="casual")
    assert one in text and many in text


@pytest.mark.parametrize("lang", ["de", "es", "de_CH", "en"])
def test_figures_and_dates_are_formatted_for_the_locale(lang: str) -> None:
    text = narrate(explanation(1), lang=lang, tone="casual")
    assert format_currency(12345.5, "EUR", locale=lang) in text
    assert format_currency(10123.0, "EUR", locale=lang) in text
    assert format_percent(0.18, locale=lang) in text
    assert format_date(DAY, format="full", locale=lang) in text


def test_technical_tone_gives_exact_values_and_one_decimal() -> None:
    number = MetricFacts("score", format="number")
    text = narrate(explanation(1, metric=number, before=1234.5, after=1000.25), lang="de",
                   tone="technical")  # fmt: skip
    assert format_decimal(1234.5, locale="de") in text
    assert format_decimal(1000.25, locale="de") in text
    signed = format_percent(Decimal("-0.19"), locale="de", decimal_quantization=False)
    assert signed in text
    assert format_percent(0.92, locale="de") in text  # the cause's confidence


def test_executive_tone_has_no_statistics() -> None:
    text = narrate(explanation(3), tone="executive")
    assert "confidence" not in text and "surprise" not in text
    for kind in KINDS:
        assert "p <" not in narrate(insight(kind), tone="executive")
        assert "p <" in narrate(insight(kind), tone="technical")


def test_recent_days_read_as_weekdays() -> None:
    text = narrate(explanation(0), lang="es", today=date(2025, 3, 6))
    assert format_date(DAY, format="EEEE", locale="es") in text
    assert format_date(DAY, format="full", locale="es") not in text


def test_rate_and_mix_effects_are_worded_differently() -> None:
    rate = narrate(explanation(1, metric=AOV, before=60, after=55, effect="rate"))
    mix = narrate(explanation(1, metric=AOV, before=60, after=55, effect="mix"))
    volume = narrate(explanation(1, metric=AOV, before=60, after=55, effect="volume"))
    assert len({rate, mix, volume}) == 3
    assert "volume" in mix and "average order value in country DE" in rate


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("tone", TONES)
def test_every_insight_kind_renders_in_every_language_and_tone(lang: str, tone: str) -> None:
    texts = set()
    for kind in KINDS:
        text = narrate(insight(kind), lang=lang, tone=tone)
        assert text and not _leftovers(text), (kind, text)
        texts.add(text)
        bare = narrate(insight(kind, value=None, reference=None), lang=lang, tone=tone)
        assert bare and not _leftovers(bare), (kind, bare)
        total = narrate(insight(kind, segment={}), lang=lang, tone=tone)
        assert "DE" not in total and not _leftovers(total)
    assert len(texts) == len(KINDS)  # each kind its own sentence


def test_html_escapes_data_and_the_chart_cannot_run_scripts() -> None:
    hostile = explanation(1, segment={"shop": "<script>alert(1)</script>"})
    page = narrate_feed([hostile], fmt="html", title="<b>Feed</b>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;Feed&lt;/b&gt;" in page
    fragment = narrate(hostile, fmt="html", chart=SVG)
    assert "<script>" not in fragment and "&lt;script&gt;" in fragment
    assert 'src="data:image/svg+xml;base64,' in fragment
    assert "<svg" not in fragment


def test_markdown_escapes_pipes_and_asterisks_in_values() -> None:
    odd = explanation(1, segment={"sku": "a|b*c"})
    for text in (narrate(odd, fmt="md"), narrate_feed([odd], fmt="md")):
        assert "a\\|b\\*c" in text
        assert "a|b*c" not in text


def test_markdown_and_html_layouts() -> None:
    items: list[Explanation | Insight] = [explanation(3), insight("spike")]
    md = narrate_feed(items, fmt="md", title="Daily")
    assert md.startswith("# Daily\n")
    assert len(re.findall(r"^## ", md, flags=re.MULTILINE)) == 2
    assert len(re.findall(r"^- ", md, flags=re.MULTILINE)) == 3  # one bullet per cause
    html = narrate_feed(items, fmt="html", lang="de")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="de">' in html
    assert "<style>" in html and html.count("<section") == 2
    assert "<h1>Erkenntnisse</h1>" in html
    text = narrate_feed(items, fmt="text", lang="es")
    assert text.startswith("Hallazgos") and narrate(items[1], lang="es") in text


def test_png_charts_are_embedded_as_data_uris() -> None:
    fragment = narrate(explanation(1), fmt="html", chart=PNG)
    assert f'src="{chart_uri(PNG)}"' in fragment
    assert "data:image/png;base64," in narrate(explanation(1), fmt="md", chart=PNG)
    assert "data:" not in narrate(explanation(1), fmt="text", chart=PNG)


@pytest.mark.parametrize("chart", [b"GIF89a", "<html></html>"])
def test_charts_that_are_neither_png_nor_svg_are_refused(chart: bytes | str) -> None:
    with pytest.raises(InvalidInput):
        narrate(explanation(1), fmt="html", chart=chart)


def test_the_default_chart_is_a_png_of_the_causes() -> None:
    pytest.importorskip("matplotlib")
    image = explanation_chart(explanation(3), lang="de")
    assert isinstance(image, bytes) and image.startswith(b"\x89PNG")
    assert "data:image/png;base64," in narrate(explanation(3), fmt="html", chart=image)


@pytest.mark.parametrize(
    ("lang", "tone", "fmt", "valid"),
    [
        ("fr", "executive", "text", LANGUAGES),
        ("en", "formal", "text", TONES),
        ("en", "executive", "pdf", FORMATS),
    ],
)
def test_unknown_language_tone_or_format_is_invalid_input(
    lang: str, tone: str, fmt: str, valid: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput) as one:
        narrate(explanation(1), lang=lang, tone=tone, fmt=fmt)
    with pytest.raises(InvalidInput) as feed:
        narrate_feed([explanation(1)], lang=lang, tone=tone, fmt=fmt)
    for caught in (one, feed):
        assert caught.value.details["valid"] == list(valid)
        assert all(choice in str(caught.value) for choice in valid)


def test_other_objects_are_refused() -> None:
    with pytest.raises(InvalidInput):
        narrate("revenue fell")  # type: ignore[arg-type]


class _Shouting:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def rewrite(self, text: str, *, lang: str, tone: str) -> str:
        self.calls.append((text, lang, tone))
        return "<b>" + text.upper() + "</b>"


def test_the_rewriter_is_called_and_its_output_is_escaped() -> None:
    rewriter = _Shouting()
    plain = narrate(explanation(1), lang="de_CH", tone="casual")
    text = narrate(explanation(1), lang="de_CH", tone="casual", rewriter=rewriter)
    assert rewriter.calls == [(plain, "de", "casual")]
    assert text == "<b>" + plain.upper() + "</b>"
    html = narrate(explanation(1), fmt="html", rewriter=rewriter)
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_no_rewriter_no_call_and_empty_rewrites_keep_the_template_text() -> None:
    class Empty:
        def rewrite(self, text: str, *, lang: str, tone: str) -> str:
            return "  "

    assert narrate(explanation(1), rewriter=Empty()) == narrate(explanation(1))


def test_dimension_labels_rename_dimensions() -> None:
    text = narrate(explanation(1), lang="de", dimension_labels={"country": "Land"})
    assert "Land DE" in text and "country" not in text
