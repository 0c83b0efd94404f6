"""Row predicates with user attributes: ``region = {{ user.region }}``, bound as literals.

A predicate is written once per policy and evaluated for each principal. Placeholders name the
principal's ``user`` (its name), ``tenant``, ``roles`` or any attribute (``user.region`` and
``user.attributes.region`` are the same). They are replaced by parameter markers, the text is
parsed, and each marker node is replaced by literal nodes holding the value — the value is never
formatted into SQL text, so an attribute like ``EMEA' OR 1=1 --`` is just a string that matches
nothing. A list value becomes a tuple (``region IN {{ user.regions }}``).

A placeholder whose attribute the principal lacks makes the whole predicate false: a policy
that cannot be evaluated shows no rows rather than all of them.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from gnomon.context import Principal

__all__ = ["PolicyTemplateError", "bind_predicate", "predicate_columns"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*\}\}")
_MARKER = "gnomon_param_{}_"
_FORBIDDEN = (exp.Query, exp.Subquery, exp.Star, exp.AggFunc, exp.Window, exp.Command)


class PolicyTemplateError(ValueError):
    """A predicate that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class _Missing:
    name: str


def _parse(text: str) -> tuple[exp.Expr, list[str]]:
    names: list[str] = []

    def mark(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return _MARKER.format(len(names) - 1)

    marked = _PLACEHOLDER.sub(mark, text)
    if "{{" in marked or "}}" in marked:
        raise PolicyTemplateError(
            f"the predicate {text!r} has a placeholder that is not {{{{ user.<attribute> }}}}"
        )
    try:
        tree = sqlglot.parse_one(marked, read="duckdb")
    except ParseError as exc:
        raise PolicyTemplateError(f"the predicate {text!r} is not valid SQL: {exc}") from exc
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            raise PolicyTemplateError(
                f"the predicate {text!r} uses {node.key.upper()}: a row policy is a condition "
                "over the table's own columns"
            )
        if isinstance(node, exp.Column) and node.table:
            raise PolicyTemplateError(
                f"the predicate {text!r} refers to {node.sql()}: use plain column names"
            )
    return tree, names


def predicate_columns(text: str) -> list[str]:
    """The table columns a predicate reads (placeholders excluded), for checking at save time.

    Raises:
        PolicyTemplateError: the predicate does not parse or uses something not allowed.
    """
    tree, _ = _parse(text)
    seen: dict[str, None] = {}
    for column in tree.find_all(exp.Column):
        if not _is_marker(column.name):
            seen.setdefault(column.name, None)
    return list(seen)


def bind_predicate(text: str, principal: Principal) -> exp.Expr:
    """The predicate for ``principal``, with its values as literal nodes.

    Raises:
        PolicyTemplateError: the predicate does not parse or uses something not allowed.
    """
    tree, names = _parse(text)
    values = [_lookup(name, principal) for name in names]
    if any(isinstance(v, _Missing) for v in values):
        return exp.false()

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and _is_marker(node.name):
            return _literal(values[int(node.name.split("_")[2])])
        return node

    return tree.transform(swap)


def _is_marker(name: str) -> bool:
    return name.startswith("gnomon_param_") and name.endswith("_")


def _lookup(name: str, principal: Principal) -> Any:
    parts = name.split(".")
    if parts[0] == "tenant" and len(parts) == 1:
        return principal.tenant
    if parts[0] != "user":
        return _Missing(name)
    rest = parts[1:]
    if rest in (["name"], ["id"]):
        return principal.user
    if rest == ["roles"]:
        return sorted(principal.roles)
    if rest and rest[0] == "attributes":
        rest = rest[1:]
    value: Any = principal.attributes
    for part in rest:
        if not isinstance(value, dict) or part not in value:
            return _Missing(name)
        value = value[part]
    return value if rest else _Missing(name)


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if value is None:
        return exp.null()
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, Iterable):
        items = [_literal(v) for v in value]
        return exp.Tuple(expressions=items or [exp.null()])
    return exp.Literal.string(str(value))
