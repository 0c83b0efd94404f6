"""Charts inside narratives: a picture turned into a ``data:`` URI, and a default one to draw.

Why ``data:`` URIs: a Markdown report or HTML page with its chart inside travels as one
file, through mail or chat, with nothing to host. SVG goes into an ``<img>`` as a ``data:``
URI too rather than inline markup: a browser never runs scripts of an SVG shown as an image,
so a chart from elsewhere cannot bring code into the page.
"""

import base64
from collections.abc import Mapping
from typing import Literal

from gnomon.errors import InvalidInput, MissingDependency
from gnomon.insights.findings import Explanation, Insight
from gnomon.insights.narrate.facts import label_of, segment_phrase
from gnomon.insights.narrate.language import language_for
from gnomon.insights.plots import plot_contributions

__all__ = ["Chart", "chart_for", "chart_uri", "explanation_chart"]

Chart = bytes | str
"""A chart to embed: PNG bytes, or SVG text."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chart_uri(chart: Chart) -> str:
    """The chart as a ``data:`` URI (``image/png`` or ``image/svg+xml``, base64).

    Raises:
        InvalidInput: the bytes are not a PNG, or the text is not an SVG document.
    """
    if isinstance(chart, bytes):
        if not chart.startswith(_PNG_MAGIC):
            raise InvalidInput(
                "The chart is not a PNG image: its bytes lack the PNG signature.",
                hint="Pass PNG bytes, or SVG as text (str).",
            )
        return "data:image/png;base64," + base64.b64encode(chart).decode("ascii")
    if "<svg" not in chart[:4096]:
        raise InvalidInput(
            "The chart is not an SVG document: no <svg> element at its start.",
            hint="Pass SVG as text (str), or PNG bytes.",
        )
    return "data:image/svg+xml;base64," + base64.b64encode(chart.encode("utf-8")).decode("ascii")


def explanation_chart(
    explanation: Explanation,
    /,
    *,
    lang: str = "en",
    image_format: Literal["png", "svg"] = "png",
    dimension_labels: Mapping[str, str] | None = None,
) -> Chart:
    """A bar chart of the causes' shares of the change (PNG bytes, or SVG text).

    Pass the result as ``chart=`` to :func:`gnomon.insights.narrate.narrate`. Segments are
    named in ``lang`` as in the narrative. Needs matplotlib (``gnomon[insights]``).

    Raises:
        InvalidInput: ``lang`` is not a known language.
        MissingDependency: matplotlib is not installed.
    """
    language = language_for(lang)
    labels = dimension_labels or {}
    title = label_of(explanation.metric)
    relative = explanation.relative_change
    if relative is not None:
        title += f": {language.percent(relative, digits=1, signed=True)}"
    image = plot_contributions(
        title=title,
        labels=[segment_phrase(cause.segment, language, labels) for cause in explanation.causes],
        shares=[cause.contribution for cause in explanation.causes],
        image_format=image_format,
    )
    return image if image_format == "png" else image.decode("utf-8")


def chart_for(item: Explanation | Insight, /, *, lang: str = "en") -> Chart | None:
    """The chart an HTML narrative of ``item`` embeds by default, if there is one to draw.

    An explanation with causes gets its bar chart; anything else, or a machine without
    matplotlib (the ``insights`` extra), gets none: the narrative stands on its own.
    """
    if not isinstance(item, Explanation) or not item.causes:
        return None
    try:
        return explanation_chart(item, lang=lang)
    except MissingDependency:
        return None
