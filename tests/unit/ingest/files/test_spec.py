import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.errors import InvalidInput, NotFound
from gnomon.ingest.errors import InvalidSourceSpec
from gnomon.ingest.files import FileOptions, FileSourceSpec, load_file_source

FULL = """\
name: orders
kind: file
path: data/orders/*.csv.gz
format: csv
compression: gzip
dataset: sales_orders
contract: contracts/custom.yaml
options:
  delimiter: ";"
  quote: "'"
  header: false
  encoding: latin-1
  null_values: ["", "-"]
  skip_rows: 2
  sheet: Orders
  json_path: data.items
schema:
  customer_id: string
  amount: Decimal(10, 2)
"""


def _load(tmp_path: Path, text: str) -> FileSourceSpec:
    (tmp_path / "sources").mkdir(exist_ok=True)
    path = tmp_path / "sources" / "orders.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file_source(Path("sources/orders.yaml"), project_dir=tmp_path)


def _error(tmp_path: Path, text: str) -> InvalidSourceSpec:
    with pytest.raises(InvalidSourceSpec) as caught:
        _load(tmp_path, text)
    return caught.value


def test_every_key_is_read(tmp_path):
    spec = _load(tmp_path, FULL)
    assert spec.name == "orders"
    assert spec.path == ("data/orders/*.csv.gz",)
    assert (spec.format, spec.compression) == ("csv", "gzip")
    assert (spec.dataset, spec.contract) == ("sales_orders", "contracts/custom.yaml")
    options = spec.options
    assert (options.delimiter, options.quote, options.header) == (";", "'", False)
    assert (options.encoding, options.null_values, options.skip_rows) == ("latin-1", ("", "-"), 2)
    assert (options.sheet, options.json_path) == ("Orders", "data.items")
    assert spec.column_types == {"customer_id": "string", "amount": "decimal(10,2)"}


def test_defaults(tmp_path):
    spec = _load(tmp_path, "name: orders\npath: data/orders.csv\n")
    assert spec.kind == "file"
    assert (spec.format, spec.compression) == ("auto", "auto")
    assert spec.dataset == "orders"
    assert spec.contract == "contracts/orders.yaml"
    assert spec.options.null_values == ("", "NULL", "null", "NA")
    assert spec.options.delimiter is None
    assert spec.options.quote == '"'
    assert spec.options.header is True
    assert spec.column_types == {}


def test_contract_defaults_to_the_dataset(tmp_path):
    spec = _load(tmp_path, "name: orders\npath: a.csv\ndataset: sales\n")
    assert spec.contract == "contracts/sales.yaml"


def test_path_list(tmp_path):
    spec = _load(tmp_path, "name: orders\npath: [a/*.csv, b/**/*.csv]\n")
    assert spec.path == ("a/*.csv", "b/**/*.csv")


def test_unknown_key_is_named_with_the_valid_keys(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\ndelimeter: ';'\n")
    assert "sources/orders.yaml" in error.message
    assert "delimeter: unknown key" in error.message
    assert "valid keys: name, kind, path, format" in error.message
    assert error.details["problems"][0]["key"] == "delimeter"
    assert error.hint


def test_unknown_option_names_its_key_path(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  delimeter: ';'\n")
    assert "options.delimeter: unknown key" in error.message
    assert "delimiter, quote, header, encoding" in error.message


def test_wrong_format_lists_the_formats(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\nformat: excel\n")
    assert "format:" in error.message
    for fmt in ("'csv'", "'ndjson'", "'parquet'", "'xlsx'", "'avro'"):
        assert fmt in error.message


def test_wrong_compression_lists_the_values(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\ncompression: lzma\n")
    assert "compression:" in error.message
    assert "'zstd'" in error.message


def test_wrong_kind(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\nkind: database\n")
    assert "kind: Input should be 'file'" in error.message


def test_missing_path(tmp_path):
    error = _error(tmp_path, "name: orders\n")
    assert "path: required key is missing" in error.message


def test_bad_name(tmp_path):
    error = _error(tmp_path, "name: Orders-2\npath: a.csv\n")
    keys = [p["key"] for p in error.details["problems"]]
    assert keys == ["name"]


def test_unknown_type_lists_the_vocabulary(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\nschema:\n  amount: money\n")
    assert "schema.amount: unknown type 'money'" in error.message
    assert "string, integer, float, decimal(p,s), boolean, date, timestamp, json" in error.message


def test_decimal_out_of_range(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\nschema:\n  amount: decimal(40,2)\n")
    assert "schema.amount" in error.message


def test_unknown_encoding(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  encoding: klingon\n")
    assert "options.encoding: unknown text encoding 'klingon'" in error.message


def test_non_text_codec_is_refused(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  encoding: base64\n")
    assert "options.encoding" in error.message


def test_delimiter_must_be_one_character(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  delimiter: ';;'\n")
    assert "options.delimiter: must be one character" in error.message


def test_delimiter_and_quote_differ(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  delimiter: '\"'\n")
    assert "options" in error.message
    assert "delimiter and quote must be different" in error.message


def test_negative_skip_rows(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noptions:\n  skip_rows: -1\n")
    assert "options.skip_rows" in error.message


def test_several_problems_are_all_named(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\nformat: x\noptions:\n  header: maybe\n")
    keys = {p["key"] for p in error.details["problems"]}
    assert keys == {"format", "options.header"}


def test_keys_yaml_reads_as_values_are_named(tmp_path):
    error = _error(tmp_path, "name: orders\npath: a.csv\noff: 1\noptions:\n  2024: x\n")
    assert [p["key"] for p in error.details["problems"]] == ["False", "options.2024"]
    assert "read as bool False, not text; quote it" in error.message
    assert "read as int 2024" in error.message


def test_yaml_syntax_error_names_the_line(tmp_path):
    error = _error(tmp_path, "name: orders\npath: [a.csv\n")
    assert "cannot be parsed at line" in error.message
    assert error.details["file"] == "sources/orders.yaml"


def test_not_a_mapping(tmp_path):
    error = _error(tmp_path, "- name: orders\n")
    assert "not a mapping" in error.message


def test_empty_file(tmp_path):
    error = _error(tmp_path, "")
    assert "is empty" in error.message


def test_missing_file(tmp_path):
    with pytest.raises(NotFound) as caught:
        load_file_source(Path("sources/nope.yaml"), project_dir=tmp_path)
    assert "sources/nope.yaml" in caught.value.message


def test_spec_errors_are_invalid_input():
    assert issubclass(InvalidSourceSpec, InvalidInput)


@given(
    section=st.sampled_from(["", "options"]),
    key=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True),
)
def test_any_unknown_key_is_named_with_its_path(section, key):
    model = FileOptions if section else FileSourceSpec
    if key in model.model_fields or key == "schema":
        return
    body = f"  '{key}': 1\n" if section else f"'{key}': 1\n"
    text = "name: orders\npath: a.csv\n" + ("options:\n" if section else "") + body
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidSourceSpec) as caught:
            load_file_source(path, project_dir=Path(folder))
    expected = f"{section}.{key}" if section else key
    assert f"{expected}: unknown key" in caught.value.message
