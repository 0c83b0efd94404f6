"""The source YAML of a file source, parsed and checked at the edge.

Why strict (``extra="forbid"``): a misspelt option (``delimeter:``) would otherwise be ignored and
the file read with the default, which corrupts data quietly instead of failing loudly. Every
problem is reported with its key path and, where the values are known, the values allowed.
"""

import codecs
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gnomon.errors import NotFound
from gnomon.ingest.errors import InvalidSourceSpec

__all__ = [
    "COMPRESSIONS",
    "FORMATS",
    "TYPE_NAMES",
    "Compression",
    "FileOptions",
    "FileSourceSpec",
    "Format",
    "load_file_source",
]

Format = Literal["auto", "csv", "tsv", "json", "ndjson", "parquet", "xlsx", "avro"]
Compression = Literal["auto", "none", "gzip", "bz2", "zstd"]

FORMATS: tuple[str, ...] = get_args(Format)
"""Every value ``format:`` accepts, ``auto`` first."""

COMPRESSIONS: tuple[str, ...] = get_args(Compression)
"""Every value ``compression:`` accepts, ``auto`` first."""

TYPE_NAMES: tuple[str, ...] = (
    "string",
    "integer",
    "float",
    "decimal(p,s)",
    "boolean",
    "date",
    "timestamp",
    "json",
)
"""The column type vocabulary shared with contracts; ``p`` and ``s`` are precision and scale."""

_IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_MAX_DECIMAL_PRECISION = 38

Identifier = Annotated[str, Field(pattern=_IDENTIFIER, max_length=63)]


def _canonical_type(name: str) -> str:
    """The vocabulary spelling of a type name, or a ``ValueError`` listing the vocabulary."""
    text = name.strip().lower()
    if text in TYPE_NAMES and text != "decimal(p,s)":
        return text
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= _MAX_DECIMAL_PRECISION and scale <= precision:
            return f"decimal({precision},{scale})"
        raise ValueError(
            f"decimal precision must be 1 to {_MAX_DECIMAL_PRECISION} and scale at most the "
            f"precision, not {name!r}"
        )
    raise ValueError(f"unknown type {name!r}; use one of: {', '.join(TYPE_NAMES)}")


TypeName = Annotated[str, AfterValidator(_canonical_type)]


class FileOptions(BaseModel):
    """Format options; each applies only to the formats named in its description."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str | None = Field(
        default=None, description="csv/tsv: the field separator; csv ',' and tsv a tab if unset."
    )
    quote: str | None = Field(
        default='"', description="csv/tsv: the quote character; null turns quoting off."
    )
    header: bool = Field(
        default=True,
        description="csv/tsv/xlsx: the first row names the columns; if false they are named "
        "column_1, column_2, ….",
    )
    encoding: str = Field(
        default="utf-8", description="csv/tsv/json/ndjson: any Python text codec name."
    )
    null_values: tuple[str, ...] = Field(
        default=("", "NULL", "null", "NA"),
        description="csv/tsv: unquoted values read as null; a quoted value is never null.",
    )
    skip_rows: int = Field(
        default=0, ge=0, strict=True, description="csv/tsv/xlsx: rows to skip before the header."
    )
    sheet: str | Annotated[int, Field(ge=0, strict=True)] | None = Field(
        default=None, description="xlsx: the sheet's name or 0-based index; the first if null."
    )
    json_path: str | None = Field(
        default=None,
        pattern=r"^[^.]+(\.[^.]+)*$",
        description="json: dotted path to the array of records inside the document.",
    )

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in "\r\n"):
            raise ValueError(f"must be one character other than a line break, not {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _text_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
            "".encode(value)
        except LookupError:
            raise ValueError(
                f"unknown text encoding {value!r}; use a Python codec name such as utf-8, "
                "latin-1, cp1252, utf-16 or shift_jis"
            ) from None
        return value

    @model_validator(mode="after")
    def _distinct_delimiter(self) -> "FileOptions":
        if self.delimiter is not None and self.delimiter == self.quote:
            raise ValueError("delimiter and quote must be different characters")
        return self


class FileSourceSpec(BaseModel):
    """A file source as written in ``sources/<name>.yaml``.

    ``path`` is always a tuple of patterns (a single string in YAML becomes a 1-tuple).
    ``dataset`` defaults to ``name`` and ``contract`` to ``contracts/<dataset>.yaml``. The YAML key
    ``schema`` (explicit column types) is the attribute ``column_types``, with type names
    normalised to the vocabulary's spelling (``decimal(10,2)``).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    name: Identifier
    kind: Literal["file"] = "file"
    path: tuple[str, ...] = Field(min_length=1)
    format: Format = "auto"
    compression: Compression = "auto"
    dataset: Identifier
    contract: str = Field(min_length=1)
    options: FileOptions = Field(default_factory=FileOptions)
    column_types: dict[str, TypeName] = Field(default_factory=dict, alias="schema")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        name = filled.get("name")
        if filled.get("dataset") is None and isinstance(name, str) and re.match(_IDENTIFIER, name):
            filled["dataset"] = name
        if filled.get("contract") is None and isinstance(filled.get("dataset"), str):
            filled["contract"] = f"contracts/{filled['dataset']}.yaml"
        return filled

    @field_validator("path", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _non_empty_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not pattern.strip() for pattern in value):
            raise ValueError("a path pattern is empty")
        return value


# dataset and contract default from name and dataset; when those are wrong, only they are reported.
_DERIVED = {("dataset",): {"name"}, ("contract",): {"name", "dataset"}}
_KEYS_AT: dict[tuple[str, ...], type[BaseModel]] = {(): FileSourceSpec, ("options",): FileOptions}


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    errors = exc.errors()
    failed = {str(error["loc"][0]) for error in errors if error["loc"]}
    problems = []
    for error in errors:
        loc = tuple(str(part) for part in error["loc"])
        key = ".".join(loc) or "(top level)"
        if error["type"] == "missing" and loc in _DERIVED and failed & _DERIVED[loc]:
            continue
        if error["type"] == "extra_forbidden":
            parent = _KEYS_AT.get(loc[:-1])
            known = f"; valid keys: {', '.join(_valid_keys(parent))}" if parent else ""
            message = f"unknown key{known}"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
        problems.append({"key": key, "message": message})
    return problems


def _non_text_keys(mapping: dict[Any, Any], prefix: str = "") -> list[dict[str, str]]:
    """Keys YAML read as something else than text (``off:`` is a boolean, ``2024:`` a number)."""
    problems = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if not isinstance(key, str):
            problems.append(
                {
                    "key": path,
                    "message": f"the key is read as {type(key).__name__} {key!r}, not text; "
                    "quote it (YAML reads on/off/yes/no and numbers as values)",
                }
            )
        elif isinstance(value, dict):
            problems.extend(_non_text_keys(value, f"{path}."))
    return problems


def _shown(path: Path, project_dir: Path) -> str:
    try:
        return str(path.relative_to(project_dir))
    except ValueError:
        return str(path)


def load_file_source(path: Path, *, project_dir: Path) -> FileSourceSpec:
    """Read and check one file source YAML.

    Args:
        path: the YAML file, absolute or relative to ``project_dir``.
        project_dir: the project folder, used to resolve ``path`` and to name the file in errors.

    Raises:
        NotFound: the YAML file does not exist.
        InvalidSourceSpec: the YAML is malformed, has an unknown key or a wrong value; the
            message names the file and each key path, with the valid keys or values.
    """
    file = path if path.is_absolute() else project_dir / path
    shown = _shown(file, project_dir)
    if not file.is_file():
        raise NotFound(
            f"Source file not found: {shown}.",
            hint="Check the path; sources live in the project's sources/ folder.",
            file=shown,
        )
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidSourceSpec(
            f"Invalid file source {shown}: the YAML cannot be parsed{where}.",
            hint="Fix the YAML syntax (indentation, quotes, colons).",
            file=shown,
            problems=[{"key": "(top level)", "message": str(exc)}],
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidSourceSpec(
            f"Invalid file source {shown}: the file is not UTF-8 text.",
            hint="Save the YAML file as UTF-8.",
            file=shown,
            problems=[{"key": "(top level)", "message": str(exc)}],
        ) from exc
    if not isinstance(loaded, dict):
        found = "empty" if loaded is None else f"a {type(loaded).__name__}"
        raise InvalidSourceSpec(
            f"Invalid file source {shown}: the file is {found}, not a mapping of keys.",
            hint=f"Write keys such as: {', '.join(_valid_keys(FileSourceSpec))}.",
            file=shown,
            problems=[{"key": "(top level)", "message": f"expected a mapping, got {found}"}],
        )
    problems = _non_text_keys(loaded)
    if problems:
        _invalid(shown, problems)
    try:
        return FileSourceSpec.model_validate(loaded)
    except ValidationError as exc:
        _invalid(shown, _problems(exc), cause=exc)


def _invalid(
    shown: str, problems: list[dict[str, str]], *, cause: Exception | None = None
) -> NoReturn:
    listed = "; ".join(f"{p['key']}: {p['message']}" for p in problems)
    raise InvalidSourceSpec(
        f"Invalid file source {shown}: {listed}.",
        hint="Correct the keys named above; docs/sources.md describes every key and value.",
        file=shown,
        problems=problems,
    ) from cause
