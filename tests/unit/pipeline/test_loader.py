import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.pipeline import ModelError, ModelSpec, load_models, model_lineage


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_one(folder: Path, text: str, name: str = "model") -> ModelSpec:
    write(folder, f"{name}.sql", text)
    (model,) = load_models(folder)
    return model


DAILY_SALES = """
    -- gnomon:
    --   description: Daily revenue and orders by region, country, channel and category.
    --   owner: analytics@example.com
    --   depends_on: [gold.other]        # only needed for dependencies not visible in the SQL
    SELECT CAST(order_time AS DATE) AS day, region,
           SUM(quantity * unit_price * (1 - discount)) AS revenue
    FROM silver.orders WHERE status <> 'cancelled' GROUP BY ALL
"""


def test_a_model_file_with_front_matter(tmp_path):
    path = write(tmp_path, "daily_sales.sql", DAILY_SALES)
    (model,) = load_models(tmp_path)
    assert model.name == "daily_sales"
    assert model.table == "gold.daily_sales"
    assert model.path == path
    assert model.sql == path.read_text(encoding="utf-8")
    assert model.description == (
        "Daily revenue and orders by region, country, channel and category."
    )
    assert model.owner == "analytics@example.com"
    assert model.depends_on == (("gold", "other"), ("silver", "orders"))
    assert model.upstream_models == ("other",)
    assert model.query.selects[0].alias_or_name == "day"


def test_front_matter_is_optional(tmp_path):
    model = load_one(tmp_path, "SELECT id FROM silver.customers")
    assert model.description is None
    assert model.owner is None
    assert model.depends_on == (("silver", "customers"),)


def test_front_matter_may_follow_other_leading_comments(tmp_path):
    model = load_one(
        tmp_path,
        """
        -- Copyright the analytics team.

        -- gnomon:
        --   owner: team@example.com
        --
        --   description: >-
        --     Folded
        --     text.
        SELECT 1 AS one FROM silver.x
        """,
    )
    assert model.owner == "team@example.com"
    assert model.description == "Folded text."


def test_front_matter_ends_at_the_first_line_that_is_not_a_comment(tmp_path):
    model = load_one(
        tmp_path,
        """
        -- gnomon:
        --   owner: team@example.com

        -- description: not front matter
        SELECT 1 AS one FROM silver.x
        """,
    )
    assert model.owner == "team@example.com"
    assert model.description is None


def test_a_gnomon_comment_inside_the_query_is_not_front_matter(tmp_path):
    model = load_one(
        tmp_path,
        """
        SELECT 1 AS one
        -- gnomon:
        --   owner: [not, a, string]
        FROM silver.x
        """,
    )
    assert model.owner is None


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM silver.a", {("silver", "a")}),
        (
            "SELECT * FROM silver.a JOIN gold.b USING (id) LEFT JOIN silver.c ON TRUE",
            {("silver", "a"), ("gold", "b"), ("silver", "c")},
        ),
        (
            "WITH recent AS (SELECT * FROM silver.orders), top AS (SELECT * FROM recent) "
            "SELECT * FROM top JOIN recent USING (id)",
            {("silver", "orders")},
        ),
        (
            "SELECT * FROM (SELECT * FROM silver.a) AS sub "
            "WHERE id IN (SELECT id FROM gold.b) AND EXISTS (SELECT 1 FROM silver.c)",
            {("silver", "a"), ("gold", "b"), ("silver", "c")},
        ),
        (
            "SELECT (SELECT MAX(x) FROM gold.m) AS biggest FROM silver.a",
            {("gold", "m"), ("silver", "a")},
        ),
        (
            "SELECT id FROM silver.a UNION ALL SELECT id FROM gold.b "
            "EXCEPT SELECT id FROM silver.c",
            {("silver", "a"), ("gold", "b"), ("silver", "c")},
        ),
        (
            'SELECT * FROM Silver."Orders" JOIN GOLD.daily USING (id)',
            {("silver", "orders"), ("gold", "daily")},
        ),
        (
            "WITH orders AS (SELECT * FROM silver.orders) SELECT * FROM orders",
            {("silver", "orders")},
        ),
    ],
    ids=["from", "join", "cte", "subqueries", "scalar", "set-operation", "case", "cte-shadow"],
)
def test_dependencies_come_from_every_table_the_sql_reads(tmp_path, sql, expected):
    assert set(load_one(tmp_path, sql).depends_on) == expected


def test_declared_dependencies_are_merged_sorted_and_unique(tmp_path):
    model = load_one(
        tmp_path,
        """
        -- gnomon:
        --   depends_on: [gold.zeta, silver.orders, Gold.Alpha]
        SELECT * FROM silver.orders
        """,
    )
    assert model.depends_on == (("gold", "alpha"), ("gold", "zeta"), ("silver", "orders"))
    assert model_lineage([model]) == [
        ("gold.alpha", "gold.model"),
        ("gold.zeta", "gold.model"),
        ("silver.orders", "gold.model"),
    ]


def test_invalid_sql_names_the_file_line_and_column(tmp_path):
    path = write(
        tmp_path,
        "broken.sql",
        """
        -- gnomon:
        --   owner: team@example.com
        SELECT region, SUM(revenue
        FROM silver.orders
        """,
    )
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.file == str(path)
    assert error.line == 4
    assert error.column is not None
    assert str(path) in error.message
    assert "line 4" in error.message
    assert error.hint


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO gold.x SELECT * FROM silver.orders",
        "DELETE FROM silver.orders",
        "CREATE TABLE gold.x AS SELECT * FROM silver.orders",
        "DROP TABLE silver.orders",
        "SELECT 1 AS one FROM silver.a; SELECT 2 AS two FROM silver.b",
        "UPDATE silver.orders SET status = 'x'",
        "SELECT * FROM orders",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1 AS x FROM information_schema.tables",
    ],
    ids=[
        "insert",
        "delete",
        "ctas",
        "drop",
        "two-statements",
        "update",
        "unqualified-table",
        "table-function",
        "system-catalog",
    ],
)
def test_anything_but_one_read_only_query_is_refused(tmp_path, sql):
    path = write(tmp_path, "bad.sql", sql)
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    assert caught.value.file == str(path)
    assert str(path) in caught.value.message


def test_several_queries_in_one_file_are_told_to_go_in_their_own_files(tmp_path):
    write(tmp_path, "two.sql", "SELECT 1 AS x FROM silver.a;\nSELECT 2 AS x FROM silver.b;\n")
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    assert "own file" in (caught.value.hint or "")


def test_a_file_of_only_comments_is_a_placeholder_not_a_model(tmp_path):
    write(tmp_path, "example.sql", "-- SELECT * FROM silver.orders\n/* nothing yet */\n")
    write(tmp_path, "real.sql", "SELECT * FROM silver.orders")
    assert [model.name for model in load_models(tmp_path)] == ["real"]


def test_front_matter_without_a_query_is_refused(tmp_path):
    write(tmp_path, "forgot.sql", "-- gnomon:\n--   owner: me\n")
    with pytest.raises(ModelError, match="empty"):
        load_models(tmp_path)


def test_models_in_sub_folders_are_sorted_by_name(tmp_path):
    write(tmp_path, "sales/zeta.sql", "SELECT 1 AS x FROM silver.a")
    write(tmp_path, "finance/alpha.sql", "SELECT 1 AS x FROM silver.a")
    write(tmp_path, "middle.sql", "SELECT 1 AS x FROM gold.alpha")
    write(tmp_path, ".checkpoints/middle.sql", "not sql at all")
    write(tmp_path, "notes.txt", "not a model")
    assert [model.name for model in load_models(tmp_path)] == ["alpha", "middle", "zeta"]


def test_two_files_with_one_name_are_refused_naming_both(tmp_path):
    first = write(tmp_path, "a/orders_daily.sql", "SELECT 1 AS x FROM silver.a")
    second = write(tmp_path, "b/orders_daily.sql", "SELECT 1 AS x FROM silver.a")
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    assert str(first) in caught.value.message
    assert str(second) in caught.value.message
    assert "gold.orders_daily" in caught.value.message


@pytest.mark.parametrize(
    "file_name", ["Daily.sql", "daily-sales.sql", "1day.sql", "daily sales.sql", "dé.sql"]
)
def test_file_names_that_are_not_table_names_are_refused(tmp_path, file_name):
    write(tmp_path, file_name, "SELECT 1 AS x FROM silver.a")
    with pytest.raises(ModelError, match="invalid name") as caught:
        load_models(tmp_path)
    assert "daily_sales.sql" in (caught.value.hint or "")


def test_a_missing_folder_has_no_models(tmp_path):
    assert load_models(tmp_path / "models") == []


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    target = tmp_path / "models"
    target.write_text("", encoding="utf-8")
    with pytest.raises(ModelError, match="not a folder"):
        load_models(target)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    (tmp_path / "latin.sql").write_bytes(b"SELECT '\xe9' AS e FROM silver.a")
    with pytest.raises(ModelError, match="not UTF-8"):
        load_models(tmp_path)


@pytest.mark.parametrize(
    ("front_matter", "message", "line"),
    [
        ("--   description: [unclosed", "not valid YAML", 2),
        ("--   owner: a\n--     bad: indent\n--   description: x", "not valid YAML", 3),
        ("--   owner: a\n--   ownr: b", "ownr", 2),
        ("--   owner: [a, b]", "owner", 2),
        ("--   depends_on: gold.other", "depends_on", 2),
        ("--   depends_on: [other]", "'other'", 2),
        ("--   depends_on: [platinum.other]", "'platinum.other'", 2),
        ("--   - just\n--   - a list", "mapping", 2),
    ],
    ids=[
        "yaml",
        "yaml-later-line",
        "unknown-key",
        "owner-type",
        "depends-type",
        "unqualified",
        "layer",
        "list",
    ],
)
def test_bad_front_matter_is_refused_with_the_file_line_and_fix(
    tmp_path, front_matter, message, line
):
    path = write(
        tmp_path,
        "m.sql",
        f"-- first line\n-- gnomon:\n{front_matter}\nSELECT 1 AS x FROM silver.a\n",
    )
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    error = caught.value
    assert message in error.message
    assert str(path) in error.message
    assert error.file == str(path)
    assert error.line == line + 1
    assert error.hint


def test_unknown_front_matter_keys_list_the_valid_ones(tmp_path):
    write(tmp_path, "m.sql", "-- gnomon:\n--   ownr: me\nSELECT 1 AS x FROM silver.a\n")
    with pytest.raises(ModelError) as caught:
        load_models(tmp_path)
    assert "depends_on, description, owner" in (caught.value.hint or "")


text_values = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(description=text_values, owner=st.none() | text_values)
def test_front_matter_values_round_trip_through_yaml(tmp_path, description, owner):
    values = {"description": description} | ({} if owner is None else {"owner": owner})
    dumped = yaml.safe_dump(values, allow_unicode=True, width=10_000, sort_keys=True)
    block = "".join(f"--   {line}\n" for line in dumped.splitlines())
    write(tmp_path, "m.sql", f"-- gnomon:\n{block}SELECT 1 AS x FROM silver.a\n")
    (model,) = load_models(tmp_path)
    assert model.description == description
    assert model.owner == owner


# The suffix keeps generated names clear of SQL keywords such as "from" or "on".
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).map(lambda s: f"{s}_t")
lake_tables = st.tuples(st.sampled_from(["silver", "gold"]), identifiers)


def sql_reading(tables: list[tuple[str, str]], shape: str) -> str:
    refs = [f"{layer}.{name}" for layer, name in tables]
    if shape == "union":
        return " UNION ALL ".join(f"SELECT 1 AS x FROM {ref}" for ref in refs)
    if shape == "join":
        joins = "".join(f" CROSS JOIN {ref} AS t{i}" for i, ref in enumerate(refs))
        return f"SELECT 1 AS x FROM (SELECT 1 AS x) AS base{joins}"
    if shape == "cte":
        # Each CTE is named like the table it reads, so CTE names shadow table names.
        names = [f"{name}_{i}" if i else name for i, (_, name) in enumerate(tables)]
        bodies = ", ".join(
            f"{name} AS (SELECT 1 AS x FROM {ref})" for name, ref in zip(names, refs, strict=True)
        )
        return f"WITH {bodies} " + " UNION ALL ".join(f"SELECT x FROM {name}" for name in names)
    nested = f"SELECT 1 AS x FROM {refs[0]}"
    for ref in refs[1:]:
        nested = f"SELECT 1 AS x FROM {ref} WHERE 1 IN ({nested})"
    return nested


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tables=st.lists(lake_tables, min_size=1, max_size=6),
    shape=st.sampled_from(["union", "join", "cte", "subquery"]),
)
def test_dependencies_are_exactly_the_lake_tables_read(tmp_path, tables, shape):
    model = load_one(tmp_path, sql_reading(tables, shape))
    assert model.depends_on == tuple(sorted(set(tables)))
