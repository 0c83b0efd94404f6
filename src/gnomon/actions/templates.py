"""Payload templates: Jinja2 in a sandbox, with every variable required.

Why sandboxed: a template is configuration, but what it renders is alert data, and a template
must not become a way to reach Python internals (``''.__class__.__mro__``) or to change the
notification it renders. :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` refuses
underscore attributes, unsafe callables and mutating methods; on top of it we refuse ``*`` and
``**`` results that would blow up memory, and cap what a render may produce.

Why ``StrictUndefined``: a misspelt variable (``{{ titel }}``) must fail the attempt with a clear
error instead of sending an empty field to a pager.

Variables available to every template: ``key``, ``channel``, ``rule``, ``fingerprint``,
``state``, ``severity``, ``title``, ``summary``, ``labels`` (mapping), ``data`` (mapping),
``created_at`` (ISO 8601, UTC), ``tenant``, ``links`` (list of ``{"title", "url"}`` from
``data.links``, http(s) only) and ``notification`` (all of the above as one mapping, for
``{{ notification | tojson }}``). Use the ``tojson`` filter to put a value into JSON safely.
"""

import json
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gnomon.errors import InvalidInput

if TYPE_CHECKING:
    from jinja2.runtime import Context

    from gnomon.actions.models import Notification

__all__ = [
    "MAX_RENDERED_CHARS",
    "PayloadTemplate",
    "TemplateRenderError",
    "links_of",
    "template_variables",
]

MAX_RENDERED_CHARS = 1_000_000
"""The most characters one render may produce; a payload larger than this is a mistake."""

_MAX_EXPONENT = 1_000


class TemplateRenderError(InvalidInput):
    """A template did not render: an unknown variable, a refused operation, or an error inside.

    Channels turn it into an attempt with outcome ``failed``: rendering the same template with
    the same notification again would fail the same way.
    """

    code = "template_error"


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on ``*`` and ``**`` results."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: "Context", operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is larger than {_MAX_EXPONENT}")
            return operator.pow(left, right)
        for sized, count in ((left, right), (right, left)):
            if (
                isinstance(sized, str | list | tuple)
                and isinstance(count, int)
                and len(sized) * count > MAX_RENDERED_CHARS
            ):
                raise SecurityError("a repeated string or list would be too large")
        return super().call_binop(context, operator_, left, right)


def _environment(*, html: bool) -> _Sandbox:
    return _Sandbox(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        auto_reload=False,
    )


class PayloadTemplate:
    """A compiled template; compiling happens when the spec is read, so syntax errors come early.

    ``html=True`` escapes every variable for HTML (e-mail bodies); otherwise output is verbatim
    and JSON payloads should use ``| tojson``.

    >>> PayloadTemplate('{"text": {{ title | tojson }}}').render({"title": "Sales down"})
    '{"text": "Sales down"}'
    >>> PayloadTemplate("{{ titel }}").render({"title": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gnomon.actions.templates.TemplateRenderError: The template did not render: ...
    """

    __slots__ = ("_template", "source")

    def __init__(self, source: str, *, html: bool = False) -> None:
        self.source = source
        try:
            self._template: Template = _environment(html=html).from_string(source)
        except TemplateSyntaxError as exc:
            reason = (exc.message or "syntax error").rstrip(".")
            raise InvalidInput(
                f"The template does not parse: {reason} (line {exc.lineno}).",
                hint="Fix the Jinja2 syntax; see docs/actions.md for the variables.",
                line=exc.lineno,
            ) from exc

    def render(self, variables: Mapping[str, Any]) -> str:
        """The rendered text.

        Raises:
            TemplateRenderError: anything went wrong while rendering; the message says what.
        """
        try:
            text = self._template.render(variables)
        except Exception as exc:  # a user-written template: any failure in it is its own
            raise TemplateRenderError(
                f"The template did not render: {_describe(exc)}.",
                hint="Check the variable names and filters against docs/actions.md.",
            ) from exc
        if len(text) > MAX_RENDERED_CHARS:
            raise TemplateRenderError(
                f"The template rendered {len(text)} characters, more than {MAX_RENDERED_CHARS}."
            )
        return text

    def render_json(self, variables: Mapping[str, Any]) -> str:
        """The rendered text, checked to be one JSON document (what the receiver will parse).

        Raises:
            TemplateRenderError: it did not render, or rendered something that is not JSON.
        """
        text = self.render(variables)
        try:
            json.loads(text)
        except ValueError as exc:
            raise TemplateRenderError(
                f"The template rendered invalid JSON: {exc}.",
                hint="Put values into JSON with the tojson filter: {{ title | tojson }}.",
            ) from exc
        return text


def _describe(exc: Exception) -> str:
    message = str(exc).rstrip(".") or type(exc).__name__
    if isinstance(exc, SecurityError):
        return f"refused by the sandbox: {message}"
    return message


def links_of(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """``data["links"]`` as ``[{"title", "url"}]``, keeping only http(s) URLs.

    Accepts a mapping of title to URL, or a list of ``{"title", "url"}`` (``href``/``text`` too).
    A ``javascript:`` or ``file:`` URL is dropped, so a link in an alert cannot run in a client.

    >>> links_of({"links": {"Dashboard": "https://x/d", "bad": "javascript:alert(1)"}})
    [{'title': 'Dashboard', 'url': 'https://x/d'}]
    """
    raw = data.get("links")
    pairs: list[tuple[object, object]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list | tuple):
        for item in raw:
            if isinstance(item, Mapping):
                url = item.get("url", item.get("href"))
                pairs.append((item.get("title", item.get("text", url)), url))
    return [
        {"title": str(title), "url": url}
        for title, url in pairs
        if isinstance(url, str) and url.lower().startswith(("https://", "http://"))
    ]


def template_variables(notification: "Notification") -> dict[str, Any]:
    """What a template sees: the notification's fields, ``links``, and ``notification`` itself.

    Copies, so nothing a template does can reach the notification the dispatcher holds.
    """
    fields = notification.to_dict()
    fields = json.loads(json.dumps(fields, default=str))
    return {**fields, "links": links_of(fields["data"]), "notification": fields}
