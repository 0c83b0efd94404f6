"""Silences: label matchers (parsed, rendered, compiled once), time ranges, storage."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.triggers.silences import (
    MATCH_OPS,
    MAX_PATTERN,
    Matcher,
    Silence,
    parse_matcher,
    silencing,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _silence(*texts: str, start: float = 0, end: float = 60, id_: str = "s1") -> Silence:
    return Silence(id_, tuple(parse_matcher(t) for t in texts), _at(start), _at(end))


# ---------------------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ("severity=critical", "severity", "=", "critical"),
        ("region!=EU", "region", "!=", "EU"),
        ('rule=~"kpi_.*"', "rule", "=~", "kpi_.*"),
        ("env!~test|dev", "env", "!~", "test|dev"),
        ("  region  !=  EU  ", "region", "!=", "EU"),
        ('rule =~ "kpi_.*"', "rule", "=~", "kpi_.*"),
        ('team="data ops"', "team", "=", "data ops"),
        ("team=data ops", "team", "=", "data ops"),
        ('team=""', "team", "=", ""),
        ("team=", "team", "=", ""),
        ('msg="say \\"hi\\""', "msg", "=", 'say "hi"'),
        ('path="C:\\\\temp"', "path", "=", "C:\\temp"),
        ('rule=~"\\d+"', "rule", "=~", "\\d+"),
        ("rule=~\\d+", "rule", "=~", "\\d+"),
        ("a==x", "a", "=", "=x"),
        ('a="~x"', "a", "=", "~x"),
        ("région=Île-de-France", "région", "=", "Île-de-France"),
        ("市=東京", "市", "=", "東京"),
    ],
)
def test_parse_matcher_reads_each_form(text: str, name: str, op: str, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert parse_matcher(matcher.text()) == matcher


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "severity",
        "=critical",
        "severity critical",
        "a b=c",
        'team="unterminated',
        'team="a" b',
        'team="a\\"',
        '"team"=ops',
    ],
)
def test_parse_matcher_refuses_bad_text_with_an_example(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_matcher(text)
    assert caught.value.message.startswith("not a label matcher")
    assert caught.value.hint is not None and "severity=critical" in caught.value.hint


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("rule", "=~", "kpi_.*"), "rule=~kpi_.*"),
        (Matcher("team", "=", ""), 'team=""'),
        (Matcher("team", "=", " ops "), 'team=" ops "'),
        (Matcher("a", "=", "~x"), 'a="~x"'),
        (Matcher("a", "=", '"x"'), 'a="\\"x\\""'),
        (Matcher("a", "!=", "line\nbreak"), 'a!="line\nbreak"'),
    ],
)
def test_text_quotes_only_when_needed(matcher: Matcher, text: str) -> None:
    assert matcher.text() == text
    assert parse_matcher(text) == matcher


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("severity=critical", {"severity": "critical"}, True),
        ("severity=critical", {"severity": "warning"}, False),
        ("region!=EU", {"region": "US"}, True),
        ("region!=EU", {"region": "EU"}, False),
        # A missing label is the empty string.
        ("region!=EU", {}, True),
        ("team=", {}, True),
        ('team=""', {"team": "ops"}, False),
        ("team=~.+", {}, False),
        ("team!~.+", {}, True),
        # Regexes match the whole value.
        ('rule=~"kpi_.*"', {"rule": "kpi_drop"}, True),
        ("rule=~kpi", {"rule": "kpi_drop"}, False),
        ("rule=~drop", {"rule": "kpi_drop"}, False),
        ("env!~test|dev", {"env": "test"}, False),
        ("env!~test|dev", {"env": "prod"}, True),
        ("env!~test|dev", {"env": "testing"}, True),
        ("région=~Île-.*", {"région": "Île-de-France"}, True),
        ("市=東京", {"市": "大阪"}, False),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("pattern", ["(", "[a-", "kpi_(?P<x", "*", "a{2,1}"])
def test_an_invalid_regex_is_refused_when_the_matcher_is_made(pattern: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Matcher("rule", "=~", pattern)
    assert "matcher rule=~" in caught.value.message
    assert "invalid regular expression" in caught.value.message
    assert caught.value.details["matcher"] == "rule"
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        parse_matcher(f'rule!~"{pattern}"')


def test_a_plain_value_is_never_compiled() -> None:
    assert Matcher("rule", "=", "(").matches({"rule": "("})
    assert Matcher("rule", "!=", "[a-").matches({"rule": "x"})


@pytest.mark.parametrize(("length", "ok"), [(MAX_PATTERN, True), (MAX_PATTERN + 1, False)])
def test_a_regex_longer_than_the_cap_is_refused(length: int, ok: bool) -> None:
    pattern = "a" * length
    if ok:
        assert Matcher("rule", "=~", pattern).matches({"rule": pattern})
        return
    with pytest.raises(InvalidInput, match=f"{length} characters; at most {MAX_PATTERN}"):
        Matcher("rule", "=~", pattern)
    # A long plain value is fine: nothing is compiled.
    assert Matcher("rule", "=", pattern).matches({"rule": pattern})


@pytest.mark.parametrize(
    ("name", "op"), [("", "="), ("a b", "="), ("a=b", "="), ('"a"', "="), ("a", "=="), ("a", "<")]
)
def test_a_bad_name_or_operator_is_refused(name: str, op: str) -> None:
    with pytest.raises(InvalidInput):
        Matcher(name, op, "x")  # type: ignore[arg-type]


def test_matchers_compare_and_hash_by_what_they_say() -> None:
    assert Matcher("rule", "=~", "a.*") == parse_matcher('rule=~"a.*"')
    assert len({Matcher("rule", "=~", "a.*"), parse_matcher("rule=~a.*")}) == 1
    assert Matcher("rule", "=~", "a.*") != Matcher("rule", "!~", "a.*")


_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Z", "C"), blacklist_characters='=!~"'),
    min_size=1,
    max_size=12,
)


@st.composite
def _matchers(draw: st.DrawFn) -> Matcher:
    op = draw(st.sampled_from(MATCH_OPS))
    value = draw(st.text(max_size=40))
    if op in ("=~", "!~"):
        value = draw(st.sampled_from([re.escape(value), "kpi_.*", "a|b", "\\d+", "(x|y)?"]))
    return Matcher(draw(_NAMES), op, value)


@given(_matchers())
def test_text_round_trips(matcher: Matcher) -> None:
    assert parse_matcher(matcher.text()) == matcher


@given(st.text(max_size=40))
def test_parse_matcher_either_reads_or_says_invalid_input(text: str) -> None:
    try:
        matcher = parse_matcher(text)
    except InvalidInput:
        return
    assert parse_matcher(matcher.text()) == matcher


# ---------------------------------------------------------------------------- silences


@pytest.mark.parametrize(
    ("minutes", "active"),
    [(-0.001, False), (0, True), (30, True), (59.999, True), (60, False), (61, False)],
)
def test_a_silence_holds_from_its_start_until_just_before_its_end(
    minutes: float, active: bool
) -> None:
    silence = _silence("severity=critical")
    assert silence.active(_at(minutes)) is active
    assert silence.covers({"severity": "critical"}, _at(minutes)) is active


def test_times_in_other_offsets_compare_as_instants() -> None:
    berlin = timezone(timedelta(hours=1))
    silence = Silence("s", (parse_matcher("a=b"),), T0.astimezone(berlin), _at(60))
    assert silence.active(datetime(2025, 3, 1, 13, 30, tzinfo=berlin))
    assert not silence.active(datetime(2025, 3, 1, 13, 0, tzinfo=berlin) + timedelta(hours=1))


def test_every_matcher_must_match() -> None:
    silence = _silence("severity=critical", "region!=EU", 'rule=~"kpi_.*"')
    assert silence.covers({"severity": "critical", "region": "US", "rule": "kpi_x"}, _at(1))
    assert not silence.covers({"severity": "critical", "region": "EU", "rule": "kpi_x"}, _at(1))
    assert not silence.covers({"severity": "critical", "region": "US", "rule": "x"}, _at(1))


def test_silencing_gives_the_first_covering_silence() -> None:
    labels = {"severity": "critical", "region": "US"}
    expired = _silence("severity=critical", start=-120, end=-60, id_="expired")
    other = _silence("region=EU", id_="other")
    first = _silence("region=~U.", id_="first")
    second = _silence("severity=critical", id_="second")
    assert silencing(labels, [expired, other, first, second], _at(0)) is first
    assert silencing(labels, [expired, other], _at(0)) is None
    assert silencing(labels, [], _at(0)) is None
    assert silencing(labels, iter([second, first]), _at(0)) is second


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"matchers": ()}, "has no matchers"),
        ({"id": ""}, "empty id"),
        ({"starts_at": datetime(2025, 3, 1, 12, 0)}, "starts_at without a time zone"),
        ({"ends_at": datetime(2025, 3, 1, 13, 0)}, "ends_at without a time zone"),
        ({"ends_at": T0}, "before it starts"),
        ({"ends_at": _at(-1)}, "before it starts"),
    ],
)
def test_a_silence_that_cannot_work_is_refused(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "id": "s",
        "matchers": (parse_matcher("a=b"),),
        "starts_at": T0,
        "ends_at": _at(60),
        **fields,
    }
    with pytest.raises(InvalidInput, match=message):
        Silence(**values)  # type: ignore[arg-type]


def test_a_list_of_matchers_is_kept_as_a_tuple() -> None:
    silence = Silence("s", [parse_matcher("a=b")], T0, _at(1))  # type: ignore[arg-type]
    assert silence.matchers == (Matcher("a", "=", "b"),)


def test_to_dict_round_trips_through_json() -> None:
    silence = Silence(
        "mnt-42",
        (parse_matcher("région=Île-de-France"), parse_matcher('rule=~"kpi_.*"')),
        T0,
        _at(90).astimezone(timezone(timedelta(hours=-5))),
        created_by="ana@example.com",
        comment="maintenance: «warehouse»",
    )
    data = json.loads(json.dumps(silence.to_dict()))
    assert data["starts_at"] == "2025-03-01T12:00:00+00:00"
    assert data["matchers"][1] == {"name": "rule", "op": "=~", "value": "kpi_.*"}
    restored = Silence.from_dict(data)
    assert restored == silence
    assert restored.covers({"région": "Île-de-France", "rule": "kpi_drop"}, _at(89))


def test_from_dict_reads_matchers_written_as_text() -> None:
    silence = Silence.from_dict(
        {
            "id": "s",
            "matchers": ["severity=critical", 'env!~"test|dev"'],
            "starts_at": T0.isoformat(),
            "ends_at": _at(5).isoformat(),
        }
    )
    assert silence.matchers[1] == Matcher("env", "!~", "test|dev")
    assert silence.created_by is None and silence.comment == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": "a=b"}, "matchers"),
        ({"matchers": [{"name": "a", "op": "="}]}, "matchers"),
        ({"matchers": [3]}, "matchers"),
        ({"id": 7}, "id"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"ends_at": None}, "ends_at"),
        ({"created_by": 1}, "created_by"),
    ],
)
def test_from_dict_says_which_field_is_wrong(change: dict[str, object], field: str) -> None:
    data = {**_silence("a=b").to_dict(), **change}
    with pytest.raises(InvalidInput) as caught:
        Silence.from_dict(data)
    assert caught.value.details["field"] == field


def test_from_dict_refuses_a_bad_regex_and_a_naive_time() -> None:
    data = _silence("a=b").to_dict()
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        Silence.from_dict({**data, "matchers": ["rule=~("]})
    with pytest.raises(InvalidInput, match="without a time zone"):
        Silence.from_dict({**data, "starts_at": "2025-03-01T11:00:00"})
