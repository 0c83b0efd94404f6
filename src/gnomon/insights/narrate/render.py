"""Narratives: a finding's facts through its language's templates, then laid out as a format.

Two steps, two kinds of template:

1. The sentences (``templates/<lang>/<tone>.j2``, one macro per finding kind) are plain text
   in every format. They choose the words; :mod:`gnomon.insights.narrate.facts` has already
   decided and formatted every figure.
2. The layout (``templates/layout/{item,feed}.<fmt>.j2``) alone knows Markdown or HTML, so
   escaping happens in one place and covers everything from data (segment values, labels,
   a rewriter's output): the HTML layout autoescapes, the Markdown layout escapes Markdown's
   special characters in every value, and plain text is left as it is.

Why sandboxed: the sentences print values from users' tables; the immutable sandbox keeps any
template, including one a deployment adds, from reaching Python internals through them.
Environments are built once per locale (sentences) and per format (layout); templates compile
on first use and stay compiled.
"""

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from gnomon.errors import InvalidInput
from gnomon.insights.findings import Explanation, Insight
from gnomon.insights.narrate.charts import Chart, chart_uri
from gnomon.insights.narrate.facts import (
    ExplanationFacts,
    InsightFacts,
    explanation_facts,
    insight_facts,
)
from gnomon.insights.narrate.language import Language, language_for
from gnomon.insights.narrate.llm import Rewriter

__all__ = ["FORMATS", "TONES", "md_escape", "narrate", "narrate_feed"]

logger = logging.getLogger(__name__)

TONES: tuple[str, ...] = ("executive", "casual", "technical")
"""``executive``: impact first, short, no statistics; ``casual``: friendly, plain words;
``technical``: exact values, tests, p-values and confidences."""

FORMATS: tuple[str, ...] = ("text", "md", "html")
"""Plain text, Markdown, or HTML (a fragment for one finding, a page for a feed)."""

_PACKAGE = "gnomon.insights.narrate"
_BLANKS = re.compile(r"[ \t\r\n]+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}<>|#~!])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])")


@dataclass(frozen=True, slots=True)
class _Piece:
    """One finding, rendered: what a layout places."""

    kind: str
    title: str
    text: str
    points: tuple[str, ...]
    chart: str | None
    alt: str


def md_escape(text: str) -> str:
    r"""``text`` with Markdown's special characters escaped, so it prints as it reads.

    >>> md_escape("a|b *c* #1")
    'a\\|b \\*c\\* \\#1'
    >>> md_escape("- not a list")
    '\\- not a list'
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", escaped, count=1)


def _finalize_md(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return md_escape(value)


def _cap(text: str) -> str:
    """The first letter upper-cased, unless the word looks like a name ("eBay", "iOS")."""
    if len(text) > 1 and text[0].islower() and not text[1].isupper():
        return text[0].upper() + text[1:]
    return text


def _agree(facts: ExplanationFacts | InsightFacts, one: str, many: str) -> str:
    """The form (a verb, a pronoun) that agrees with the metric's label: ``many`` if plural."""
    return many if facts.plural else one


@functools.lru_cache(maxsize=32)
def _sentences(locale: str) -> ImmutableSandboxedEnvironment:
    language = language_for(locale)
    env = ImmutableSandboxedEnvironment(
        loader=PackageLoader(_PACKAGE, f"templates/{language.code}"),
        undefined=StrictUndefined,
        autoescape=False,
        auto_reload=False,
    )
    env.filters.update(
        cap=_cap,
        count=language.count,
        noun=language.noun,
        and_list=language.and_list,
    )
    env.globals["agree"] = _agree
    return env


@functools.lru_cache(maxsize=len(FORMATS))
def _layout(fmt: str) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=PackageLoader(_PACKAGE, "templates/layout"),
        undefined=StrictUndefined,
        autoescape=fmt == "html",
        finalize=_finalize_md if fmt == "md" else None,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def _check(tone: str, fmt: str) -> None:
    if tone not in TONES:
        raise InvalidInput(
            f"Unknown tone {tone!r}.",
            hint=f"Use one of {', '.join(TONES)}.",
            valid=list(TONES),
        )
    if fmt not in FORMATS:
        raise InvalidInput(
            f"Unknown format {fmt!r}.",
            hint=f"Use one of {', '.join(FORMATS)}.",
            valid=list(FORMATS),
        )


def _macro(module: Any, name: str) -> Callable[..., str]:
    """A macro of a template module (``common.title``), as the callable it is."""
    macro: Callable[..., str] = getattr(module, name)
    return macro


def _squeeze(text: str) -> str:
    """Template line breaks and indentation as single spaces; Babel's no-break spaces stay."""
    return _BLANKS.sub(" ", text).strip()


def _piece(
    item: Explanation | Insight,
    language: Language,
    *,
    tone: str,
    today: date | None,
    labels: Mapping[str, str] | None,
    rewriter: Rewriter | None,
    chart: Chart | None = None,
) -> _Piece:
    env = _sentences(str(language.locale))
    digits = 1 if tone == "technical" else 0
    facts: ExplanationFacts | InsightFacts
    if isinstance(item, Explanation):
        facts = explanation_facts(item, language, digits=digits, today=today, labels=labels)
    elif isinstance(item, Insight):
        facts = insight_facts(item, language, digits=digits, today=today, labels=labels)
    else:
        raise InvalidInput(
            f"Cannot narrate a {type(item).__name__}.",
            hint="Pass an Explanation or an Insight from gnomon.insights.findings.",
        )
    common = env.get_template("common.j2").module
    sentences = _macro(env.get_template(f"{tone}.j2").module, facts.kind)
    text = _squeeze(sentences(facts))
    if rewriter is not None:
        rewritten = rewriter.rewrite(text, lang=language.code, tone=tone)
        if isinstance(rewritten, str) and rewritten.strip():
            text = _squeeze(rewritten)
        else:
            logger.warning("The rewriter returned no text; keeping the template's narrative.")
    points: tuple[str, ...] = ()
    if isinstance(facts, ExplanationFacts):
        points = tuple(
            _squeeze(_macro(common, "point")(facts, cause, tone)) for cause in facts.causes
        )
    return _Piece(
        kind=facts.kind,
        title=_squeeze(_macro(common, "title")(facts)),
        text=text,
        points=points,
        chart=None if chart is None else chart_uri(chart),
        alt=_squeeze(_macro(common, "chart_alt")(facts)),
    )


def narrate(
    item: Explanation | Insight,
    /,
    *,
    lang: str = "en",
    tone: str = "executive",
    fmt: str = "text",
    chart: Chart | None = None,
    rewriter: Rewriter | None = None,
    today: date | None = None,
    dimension_labels: Mapping[str, str] | None = None,
) -> str:
    """A narrative of one explanation or insight.

    Args:
        item: what to narrate.
        lang: ``en``, ``de`` or ``es``, or a locale of one (``de_CH``, ``en-GB``) whose number
            and date formats are used with its language's templates.
        tone: ``executive``, ``casual`` or ``technical`` (see :data:`TONES`).
        fmt: ``text`` (one paragraph), ``md`` (a heading, the paragraph, the causes as
            bullets) or ``html`` (the same as an ``<article>`` fragment with inline styles).
        chart: PNG bytes or SVG text to embed in ``md`` and ``html`` (ignored in ``text``);
            :func:`gnomon.insights.narrate.explanation_chart` draws one for an explanation.
        rewriter: rewrites the paragraph (an LLM, say); off by default.
        today: the reader's date: moments within the last week read as weekdays.
        dimension_labels: names for dimensions in segment phrases (``{"country": "Land"}``).

    Raises:
        InvalidInput: an unknown language, tone or format, an item of another type, or a
            chart that is neither PNG nor SVG.
    """
    _check(tone, fmt)
    language = language_for(lang)
    piece = _piece(
        item,
        language,
        tone=tone,
        today=today,
        labels=dimension_labels,
        rewriter=rewriter,
        chart=chart,
    )
    if fmt == "text":
        return piece.text
    return _layout(fmt).get_template(f"item.{fmt}.j2").render(item=piece, lang=language.code)


def narrate_feed(
    items: Sequence[Explanation | Insight],
    /,
    *,
    lang: str = "en",
    tone: str = "executive",
    fmt: str = "text",
    title: str | None = None,
    rewriter: Rewriter | None = None,
    today: date | None = None,
    dimension_labels: Mapping[str, str] | None = None,
) -> str:
    """A feed of findings as one document, in the order given.

    ``md`` gives a heading per finding and the causes as bullets; ``html`` a small
    self-contained page (inline CSS, no external resources). ``title`` defaults to the
    language's word for insights. Other arguments are as for :func:`narrate`.

    Raises:
        InvalidInput: an unknown language, tone or format, or an item of another type.
    """
    _check(tone, fmt)
    language = language_for(lang)
    pieces = [
        _piece(item, language, tone=tone, today=today, labels=dimension_labels, rewriter=rewriter)
        for item in items
    ]
    if title is None:
        common = _sentences(str(language.locale)).get_template("common.j2").module
        title = _squeeze(_macro(common, "feed_title")())
    template = _layout(fmt).get_template(f"feed.{fmt}.j2")
    return template.render(title=title, items=pieces, lang=language.code)
