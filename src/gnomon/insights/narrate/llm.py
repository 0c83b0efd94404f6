"""The optional rewriter: a language model that polishes a narrative the templates wrote.

Why an interface and no implementation: the templates already say everything correctly, and
a model adds fluency at the price of a network call, a cost and the risk of changed figures.
Deployments that want it plug in their own client; gnomon never calls one by default. What a
rewriter returns is escaped like the templates' text, so it cannot inject Markdown or HTML.
"""

from typing import Protocol

__all__ = ["Rewriter"]


class Rewriter(Protocol):
    """Rewrites one narrative's text in the same language and tone.

    Implementations must keep every figure and name as they are; exceptions they raise reach
    the caller of :func:`gnomon.insights.narrate.narrate` unchanged.
    """

    def rewrite(self, text: str, *, lang: str, tone: str) -> str:
        """The rewritten text (plain text, one paragraph).

        Args:
            text: the narrative the templates wrote.
            lang: its base language (``en``, ``de``, ``es``).
            tone: its tone (``executive``, ``casual``, ``technical``).
        """
        ...
