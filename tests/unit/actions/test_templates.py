"""Payload templates: the sandbox holds, unknown variables fail, JSON stays JSON."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.actions.templates import (
    PayloadTemplate,
    TemplateRenderError,
    links_of,
    template_variables,
)
from gnomon.errors import InvalidInput
from tests.unit.actions.samples import notification


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ title.__class__ }}",
        "{{ labels.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self._TemplateReference__context }}",
        "{{ labels.update({'x': 1}) }}",
        "{{ data.clear() }}",
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 10 ** 100000 }}",
        "{% for i in range(1000000) %}{% endfor %}",
        "{{ title.format.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_escapes_and_blow_ups(source: str) -> None:
    template = PayloadTemplate(source)
    variables = template_variables(notification())
    with pytest.raises(TemplateRenderError) as caught:
        template.render(variables)
    assert "did not render" in caught.value.message
    assert variables["labels"] == {"metric": "revenue", "region": "EU"}


def test_an_unknown_variable_fails_instead_of_rendering_empty() -> None:
    with pytest.raises(TemplateRenderError, match="'titel' is undefined"):
        PayloadTemplate("{{ titel }}").render(template_variables(notification()))


def test_a_missing_label_fails_too() -> None:
    with pytest.raises(TemplateRenderError, match="owner"):
        PayloadTemplate("{{ labels.owner }}").render(template_variables(notification()))


def test_a_syntax_error_is_invalid_input_with_its_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        PayloadTemplate("line one\n{{ title ")
    assert caught.value.details["line"] == 2


def test_every_documented_variable_is_available() -> None:
    names = [
        "key",
        "channel",
        "rule",
        "fingerprint",
        "state",
        "severity",
        "title",
        "summary",
        "labels",
        "data",
        "created_at",
        "tenant",
        "links",
        "notification",
    ]
    source = "|".join(f"{{{{ {name} | tojson }}}}" for name in names)
    rendered = PayloadTemplate(source).render(template_variables(notification()))
    parts = [json.loads(part) for part in rendered.split("|")]
    values = dict(zip(names, parts, strict=True))
    assert values["created_at"] == "2025-03-01T12:00:00+00:00"
    assert values["links"] == [{"title": "Dashboard", "url": "https://x.test/d"}]
    assert values["notification"]["rule"] == "revenue_drop"
    assert values["data"]["value"] == 6000


@given(st.text())
def test_tojson_keeps_any_title_valid_json(title: str) -> None:
    template = PayloadTemplate('{"text": {{ title | tojson }}}')
    rendered = template.render_json(template_variables(notification(title=title)))
    assert json.loads(rendered) == {"text": title}


def test_render_json_refuses_what_a_receiver_could_not_parse() -> None:
    template = PayloadTemplate('{"text": "{{ title }}"}')
    with pytest.raises(TemplateRenderError, match="invalid JSON"):
        template.render_json(template_variables(notification(title='say "hi"')))


def test_html_templates_escape_alert_text() -> None:
    rendered = PayloadTemplate("<p>{{ summary }}</p>", html=True).render(
        {"summary": "<script>alert(1)</script>"}
    )
    assert rendered == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert PayloadTemplate("{{ summary }}").render({"summary": "<b>"}) == "<b>"


def test_links_keep_only_http_urls_in_either_shape() -> None:
    as_mapping = {"links": {"a": "https://a.test", "b": "javascript:alert(1)", "c": 3}}
    as_list = {"links": [{"href": "http://b.test", "text": "B"}, {"url": "file:///etc/passwd"}]}
    assert links_of(as_mapping) == [{"title": "a", "url": "https://a.test"}]
    assert links_of(as_list) == [{"title": "B", "url": "http://b.test"}]
    assert links_of({}) == []
