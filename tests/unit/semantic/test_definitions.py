"""Definitions: shape errors per file and the checks over all files, each naming file, key, fix."""

import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from gnomon.errors import InvalidInput
from gnomon.semantic import (
    Definition,
    DefinitionError,
    SemanticLayer,
    UnknownMetric,
    build_layer,
    load_definitions,
    parse_definitions,
)

ORDERS = pa.schema(
    [
        ("order_id", pa.int64()),
        ("order_time", pa.timestamp("us", tz="UTC")),
        ("order_day", pa.date32()),
        ("customer_id", pa.int64()),
        ("region", pa.string()),
        ("country", pa.string()),
        ("city", pa.string()),
        ("channel", pa.string()),
        ("status", pa.string()),
        ("amount", pa.float64()),
        ("quantity", pa.int64()),
        ("_tenant_id", pa.string()),
    ]
)
VISITS = pa.schema([("visit_time", pa.timestamp("us", tz="UTC")), ("region", pa.string())])
TABLES = {"silver.orders": ORDERS, "silver.visits": VISITS}

BASE = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: order_time}
    dimensions:
      region: {}
      country: {parent: region}
      city: {parent: country}
      channel: {}
      size: {expr: "CASE WHEN quantity >= 5 THEN 'bulk' ELSE 'single' END"}
    measures:
      revenue: {agg: sum, expr: amount, filter: "status <> 'cancelled'"}
      orders: {agg: count}
      customers: {agg: count_distinct, expr: customer_id}
      avg_amount: {agg: avg, expr: amount}
  visits:
    table: silver.visits
    time: {column: visit_time}
    dimensions:
      region: {}
    measures:
      visits: {agg: count}
metrics:
  revenue: {measure: orders.revenue}
  orders: {measure: orders.orders}
  customers: {measure: orders.customers}
  avg_amount: {measure: orders.avg_amount}
  visits: {measure: visits.visits}
  aov: {type: ratio, numerator: revenue, denominator: orders}
"""


def definitions(*docs: str) -> list[Definition]:
    """Definitions from YAML documents, the n-th named metrics/f<n>.yaml."""
    out: list[Definition] = []
    for index, doc in enumerate(docs):
        text = textwrap.dedent(doc)
        out += parse_definitions(yaml.safe_load(text), source=f"metrics/f{index}.yaml", text=text)
    return out


def layer_of(*docs: str) -> SemanticLayer:
    return build_layer(definitions(*docs), tables=TABLES)


def problems(*docs: str) -> list[dict[str, Any]]:
    """The issues build_layer reports, as plain dicts (file, path, message, valid, line)."""
    with pytest.raises(DefinitionError) as caught:
        layer_of(*docs)
    assert isinstance(caught.value, InvalidInput)
    return [issue.to_dict() for issue in caught.value.issues]


def only(*docs: str) -> dict[str, Any]:
    found = problems(*docs)
    assert len(found) == 1, found
    return found[0]


def shape_problems(text: str) -> list[dict[str, Any]]:
    text = textwrap.dedent(text)
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(yaml.safe_load(text), source="metrics/bad.yaml", text=text)
    return [issue.to_dict() for issue in caught.value.issues]


# ------------------------------------------------------------------ a valid layer


def test_the_base_definitions_resolve() -> None:
    layer = layer_of(BASE)
    assert set(layer.models) == {"orders", "visits"}
    assert layer.metric("aov").kind == "ratio"
    assert layer.metric("aov").inputs == ("revenue", "orders")
    assert layer.models["orders"].time_column == "order_time"
    assert not layer.models["orders"].time_is_date
    assert layer.calendar.time_zone == "UTC"
    assert [m.name for m in layer.base_metrics("aov")] == ["revenue", "orders"]


def test_fill_defaults_follow_the_aggregation() -> None:
    layer = layer_of(BASE)
    assert layer.metric("revenue").fill_zero
    assert layer.metric("orders").fill_zero
    assert layer.metric("customers").fill_zero
    assert not layer.metric("avg_amount").fill_zero
    explicit = layer_of(BASE, "metrics:\n  avg0: {measure: orders.avg_amount, fill: zero}\n")
    assert explicit.metric("avg0").fill_zero


def test_hierarchy_lists_each_drill_path_top_first() -> None:
    layer = layer_of(BASE)
    assert layer.hierarchy("orders") == [["region", "country", "city"]]
    assert layer.hierarchy("visits") == []


def test_dimensions_of_a_metric_are_those_of_all_its_models() -> None:
    layer = layer_of(
        BASE,
        """
        metrics:
          visits_per_order: {type: derived, expr: visits / orders}
        """,
    )
    assert layer.dimensions_of("revenue") == ["region", "country", "city", "channel", "size"]
    assert layer.dimensions_of("aov") == ["region", "country", "city", "channel", "size"]
    assert layer.dimensions_of("visits_per_order") == ["region"]


def test_unknown_metric_suggests_close_names() -> None:
    layer = layer_of(BASE)
    with pytest.raises(UnknownMetric) as caught:
        layer.metric("revenu")
    assert "'revenue'" in str(caught.value.hint)


def test_date_time_column() -> None:
    layer = layer_of(BASE.replace("time: {column: order_time}", "time: {column: order_day}"))
    assert layer.models["orders"].time_is_date


# ------------------------------------------------------------------ checks over all files


def test_unknown_column_with_did_you_mean() -> None:
    issue = only(BASE.replace("expr: amount,", "expr: amout,"))
    assert issue["file"] == "metrics/f0.yaml"
    assert issue["path"] == "semantic_models.orders.measures.revenue.expr"
    assert issue["message"] == "'amout' is not a column of silver.orders (did you mean 'amount'?)"


def test_unknown_column_without_close_name_lists_the_columns() -> None:
    issue = only(BASE.replace("channel: {}", "channel: {column: zzz}"))
    assert issue["path"] == "semantic_models.orders.dimensions.channel.column"
    assert "'zzz' is not a column of silver.orders" in issue["message"]
    assert "amount" in issue["valid"]
    assert "_tenant_id" not in issue["valid"]


def test_unknown_time_column_and_wrong_type() -> None:
    issue = only(BASE.replace("time: {column: order_time}", "time: {column: ordered}"))
    assert issue["path"] == "semantic_models.orders.time.column"
    assert "order_time" in issue["valid"]
    issue = only(BASE.replace("time: {column: order_time}", "time: {column: region}"))
    assert "not a timestamp or date" in issue["message"]


def test_sum_of_a_text_column() -> None:
    issue = only(BASE.replace("{agg: avg, expr: amount}", "{agg: avg, expr: status}"))
    assert issue["path"] == "semantic_models.orders.measures.avg_amount.expr"
    assert "needs a number" in issue["message"]


def test_missing_table_lists_known_tables() -> None:
    issue = only(
        BASE.replace("table: silver.visits", "table: silver.visitz").replace(
            "  visits: {measure: visits.visits}\n", ""
        )
    )
    assert issue["path"] == "semantic_models.visits.table"
    assert "silver.visitz does not exist" in issue["message"]
    assert issue["valid"] == ["silver.orders", "silver.visits"]


def test_metrics_on_a_broken_model_are_not_reported_again() -> None:
    found = problems(BASE.replace("table: silver.visits", "table: silver.visitz"))
    assert [i["path"] for i in found] == ["semantic_models.visits.table"]


def test_unknown_measure_and_model() -> None:
    issue = only(BASE, "metrics:\n  x: {measure: orders.profit}\n")
    assert issue["file"] == "metrics/f1.yaml"
    assert issue["path"] == "metrics.x.measure"
    assert issue["message"] == "'profit' is not a measure of 'orders'"
    assert "revenue" in issue["valid"]
    issue = only(BASE, "metrics:\n  x: {measure: shop.revenue}\n")
    assert issue["message"] == "'shop' is not a semantic model"
    assert issue["valid"] == ["orders", "visits"]


def test_unknown_metric_in_ratio_derived_cumulative() -> None:
    found = problems(
        BASE,
        """
        metrics:
          r: {type: ratio, numerator: revenue, denominator: order}
          d: {type: derived, expr: revenue - cost}
          c: {type: cumulative, metric: revenu}
          p: {type: period_over_period, metric: nothing}
        """,
    )
    by_path = {i["path"]: i["message"] for i in found}
    assert by_path == {
        "metrics.r.denominator": "'order' is not a metric (did you mean 'orders'?)",
        "metrics.d.expr": "'cost' is not a metric",
        "metrics.c.metric": "'revenu' is not a metric (did you mean 'revenue'?)",
        "metrics.p.metric": "'nothing' is not a metric",
    }


def test_ratio_without_denominator() -> None:
    issue = only(BASE, "metrics:\n  r: {type: ratio, numerator: revenue}\n")
    assert issue["path"] == "metrics.r.denominator"
    assert issue["message"] == "is required for a ratio metric but missing"


def test_cycle_between_derived_metrics() -> None:
    found = problems(
        BASE,
        """
        metrics:
          a: {type: derived, expr: b + revenue}
          b: {type: derived, expr: c * 2}
          c: {type: ratio, numerator: a, denominator: orders}
          selfish: {type: derived, expr: selfish + 1}
        """,
    )
    messages = sorted(i["message"] for i in found)
    assert len(found) == 2
    assert messages[0].startswith("metrics depend on each other in a cycle: ")
    cycle = messages[0].removeprefix("metrics depend on each other in a cycle: ").split(" → ")
    assert set(cycle) == {"a", "b", "c"}
    assert cycle[0] == cycle[-1]
    assert messages[1] == "metrics depend on each other in a cycle: selfish → selfish"


@pytest.mark.parametrize(
    ("base", "agg"),
    [("customers", "count_distinct"), ("avg_amount", "avg"), ("aov_ok", "derived")],
)
def test_cumulative_needs_an_additive_metric(base: str, agg: str) -> None:
    issue = only(
        BASE,
        f"""
        metrics:
          aov_ok: {{type: derived, expr: revenue / orders}}
          running: {{type: cumulative, metric: {base}}}
        """,
    )
    assert issue["path"] == "metrics.running.metric"
    assert f"'{base}' ({agg}) cannot be totalled over time buckets" in issue["message"]


def test_cumulative_over_a_ratio_of_sums_is_fine() -> None:
    layer = layer_of(BASE, "metrics:\n  aov_7d: {type: cumulative, metric: aov, window: 7 days}\n")
    assert layer.metric("aov_7d").inputs == ("aov",)


def test_cumulative_over_a_ratio_with_a_distinct_count() -> None:
    issue = only(
        BASE,
        """
        metrics:
          per_customer: {type: ratio, numerator: revenue, denominator: customers}
          running: {type: cumulative, metric: per_customer}
        """,
    )
    assert "'customers' (count_distinct)" in issue["message"]


def test_time_metrics_need_a_model_with_time() -> None:
    untimed = BASE.replace("    time: {column: visit_time}\n", "")
    issue = only(untimed, "metrics:\n  v7: {type: cumulative, metric: visits, window: 7 days}\n")
    assert issue["path"] == "metrics.v7"
    assert "model 'visits' has no 'time:' column" in issue["message"]


def test_duplicate_names_across_files() -> None:
    found = problems(BASE, "metrics:\n  revenue: {measure: orders.orders}\n")
    assert found == [
        {
            "file": "metrics/f1.yaml",
            "path": "metrics.revenue",
            "message": "'revenue' is also defined in metrics/f0.yaml; names must be unique",
            "valid": [],
            "line": None,
        }
    ]
    twice = BASE.split("metrics:")[0]
    found = problems(BASE, twice)
    assert {i["path"] for i in found} == {"semantic_models.orders", "semantic_models.visits"}


def test_calendar_twice() -> None:
    issue = only(BASE + "calendar: {time_zone: UTC}\n", "calendar: {fiscal_year_start_month: 4}\n")
    assert issue["file"] == "metrics/f1.yaml"
    assert issue["path"] == "calendar"
    assert "also defined in metrics/f0.yaml; define it once" in issue["message"]


def test_calendar_is_read() -> None:
    layer = layer_of(BASE, "calendar: {time_zone: Europe/Berlin, fiscal_year_start_month: 10}\n")
    assert layer.calendar.time_zone == "Europe/Berlin"
    assert layer.calendar.fiscal_year_start_month == 10


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("(SELECT max(amount) FROM silver.orders)", "uses a subquery"),
        ("amount IN (SELECT 1)", "uses a subquery"),
        ("my_udf(amount)", "the function my_udf()"),
        ("SUM(amount)", "the function sum()"),
        ("o.amount", "refers to o.amount: write plain column names"),
        ("amount AS a", "must not name itself with AS"),
        ("amount +", "is not valid SQL"),
        ("row_number() OVER ()", "definitions cannot use"),
    ],
)
def test_bad_expressions(expr: str, says: str) -> None:
    issue = only(BASE.replace("expr: amount,", f'expr: "{expr}",'))
    assert issue["path"] == "semantic_models.orders.measures.revenue.expr"
    assert says in issue["message"]


def test_portable_functions_are_allowed() -> None:
    layer = layer_of(
        BASE.replace(
            "expr: amount,", 'expr: "ROUND(COALESCE(amount, 0) * 1.2, 2) + ABS(quantity)",'
        )
    )
    assert "revenue" in layer.models["orders"].measures


def test_metric_filter_must_use_dimensions() -> None:
    issue = only(BASE, "metrics:\n  big: {measure: orders.revenue, filter: quantity > 3}\n")
    assert issue["path"] == "metrics.big.filter"
    assert issue["message"] == "'quantity' is not a dimension of 'orders'"
    assert "channel" in issue["valid"]
    layer = layer_of(BASE, "metrics:\n  bulk: {measure: orders.revenue, filter: size = 'bulk'}\n")
    assert layer.metric("bulk").filter is not None


def test_metric_filter_subquery() -> None:
    issue = only(
        BASE,
        "metrics:\n  b: {measure: orders.revenue, filter: \"region IN (SELECT 'x')\"}\n",
    )
    assert issue["path"] == "metrics.b.filter"
    assert "subquery" in issue["message"]


def test_unknown_parent_and_parent_cycle() -> None:
    issue = only(BASE.replace("country: {parent: region}", "country: {parent: continent}"))
    assert issue["path"] == "semantic_models.orders.dimensions.country.parent"
    assert "'continent' is not a dimension" in issue["message"]
    found = problems(BASE.replace("region: {}", "region: {parent: city}", 1))
    assert found
    assert all("the parents form a cycle" in i["message"] for i in found)


def test_every_problem_is_reported_together_in_the_error_message() -> None:
    with pytest.raises(DefinitionError) as caught:
        layer_of(BASE.replace("expr: amount,", "expr: amout,"), "metrics:\n  x: {measure: y.z}\n")
    error = caught.value
    assert len(error.issues) == 2
    assert "Invalid metric definitions, 2 problems" in str(error)
    assert "metrics/f0.yaml: semantic_models.orders.measures.revenue.expr" in str(error)
    assert "metrics/f1.yaml: metrics.x.measure" in str(error)
    assert error.hint is not None
    assert "docs/metrics.md" in error.hint


def test_stored_specs_are_checked_again() -> None:
    """Definitions read back from the catalog get the same shape checks as files."""
    items = [
        *definitions(BASE),
        Definition("metric", "w", {"type": "cumulative", "metric": "revenue", "window": "1 eon"}),
        Definition("calendar", "calendar", {"time_zone": "Nowhere/Land"}),
        Definition("metric", "t", {"type": "median"}),
    ]
    with pytest.raises(DefinitionError) as caught:
        build_layer(items, tables=TABLES)
    by_path = {i.issue.path: i.issue.message for i in caught.value.issues}
    assert "'1 eon' is not a window" in by_path["metrics.w.window"]
    assert "'Nowhere/Land' is not a time zone" in by_path["calendar.time_zone"]
    assert by_path["metrics.t.type"].startswith("type 'median' is not one of simple, ratio")


# ------------------------------------------------------------------ shape, per file


def test_shape_errors_name_file_key_line_and_fix() -> None:
    found = shape_problems(
        """
        semantic_models:
          orders:
            table: silver.orders
            measures:
              avg_amount: {agg: avg}
              p: {agg: percentile, expr: amount}
              x: {agg: mode, expr: amount}
        metrics:
          aov: {type: ratio, numerator: revenue}
          w: {type: cumulative, metric: revenue, window: 7 fortnights}
          t: {type: nope}
          u: {foo: 1}
          y: {measure: orders.revenue, colour: red}
          pop: {type: period_over_period, metric: revenue, output: ratio}
        calendar: {time_zone: Mars/Base, fiscal_year_start_month: 13}
        """
    )
    by_path = {i["path"]: i for i in found}
    assert all(i["file"] == "metrics/bad.yaml" for i in found)
    assert (
        "agg 'avg' needs 'expr'" in by_path["semantic_models.orders.measures.avg_amount"]["message"]
    )
    assert by_path["semantic_models.orders.measures.avg_amount"]["line"] == 6
    assert "needs 'percentile: <0..1>'" in by_path["semantic_models.orders.measures.p"]["message"]
    assert "'mode' is not one of" in by_path["semantic_models.orders.measures.x.agg"]["message"]
    assert "count_distinct" in by_path["semantic_models.orders.measures.x.agg"]["valid"]
    ratio = by_path["metrics.aov.denominator"]
    assert ratio["message"] == "is required for a ratio metric but missing"
    assert ratio["line"] == 10
    window = by_path["metrics.w.window"]
    assert "'7 fortnights' is not a window" in window["message"]
    assert window["line"] == 11
    assert by_path["metrics.t.type"]["valid"] == [
        "simple",
        "ratio",
        "derived",
        "cumulative",
        "period_over_period",
    ]
    assert by_path["metrics.t.type"]["line"] == 12
    assert by_path["metrics.u"]["message"] == "give 'measure:' (a simple metric) or a 'type:'"
    assert by_path["metrics.y.colour"]["message"] == "unknown key 'colour'"
    assert "filter" in by_path["metrics.y.colour"]["valid"]
    assert by_path["metrics.y.colour"]["line"] == 14
    assert by_path["metrics.pop.output"]["valid"] == ["value", "delta", "percent"]
    assert "'Mars/Base' is not a time zone" in by_path["calendar.time_zone"]["message"]
    assert "calendar.fiscal_year_start_month" in by_path
    assert by_path["calendar.time_zone"]["line"] == 16


@pytest.mark.parametrize(
    ("text", "path", "says"),
    [
        ("semantic_models:\n  o: {table: orders}\n", "semantic_models.o.table", "layer.name"),
        ("semantic_models:\n  Orders: {table: silver.orders}\n", "semantic_models", "not a valid"),
        ("metrics:\n  Bad-Name: {measure: o.r}\n", "metrics", "not a valid name"),
        ("metrics:\n  r: {measure: revenue}\n", "metrics.r.measure", "is not model.measure"),
        ("metrics:\n  r: {measure: o.r, refresh: hourly}\n", "metrics.r.refresh", "15m, 1h"),
        (
            "metrics:\n  c: {type: cumulative, metric: r, window: 7 days, grain_to_date: month}\n",
            "metrics.c",
            "either 'window' or 'grain_to_date'",
        ),
        (
            "semantic_models:\n  o:\n    table: silver.orders\n    dimensions:\n"
            "      d: {column: a, expr: b}\n",
            "semantic_models.o.dimensions.d",
            "either 'column' or 'expr'",
        ),
        ("metrics:\n  r: {measure: o.r, grain: fortnight}\n", "metrics.r.grain", "fortnight"),
        ("metrics:\n  w: {type: cumulative, metric: r, window: 0 days}\n", "metrics.w.window", ""),
        ("colours: {}\n", "colours", "unknown key"),
    ],
)
def test_shape_errors(text: str, path: str, says: str) -> None:
    found = shape_problems(text)
    matching = [i for i in found if i["path"] == path]
    assert matching, found
    assert says in matching[0]["message"]


def test_document_must_be_a_mapping() -> None:
    with pytest.raises(DefinitionError, match="must be a mapping"):
        parse_definitions(["a"], source="metrics/x.yaml")
    assert parse_definitions(None, source="metrics/empty.yaml") == []


def test_load_definitions_reads_every_file_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "b.yml").write_text("metrics:\n  visits: {measure: visits.visits}\n")
    (folder / "a.yaml").write_text(
        textwrap.dedent(BASE).replace("  visits: {measure: visits.visits}\n", "")
    )
    (folder / "notes.txt").write_text("not: [read")
    found = load_definitions(folder, root=tmp_path)
    assert {d.source for d in found} == {"metrics/a.yaml", "metrics/b.yml"}
    assert found[-1] == Definition(
        "metric", "visits", {"measure": "visits.visits"}, "metrics/b.yml"
    )
    assert {d.kind for d in found} == {"semantic_model", "metric"}
    layer = build_layer(found, tables=TABLES)
    assert layer.metric("visits").source == "metrics/b.yml"
    assert load_definitions(tmp_path / "missing") == []


def test_load_definitions_collects_problems_of_every_file_with_lines(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "a.yaml").write_text("metrics:\n  ok: {measure: o.r}\n  r: {type: ratio}\n")
    (folder / "b.yaml").write_text("metrics: [unclosed\n")
    (folder / "c.yaml").write_text("metrics:\n  x: {measure: o.r}\n  x: {measure: o.s}\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder, root=tmp_path)
    issues = [i.to_dict() for i in caught.value.issues]
    files = [i["file"] for i in issues]
    assert set(files) == {"metrics/a.yaml", "metrics/b.yaml", "metrics/c.yaml"}
    ratio = [i for i in issues if i["file"] == "metrics/a.yaml"]
    assert {i["path"] for i in ratio} == {"metrics.r.numerator", "metrics.r.denominator"}
    assert all(i["line"] == 3 for i in ratio)
    broken = next(i for i in issues if i["file"] == "metrics/b.yaml")
    assert "not valid YAML" in broken["message"]
    assert broken["line"] is not None
    duplicate = next(i for i in issues if i["file"] == "metrics/c.yaml")
    assert duplicate["line"] == 3


def test_a_metric_is_monitored_with_defaults_unless_it_says_otherwise() -> None:
    layer = layer_of(
        BASE,
        """
        metrics:
          watched:
            measure: orders.revenue
            monitor: {sensitivity: high, dimensions: [region], pairs: [[region, channel]]}
        """,
    )
    default = layer.metric("revenue").spec.monitor
    assert (default.enabled, default.sensitivity, default.detector) == (True, "medium", "kpi")
    assert default.dimensions is None
    watched = layer.metric("watched").spec.monitor
    assert watched.sensitivity == "high"
    assert watched.dimensions == ["region"]
    assert watched.pairs == [("region", "channel")]


def test_monitor_names_only_dimensions_the_metric_has() -> None:
    found = only(
        BASE,
        """
        metrics:
          watched: {measure: visits.visits, monitor: {dimensions: [region, channel]}}
        """,
    )
    assert found["path"] == "metrics.watched.monitor"
    assert "'channel' is not a dimension of 'watched'" in found["message"]
    assert found["valid"] == ["region"]


@pytest.mark.parametrize(
    ("monitor", "message"),
    [
        ("{sensitivity: extreme}", "sensitivity"),
        ("{pairs: [[region, region]]}", "two different dimensions"),
        ("{min_share: 2}", "min_share"),
        ("{min_points: 1}", "min_points"),
        ("{schedule: hourly}", "schedule"),
    ],
)
def test_a_bad_monitor_block_is_refused(monitor: str, message: str) -> None:
    found = only(BASE, f"metrics:\n  watched: {{measure: orders.revenue, monitor: {monitor}}}\n")
    assert found["path"].startswith("metrics.watched.monitor")
    assert message in found["path"] + found["message"]
