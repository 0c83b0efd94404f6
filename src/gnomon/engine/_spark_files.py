"""One pinned table version as a Spark DataFrame over exactly its Parquet files.

Spark cannot read Delta without the delta-spark jars, so the engine reads the snapshot's file
list, the same files DuckDB reads:

* with the table's schema given to the reader, so columns an older file lacks read as NULL and
  types are the table's, not whatever one file holds;
* partition values taken from the Hive-style paths (``_tenant_id=<value>/``) with the table root
  as ``basePath``, typed by the schema, so a tenant called ``"007"`` stays a string. Spark
  decodes ``%XX`` escapes one byte per character, which garbles non-ASCII values that delta-rs
  wrote as UTF-8 escapes; such values are mapped back to the real ones in the projection;
* columns in the schema's order, as DuckDB returns them.
"""

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa

from gnomon.engine.protocols import TableSource
from gnomon.errors import ConfigError, InternalError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

_HEX = re.compile(r"[+-]?[0-9A-Fa-f]+")
_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def read_source(
    session: "SparkSession",
    source: TableSource,
    *,
    allowed_roots: Sequence[str] | None,
) -> "DataFrame":
    """The rows of ``source`` with exactly the columns of its schema, in order.

    Raises:
        ConfigError: a file lies outside ``allowed_roots``.
        InternalError: a column type has no Spark equivalent.
    """
    from pyspark.sql import functions as F

    schema = spark_schema(source.schema)
    files = [spark_path(path, allowed_roots=allowed_roots) for path in source.files]
    if not files:
        return session.createDataFrame([], schema)
    reader = session.read.schema(schema)
    if source.partition_columns:
        reader = reader.option("basePath", spark_path(source.uri, allowed_roots=None))
    else:
        # Without partitions, directories in the paths must not be read as partition columns.
        reader = reader.option("recursiveFileLookup", "true")
    frame = reader.parquet(*files)
    fixes = _partition_fixes(source)
    columns: list[Column] = []
    for name in source.schema.names:
        column = F.col(f"`{name}`")
        for garbled, value in fixes.get(name, {}).items():
            column = F.when(F.col(f"`{name}`") == F.lit(garbled), F.lit(value)).otherwise(column)
        columns.append(column.alias(name))
    return frame.select(*columns)


def spark_schema(schema: pa.Schema) -> "StructType":
    """The Spark schema for the table's Arrow schema.

    Raises:
        InternalError: a column type has no Spark equivalent.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    try:
        return from_arrow_schema(schema)
    except (TypeError, NotImplementedError) as exc:
        raise InternalError(
            f"A lake column type cannot be read on Spark: {exc}",
            hint="Read this table with the DuckDB engine, or cast the column to a simpler type.",
        ) from exc


def spark_path(location: str, *, allowed_roots: Sequence[str] | None) -> str:
    """A location Spark reads as written: ``file://`` plus the raw path for local files.

    Not ``Path.as_uri()``: that escapes ``%``, and Hadoop does not unescape it, so a partition
    folder like ``_tenant_id=a%20b`` would be looked up as ``a%2520b``. Remote URIs are passed
    on unchanged; the cluster's Hadoop configuration must know their scheme.

    Raises:
        ConfigError: the file lies outside ``allowed_roots`` (``None`` checks nothing).
    """
    if "://" in location and not location.startswith("file:"):
        return location
    local = local_path(location)
    if allowed_roots is not None and not any(
        Path(local).is_relative_to(root) for root in allowed_roots
    ):
        raise ConfigError(
            f"Lake file outside the engine's allowed roots: {local}.",
            hint="Pass the lake root in SparkEngine(allowed_roots=[...]) "
            f"(now: {', '.join(allowed_roots) or 'none'}).",
            path=local,
        )
    return "file://" + local


def local_path(location: str) -> str:
    """An absolute, normalised local path for a path or ``file://`` URI."""
    if location.startswith("file:"):
        location = unquote(urlparse(location).path)
    return os.path.normpath(Path(location).absolute())


def _partition_fixes(source: TableSource) -> dict[str, dict[str, str]]:
    """For each string partition column, Spark's garbled reading → the real value."""
    text_columns = {
        name
        for name in source.partition_columns
        if name in source.schema.names
        and (
            pa.types.is_string(source.schema.field(name).type)
            or pa.types.is_large_string(source.schema.field(name).type)
        )
    }
    fixes: dict[str, dict[str, str]] = {}
    for name, raw in _partition_segments(source.files):
        if name not in text_columns or raw == _DEFAULT_PARTITION:
            continue
        garbled, value = _spark_unescape(raw), unquote(raw)
        if garbled != value:
            fixes.setdefault(name, {})[garbled] = value
    return fixes


def _partition_segments(files: Iterable[str]) -> set[tuple[str, str]]:
    """Every ``name=value`` folder (value still escaped) in the files' paths."""
    found: set[tuple[str, str]] = set()
    for path in files:
        for segment in path.replace("\\", "/").split("/")[:-1]:
            name, equals, raw = segment.partition("=")
            if equals and name:
                found.add((unquote(name), raw))
    return found


def _spark_unescape(raw: str) -> str:
    """What Spark makes of an escaped path value: each ``%XX`` becomes one character.

    Mirrors ``ExternalCatalogUtils.unescapePathName``, which parses the two characters after
    ``%`` with Java's ``Integer.parseInt(…, 16)`` (a sign is accepted, a negative code is not).
    """
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "%" and i + 2 < len(raw):
            digits = raw[i + 1 : i + 3]
            code = int(digits, 16) if _HEX.fullmatch(digits) else -1
            if code >= 0:
                out.append(chr(code))
                i += 3
                continue
        out.append(char)
        i += 1
    return "".join(out)
