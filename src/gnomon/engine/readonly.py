"""Turning SQL text from users into a tree that can only read lake tables.

Policy: a user's SQL is one ``SELECT`` (or ``WITH … SELECT``, a set operation, or ``VALUES``) over
``layer.name`` tables and CTEs. Everything that writes, changes settings, loads code or reaches
outside the lake is refused before an engine sees it: other statements, table functions, file and
system functions, system catalogs and any table that is not a lake table or a CTE. Function calls
sqlglot does not recognise must be on an allow-list, so a newly added or extension function is
refused until someone has looked at it.

The checked tree, not the text, is what runs: the engine renders the tree again, so text that
sqlglot and DuckDB would read differently never reaches DuckDB as written.
"""

import re

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from gnomon.engine._functions import ALLOWED_FUNCTIONS, denied
from gnomon.engine._references import LAYERS, TableReference, lake_key, table_references
from gnomon.engine.errors import QueryError, ReadOnlyViolation

__all__ = ["parse_read_only", "referenced_tables"]

_QUERY_STARTS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN}
)
_ALLOWED = (
    "Write one SELECT, WITH … SELECT, set operation (UNION, INTERSECT, EXCEPT) or VALUES query."
)
_TABLES = (
    f"Read lake tables as layer.name with layer one of {', '.join(LAYERS)} "
    "(for example silver.orders), or name a CTE defined in the query."
)
_STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.DDL,
    exp.DML,
    exp.Alter,
    exp.Analyze,
    exp.Attach,
    exp.Cache,
    exp.Command,
    exp.Comment,
    exp.Commit,
    exp.Declare,
    exp.Describe,
    exp.Detach,
    exp.Drop,
    exp.Export,
    exp.Grant,
    exp.Install,
    exp.Into,
    exp.Kill,
    exp.LoadData,
    exp.Pragma,
    exp.Refresh,
    exp.Revoke,
    exp.Rollback,
    exp.Set,
    exp.Show,
    exp.Summarize,
    exp.Transaction,
    exp.TruncateTable,
    exp.Uncache,
    exp.Use,
)
_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias", "joins", "laterals", "pivots", "sample"})
_SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "main", "temp", "system"})
_SYSTEM_PREFIXES = ("duckdb_", "pg_", "pragma_", "sqlite_")
_LEADING_NAME = re.compile(r'\s*"?([A-Za-z_][A-Za-z0-9_]*)')


def parse_read_only(sql: str, *, dialect: str = "duckdb") -> exp.Query:
    """Parse SQL text from a user into a query tree that can only read lake tables.

    Args:
        sql: exactly one statement; a trailing semicolon and comments are fine.
        dialect: the sqlglot dialect the text is written in (gnomon's SQL is DuckDB's).

    Returns:
        The query; a bare ``VALUES`` comes back as ``SELECT * FROM (VALUES …)``.

    Raises:
        ReadOnlyViolation: the text is empty, holds several statements, or anything other than
            a read of lake tables and CTEs; the message names what was found.
        QueryError: the text does not parse; ``details`` carry ``line`` and ``column``.
    """
    _check_statements(sql, dialect)
    try:
        return _checked_query(sql, dialect)
    except RecursionError as exc:
        raise QueryError(
            "The SQL is nested too deeply to check.", hint="Flatten the query with CTEs."
        ) from exc


def _checked_query(sql: str, dialect: str) -> exp.Query:
    try:
        parsed = [tree for tree in sqlglot.parse(sql, read=dialect) if tree is not None]
    except ParseError as exc:
        raise _parse_error(exc) from exc
    except TokenError as exc:
        raise QueryError(
            f"The SQL does not parse: {exc}.", hint="Close every quoted string and comment."
        ) from exc
    if len(parsed) != 1:
        raise _several(len(parsed))
    query = _as_query(parsed[0])
    for node in query.walk():
        _check_node(node, dialect)
        node.comments = None
    for reference in table_references(query):
        _check_table(reference)
    return query


def referenced_tables(tree: exp.Expr) -> set[tuple[str, str]]:
    """The lake tables a tree reads, as lower-case ``(layer, name)`` pairs.

    CTE references are not lake tables, even when a CTE is named like one: only a qualified
    ``layer.name`` reaches the lake.

    >>> sorted(referenced_tables(parse_read_only(
    ...     "WITH orders AS (SELECT * FROM silver.orders) SELECT * FROM orders, gold.Daily")))
    [('gold', 'daily'), ('silver', 'orders')]
    """
    return {key for ref in table_references(tree) if (key := ref.lake_key) is not None}


def _check_statements(sql: str, dialect: str) -> None:
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except TokenError as exc:
        raise QueryError(
            f"The SQL does not parse: {exc}.", hint="Close every quoted string and comment."
        ) from exc
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    non_empty = [statement for statement in statements if statement]
    if not non_empty:
        raise ReadOnlyViolation(
            "The query is empty: found nothing to run.", hint=_ALLOWED, found="nothing"
        )
    if len(non_empty) > 1:
        raise _several(len(non_empty))
    first = non_empty[0][0]
    if first.token_type not in _QUERY_STARTS:
        found = first.text.upper()
        raise ReadOnlyViolation(
            f"Only read-only queries are allowed: found {found}.", hint=_ALLOWED, found=found
        )


def _several(count: int) -> ReadOnlyViolation:
    return ReadOnlyViolation(
        f"Only one statement is allowed: found {count} statements.",
        hint="Send each query on its own. " + _ALLOWED,
        found=f"{count} statements",
    )


def _parse_error(exc: ParseError) -> QueryError:
    first = exc.errors[0] if exc.errors else {}
    line, column = first.get("line"), first.get("col")
    description = str(first.get("description") or exc).rstrip(".")
    where = f" (line {line}, column {column})" if line is not None else ""
    return QueryError(
        f"The SQL does not parse: {description}{where}.",
        hint=f"Fix the syntax near line {line}, column {column}."
        if line is not None
        else "Fix the syntax.",
        line=line,
        column=column,
    )


def _as_query(tree: exp.Expr) -> exp.Query:
    if isinstance(tree, exp.Values):
        alias = exp.TableAlias(this=exp.to_identifier("_values"))
        return exp.select("*").from_(exp.Subquery(this=tree, alias=alias))
    if isinstance(tree, exp.Query):
        return tree
    found = _statement_name(tree)
    raise ReadOnlyViolation(
        f"Only read-only queries are allowed: found {found}.", hint=_ALLOWED, found=found
    )


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Into):
        return "SELECT … INTO"
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def _check_node(node: exp.Expr, dialect: str) -> None:
    if isinstance(node, _STATEMENTS):
        found = _statement_name(node)
        raise ReadOnlyViolation(
            f"Only read-only queries are allowed: found {found}.", hint=_ALLOWED, found=found
        )
    if isinstance(node, (exp.From, exp.Join, exp.Lateral)):
        _check_relation(node)
    if isinstance(node, exp.Func):
        _check_function(node, dialect)
    if isinstance(node, exp.Column):
        _check_column(node)


def _check_column(node: exp.Column) -> None:
    """Refuse a column qualified by a system schema (``information_schema.tables``).

    Such a name reads nothing when no table of that name is in scope, but it must never reach an
    engine that might resolve it; a table alias called ``main`` or ``temp`` stays allowed.
    """
    qualifiers = [part.lower() for part in (node.catalog, node.db, node.table) if part]
    system = {"information_schema", "pg_catalog"}
    if len(qualifiers) > 1:
        system |= _SYSTEM_SCHEMAS
    if any(q in system or q.startswith(_SYSTEM_PREFIXES) for q in qualifiers):
        shown = node.sql()
        raise ReadOnlyViolation(
            f"System catalogs cannot be queried: {shown}.", hint=_TABLES, found=shown
        )


def _check_relation(node: exp.From | exp.Join | exp.Lateral) -> None:
    target = node.this
    if isinstance(node, exp.Lateral):
        allowed: tuple[type[exp.Expr], ...] = (exp.Subquery,)
    else:
        allowed = (exp.Subquery, exp.Values, exp.Lateral)
        if isinstance(target, exp.Table) and not isinstance(target.this, exp.Func):
            return
    if isinstance(target, allowed):
        return
    inner = target.this if isinstance(target, exp.Table) else target
    name = _function_name(inner) if isinstance(inner, exp.Func) else inner.key
    raise ReadOnlyViolation(
        f"Table functions are not allowed: {name} is used as a table.",
        hint=_TABLES,
        found=name,
    )


def _check_function(node: exp.Func, dialect: str) -> None:
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        name = node.name.lower()
        known = name in ALLOWED_FUNCTIONS
    else:
        name = _rendered_name(node, dialect)
        known = True
    if denied(name):
        raise ReadOnlyViolation(
            f"Function not allowed: {name} reads files, settings or system state.",
            hint="Read data from lake tables (layer.name); file and system functions are off.",
            found=name,
        )
    if not known:
        raise ReadOnlyViolation(
            f"Function not allowed: {name} is not among the functions gnomon permits.",
            hint="Use a standard scalar, aggregate or window function (lower, date_trunc, sum, "
            "row_number …); unknown and extension functions are refused.",
            found=name,
        )


def _function_name(node: exp.Func) -> str:
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        return node.name.lower()
    return node.sql_name().lower()


def _rendered_name(node: exp.Func, dialect: str) -> str:
    """The name the engine will see, which for typed functions depends on the dialect."""
    match = _LEADING_NAME.match(node.sql(dialect=dialect, comments=False))
    return match.group(1).lower() if match else ""


def _check_table(reference: TableReference) -> None:
    node = reference.node
    shown = ".".join(part.name for part in node.parts) or node.sql()
    if not isinstance(node.this, exp.Identifier):
        raise ReadOnlyViolation(
            f"Table reference not allowed: {node.sql()} is not a table name.",
            hint=_TABLES,
            found=node.sql(),
        )
    modifiers = sorted(
        key
        for key, value in node.args.items()
        if key not in _TABLE_ARGS and value is not None and value is not False and value != []
    )
    if modifiers:
        raise ReadOnlyViolation(
            f"Table modifier not allowed: {', '.join(modifiers)} on {shown}.",
            hint="Ask for a table version through the API or CLI (--version, --as-of), not in SQL.",
            found=shown,
        )
    if reference.names_cte or lake_key(node) is not None:
        return
    parts = [part.name.lower() for part in node.parts]
    if any(part in _SYSTEM_SCHEMAS or part.startswith(_SYSTEM_PREFIXES) for part in parts):
        raise ReadOnlyViolation(
            f"System catalogs cannot be queried: {shown}.", hint=_TABLES, found=shown
        )
    raise ReadOnlyViolation(
        f"Table reference not allowed: {shown} is neither a lake table (layer.name) "
        "nor a CTE in scope.",
        hint=_TABLES,
        found=shown,
    )
