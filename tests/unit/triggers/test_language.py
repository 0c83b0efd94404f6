"""The rule language's checks: what is refused when a rule is applied, and where it points."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.triggers import FUNCTIONS, RuleSyntaxError, parse_condition


def test_a_condition_knows_its_fields_in_order_of_appearance() -> None:
    condition = parse_condition(
        "data.amount > 100 AND (country IN ('DE', 'AT') OR data.amount IS NULL) AND NOT flagged"
    )
    assert condition.fields == (("data", "amount"), ("country",), ("flagged",))
    assert condition.timezone == "UTC"


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("amount >", "does not parse near '>'", 1, 8),
        ("amount > 100 AND", "does not parse", 1, 14),
        ("amount + 1", "must be true or false, but 'amount + 1' is a value", 1, 1),
        ("x > 1 AND 5", "An operand of AND must be true or false", 1, 11),
        ("NOT lower(s)", "The operand of NOT must be true or false", 1, 5),
        ("frobnicate(x) > 1", "Unknown function 'frobnicate'", 1, 1),
        ("a = 1 AND\n  round(x, 1, 2) > 3", "round() takes 1 to 2 arguments, not 3", 2, 3),
        ("hour_of_day(t, 'Mars/Olympus') > 1", "Unknown time zone 'Mars/Olympus'", 1, 16),
        ("starts_with(s, other) ", "Argument 2 of starts_with() must be a text value", 1, 16),
        ("x IN (SELECT 1)", "IN takes a list of values, not a subquery", 1, 1),
        ("s LIKE other", "The pattern of LIKE must be a text value", 1, 1),
        ("x IS 5", "IS is followed by NULL, TRUE or FALSE", 1, 1),
        ("CAST(x AS BOOLEAN) = TRUE", "CAST to BOOLEAN is not supported", 1, 6),
        ("t > CAST(x AS DATE)", "A DATE or TIMESTAMP value is written as text", 1, 10),
        ("s = 'open", "unterminated string", 1, 10),
        ("IF(x > 1, TRUE)", "IF takes three arguments", 1, 4),
        ("x = 1; DROP TABLE t", "does not parse near 'DROP'", 1, 8),
        ("   ", "The condition is empty", 1, 1),
    ],
)
def test_a_bad_condition_is_refused_with_its_position(
    text: str, message: str, line: int, column: int
) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_condition(text)
    error = caught.value
    assert message in error.message
    assert (error.line, error.column) == (line, column), error.message
    assert f"(line {line}, column {column})" in error.message
    # The excerpt shows the line with a caret under the column.
    shown, caret = error.details["excerpt"].split("\n")
    assert caret == " " * (column - 1) + "^"
    assert shown == (text.splitlines() or [""])[line - 1]
    assert error.to_dict()["code"] == "rule_syntax"
    assert isinstance(error, InvalidInput), "an applied rule's mistake is the user's: exit 2, 422"


def test_an_unknown_function_lists_the_known_ones() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_condition("weekday(t) = 1")
    assert caught.value.hint is not None
    for name in ("day_of_week", "hour_of_day", "local_date"):
        assert name in caught.value.hint
    assert set(FUNCTIONS) >= {"day_of_week", "hour_of_day", "lower", "coalesce"}


def test_the_rules_time_zone_is_checked() -> None:
    assert parse_condition("x > 1", timezone="Europe/Berlin").timezone == "Europe/Berlin"
    with pytest.raises(RuleSyntaxError, match="Unknown time zone 'Europe/Berln'"):
        parse_condition("x > 1", timezone="Europe/Berln")


def test_overlong_and_overdeep_conditions_are_refused() -> None:
    with pytest.raises(RuleSyntaxError, match="characters long"):
        parse_condition("x = 1 OR " * 2000 + "x = 2")
    deep = "(" * 80 + "x = 1" + ")" * 80
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        parse_condition(deep)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_either_parses_or_is_refused_with_a_position(text: str) -> None:
    """Whatever a user types, the answer is a condition or a RuleSyntaxError, never a crash."""
    try:
        condition = parse_condition(text)
    except RuleSyntaxError as error:
        lines = text.splitlines() or [""]
        assert 1 <= error.line <= max(len(lines), 1)
        assert error.column >= 1
        return
    assert condition.text == text


_TOKENS = st.sampled_from(
    ["x", "s", "t", "1", "2.5", "'a'", "NULL", "TRUE", "(", ")", ",", "AND", "OR", "NOT",
     "=", "<>", "<", ">=", "+", "-", "*", "/", "IN", "BETWEEN", "LIKE", "IS", "CASE", "WHEN",
     "THEN", "ELSE", "END", "lower", "hour_of_day", "round", "||", "SELECT", ";"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=14))
def test_token_soup_parses_or_is_refused(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        parse_condition(text)
    except RuleSyntaxError as error:
        assert error.line == 1 and 1 <= error.column <= len(text) + 1
