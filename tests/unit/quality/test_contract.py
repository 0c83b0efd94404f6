"""Loading contracts: the documented example, error reporting by key path, fingerprints."""

import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.quality import (
    ContractError,
    ContractSpec,
    load_contract,
    parse_contract,
    parse_duration,
)

EXAMPLE = """\
dataset: orders                # identifier
version: 3                     # positive int; any change to the contract needs a bump
description: Retail orders, one row per order line.
owner: data-eng@example.com
primary_key: [order_id]        # rows are deduplicated on it (latest wins)
ordering: updated_at           # optional column deciding "latest"
schema_drift: evolve           # evolve | quarantine | fail
columns:
  order_id:    {type: string, required: true}
  order_time:  {type: timestamp, required: true, format: "%Y-%m-%d %H:%M:%S", timezone: UTC}
  updated_at:  {type: timestamp}
  quantity:    {type: integer, min: 1, max: 1000}
  unit_price:  {type: "decimal(12,2)", min: 0}
  status:      {type: string, allowed: [placed, shipped, returned, cancelled]}
  email:       {type: string, regex: '^[^@\\s]+@[^@\\s]+$', severity: warn}
  customer_id: {type: string, source: "Customer ID"}
  sku:         {type: string, unique: true}
  store_id:    {type: integer, references: {dataset: stores, column: store_id}}
checks:
  row_count: {min: 1, max: 50000000, severity: block}
  freshness: {column: order_time, max_age: 3d, severity: warn}
"""


def write(tmp_path: Path, text: str, name: str = "orders.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads(tmp_path: Path) -> None:
    spec = load_contract(write(tmp_path, EXAMPLE))

    assert spec.dataset == "orders"
    assert spec.version == 3
    assert list(spec.columns) == [
        "order_id",
        "order_time",
        "updated_at",
        "quantity",
        "unit_price",
        "status",
        "email",
        "customer_id",
        "sku",
        "store_id",
    ]
    assert spec.columns["unit_price"].type == "decimal(12,2)"
    assert spec.columns["email"].severity == "warn"
    assert spec.raw_name("customer_id") == "Customer ID"
    assert spec.columns["store_id"].references is not None
    assert spec.checks.freshness is not None
    assert spec.checks.freshness.max_age_delta.days == 3
    assert spec.columns["quantity"].bounds() == (1, 1000)


def test_docs_example_is_the_one_tested() -> None:
    docs = Path(__file__).parents[3] / "docs" / "contracts.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]

    spec = parse_contract(yaml.safe_load(block))

    assert spec.fingerprint() == parse_contract(yaml.safe_load(EXAMPLE)).fingerprint()


def test_a_contract_survives_its_json_dump() -> None:
    spec = parse_contract(yaml.safe_load(EXAMPLE))

    again = ContractSpec.model_validate(spec.model_dump(mode="json"))

    assert again == spec
    assert again.fingerprint() == spec.fingerprint()


def test_yes_and_no_stay_text(tmp_path: Path) -> None:
    spec = load_contract(
        write(
            tmp_path,
            "dataset: answers\nversion: 1\ncolumns:\n"
            "  reply: {type: string, allowed: [yes, no, on, off, NO]}\n"
            "  ok: {type: boolean, required: true}\n",
        )
    )

    assert spec.columns["reply"].allowed == ["yes", "no", "on", "off", "NO"]
    assert spec.columns["ok"].required is True


def test_primary_key_may_be_a_single_name() -> None:
    spec = parse_contract(
        {"dataset": "d", "version": 1, "primary_key": "id", "columns": {"id": {"type": "integer"}}}
    )

    assert spec.primary_key == ["id"]


def test_dates_in_bounds_are_kept_as_text(tmp_path: Path) -> None:
    spec = load_contract(
        write(tmp_path, "dataset: d\nversion: 1\ncolumns:\n  day: {type: date, min: 2024-01-01}\n")
    )

    assert spec.columns["day"].min == "2024-01-01"
    assert spec.columns["day"].bounds()[0].isoformat() == "2024-01-01"  # type: ignore[union-attr]


# ---------------------------------------------------------------- errors with key paths

BASE = {
    "dataset": "orders",
    "version": 1,
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "string"},
        "quantity": {"type": "integer"},
        "at": {"type": "timestamp"},
        "email": {"type": "string"},
    },
}


def edited(**changes: Any) -> dict[str, Any]:
    """BASE with dotted keys replaced (``None`` deletes the key)."""
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return data


BAD_CONTRACTS = [
    (edited(version=0), "version", "greater than 0"),
    (edited(version="3"), "version", "valid integer"),
    (edited(version=True), "version", "valid integer"),
    (edited(dataset=None), "dataset", "required"),
    (edited(dataset="Orders!"), "dataset", "not a valid name"),
    (edited(owners="me"), "owners", "unknown key"),
    (edited(columns={}), "columns", "at least 1"),
    (edited(columns=["id"]), "columns", "valid dictionary"),
    (edited(columns__quantity="integer"), "columns.quantity", "valid dictionary"),
    (edited(columns__quantity__minimum=1), "columns.quantity.minimum", "unknown key"),
    (edited(columns__quantity__type="int"), "columns.quantity.type", "Unknown column type"),
    (edited(columns__quantity__type="decimal"), "columns.quantity.type", "Unknown column type"),
    (edited(columns__quantity__type="decimal(40,2)"), "columns.quantity.type", "precision"),
    (edited(columns__quantity__type=None), "columns.quantity.type", "required"),
    (
        edited(columns__quantity__min=5, columns__quantity__max=3),
        "columns.quantity.min",
        "above max",
    ),
    (edited(columns__quantity__min="five"), "columns.quantity.min", "not an integer"),
    (edited(columns__quantity__min=True), "columns.quantity.min", "not a boolean"),
    (edited(columns__quantity__max=[1]), "columns.quantity.max", "single value"),
    (edited(columns__email__min=1), "columns.email.min", "does not apply"),
    (edited(columns__quantity__allowed=[]), "columns.quantity.allowed", "at least one"),
    (edited(columns__quantity__allowed=[1, "two"]), "columns.quantity.allowed.1", "not an integer"),
    (edited(columns__email__regex="(unclosed"), "columns.email.regex", "does not compile"),
    (edited(columns__quantity__regex="^1"), "columns.quantity.regex", "only to string"),
    (edited(columns__quantity__severity="error"), "columns.quantity.severity", "block, warn"),
    (edited(columns__quantity__required="sometimes"), "columns.quantity.required", "boolean"),
    (edited(columns__quantity__format="%Y"), "columns.quantity.format", "date and timestamp"),
    (edited(columns__at__format="%Y-%q"), "columns.at.format", "unknown directive %q"),
    (edited(columns__at__format="YYYY-MM-DD"), "columns.at.format", "no % directive"),
    (edited(columns__at__timezone="Mars/Olympus"), "columns.at.timezone", "IANA"),
    (edited(columns__email__timezone="UTC"), "columns.email.timezone", "only to timestamp"),
    (edited(columns__at__min="yesterday"), "columns.at.min", "ISO 8601"),
    (edited(columns__email__source="id"), "columns.email.source", "already read by 'id'"),
    (edited(columns__email__source="_hidden"), "columns.email.source", "not starting with '_'"),
    (edited(**{"columns__Order ID": {"type": "string"}}), "columns.Order ID", "not a valid name"),
    (
        edited(columns__email__references={"dataset": "Users", "column": "email"}),
        "columns.email.references.dataset",
        "not a valid name",
    ),
    (
        edited(columns__email__references={"dataset": "users", "table": "x"}),
        "columns.email.references.table",
        "unknown key",
    ),
    (edited(primary_key=["id", "nope"]), "primary_key.1", "not a declared column"),
    (edited(primary_key=["id", "id"]), "primary_key.1", "listed twice"),
    (edited(ordering="nope"), "ordering", "not a declared column"),
    (edited(columns__flag={"type": "boolean"}, ordering="flag"), "ordering", "not an orderable"),
    (edited(schema_drift="ignore"), "schema_drift", "evolve, quarantine, fail"),
    (edited(checks={"row_count": {}}), "checks.row_count", "needs min, max or both"),
    (edited(checks={"row_count": {"min": 5, "max": 1}}), "checks.row_count.min", "above max"),
    (edited(checks={"row_count": {"min": -1}}), "checks.row_count.min", "greater than or equal"),
    (edited(checks={"volume": {"min": 1}}), "checks.volume", "unknown key"),
    (
        edited(checks={"freshness": {"column": "nope", "max_age": "1d"}}),
        "checks.freshness.column",
        "not a declared column",
    ),
    (
        edited(checks={"freshness": {"column": "quantity", "max_age": "1d"}}),
        "checks.freshness.column",
        "not a date or timestamp",
    ),
    (
        edited(checks={"freshness": {"column": "at", "max_age": "3 days"}}),
        "checks.freshness.max_age",
        "not a duration",
    ),
    (edited(checks={"freshness": {"column": "at"}}), "checks.freshness.max_age", "required"),
]


@pytest.mark.parametrize(("data", "path", "words"), BAD_CONTRACTS)
def test_invalid_contracts_name_the_key_path(data: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_contract(data, file="contracts/orders.yaml")

    error = caught.value
    assert isinstance(error, InvalidInput)
    assert path in error.paths
    [issue] = [i for i in error.issues if i.path == path]
    assert words in issue.message or words in ", ".join(issue.valid)
    assert error.message.startswith("Invalid contract contracts/orders.yaml")
    assert f"{path}: " in error.message
    assert error.hint is not None


def test_valid_values_are_listed_in_the_hint() -> None:
    with pytest.raises(ContractError) as caught:
        parse_contract(edited(columns__quantity__type="money"))

    issue = caught.value.issues[0]
    assert issue.valid == (
        "string",
        "integer",
        "float",
        "decimal(p,s)",
        "boolean",
        "date",
        "timestamp",
        "json",
    )
    assert caught.value.hint is not None
    assert "columns.quantity.type takes string, integer, float" in caught.value.hint


def test_unknown_keys_list_the_known_ones() -> None:
    with pytest.raises(ContractError) as caught:
        parse_contract(edited(columns__quantity__minimum=1))

    assert "min" in caught.value.issues[0].valid
    assert "severity" in caught.value.issues[0].valid


def test_every_problem_is_reported_at_once() -> None:
    data = edited(
        columns__quantity__type="int",
        columns__email__severity="loud",
        columns__at__unknown=1,
    )

    with pytest.raises(ContractError) as caught:
        parse_contract(data)

    assert sorted(caught.value.paths) == [
        "columns.at.unknown",
        "columns.email.severity",
        "columns.quantity.type",
    ]
    listed = {issue["path"] for issue in caught.value.to_dict()["details"]["issues"]}
    assert listed == set(caught.value.paths)


def test_errors_from_files_carry_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        textwrap.dedent(
            """\
            dataset: orders
            version: 1
            columns:
              id: {type: string}
              quantity:
                type: integer
                min: 10
                max: 1
            """
        ),
    )

    with pytest.raises(ContractError) as caught:
        load_contract(path)

    [issue] = caught.value.issues
    assert issue.path == "columns.quantity.min"
    assert issue.line == 7
    assert str(path) in caught.value.message
    assert caught.value.file == str(path)


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("dataset: orders\n  version: 1\n", "not valid YAML", 2),
        ("dataset: [orders\n", "not valid YAML", 2),
        ("- dataset\n- version\n", "must be a mapping", None),
        ("", "is empty", None),
        ("# nothing but a comment\n", "is empty", None),
        (
            "dataset: orders\nversion: 1\ncolumns:\n  id: {type: string}\n  id: {type: integer}\n",
            "duplicate key 'id'",
            5,
        ),
    ],
)
def test_unreadable_yaml_is_a_contract_error(
    tmp_path: Path, text: str, words: str, line: int | None
) -> None:
    with pytest.raises(ContractError) as caught:
        load_contract(write(tmp_path, text))

    [issue] = caught.value.issues
    assert words in issue.message
    assert issue.line == line


def test_a_missing_file_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot be read"):
        load_contract(tmp_path / "absent.yaml")


def test_direct_validation_reports_the_same_problems() -> None:
    with pytest.raises(ValueError, match=r"primary_key\.0: 'nope' is not a declared column"):
        ContractSpec.model_validate(edited(primary_key=["nope"]))


# ---------------------------------------------------------------- fingerprints


def test_fingerprint_ignores_formatting_and_key_order() -> None:
    block = textwrap.dedent(
        """\
        # the orders contract
        version: 3
        dataset:   orders
        columns:
          quantity:
            max: 1000
            type: INTEGER
            min: 1.0
          order_id:
            required: true
            type: string
          status:
            allowed: [shipped, placed]
            type: string
            severity: block
        primary_key:
          - order_id
        """
    )
    flow = (
        "{dataset: orders, version: 3, primary_key: [order_id], columns: {"
        "order_id: {type: string, required: true}, quantity: {type: integer, min: 1, max: 1000},"
        " status: {type: string, allowed: [placed, shipped]}}}"
    )

    first = parse_contract(yaml.safe_load(block))
    second = parse_contract(yaml.safe_load(flow))

    assert first.fingerprint() == second.fingerprint()
    assert len(first.fingerprint()) == 64


def test_fingerprint_changes_with_content_and_version() -> None:
    base = parse_contract(yaml.safe_load(EXAMPLE))
    data = yaml.safe_load(EXAMPLE)
    data["columns"]["quantity"]["max"] = 999
    changed = parse_contract(data)
    data = yaml.safe_load(EXAMPLE)
    data["version"] = 4
    bumped = parse_contract(data)

    assert changed.fingerprint() != base.fingerprint()
    assert bumped.fingerprint() != base.fingerprint()
    assert bumped.content() == base.content()


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    return value


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flow=st.booleans(), indent=st.integers(2, 6))
def test_fingerprint_is_stable_under_reordering_and_style(
    seed: int, flow: bool, indent: int
) -> None:
    original = yaml.safe_load(EXAMPLE)
    shuffled = _shuffled(original, random.Random(seed))
    text = yaml.safe_dump(shuffled, sort_keys=False, default_flow_style=flow, indent=indent)

    assert (
        parse_contract(yaml.safe_load(text)).fingerprint() == parse_contract(original).fingerprint()
    )


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("36h", 129_600),
        ("3d", 259_200),
        ("2w", 1_209_600),
        ("45s", 45),
        (" 1 h", 3600),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "3", "d", "1.5h", "0d", "3 days", "-1h", "1h30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
