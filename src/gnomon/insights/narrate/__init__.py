"""Narratives: findings told in words, in English, German or Spanish, for three kinds of reader.

An alert that says "revenue -18 %" is noise; one that says when it fell, by how much, whether
that is bad, and which segments it came from is the product. :func:`narrate` tells one
:class:`~gnomon.insights.findings.Explanation` or :class:`~gnomon.insights.findings.Insight`,
:func:`narrate_feed` a list of them as one document (text, Markdown or an HTML page).

The wording is Jinja2 templates per language and tone (``templates/<lang>/<tone>.j2``); every
figure is formatted by Babel for the reader's locale. A language model may polish the text
through a :class:`Rewriter`; none is called unless one is passed.
"""

from gnomon.insights.narrate.charts import Chart, chart_for, chart_uri, explanation_chart
from gnomon.insights.narrate.language import LANGUAGES
from gnomon.insights.narrate.llm import Rewriter
from gnomon.insights.narrate.render import FORMATS, TONES, md_escape, narrate, narrate_feed

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "TONES",
    "Chart",
    "Rewriter",
    "chart_for",
    "chart_uri",
    "explanation_chart",
    "md_escape",
    "narrate",
    "narrate_feed",
]
