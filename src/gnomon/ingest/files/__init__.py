"""File sources: reading CSV, TSV, JSON, NDJSON, Parquet, xlsx and Avro files into Arrow batches.

Reading is raw and robust: text formats give all-text columns exactly as written, Parquet and Avro
keep their types, memory stays bounded by the batch size, and a malformed record becomes a
:class:`BadRow` instead of failing the file. Typing and validation happen later, against the
dataset's contract. ``docs/sources.md`` describes the source YAML.
"""

from gnomon.ingest.files.detect import detect_format
from gnomon.ingest.files.infer import infer_schema, type_of_arrow, type_of_values
from gnomon.ingest.files.models import RAW_TEXT_LIMIT, BadRow, ReadBatch
from gnomon.ingest.files.paths import expand_paths, fingerprint
from gnomon.ingest.files.reader import DEFAULT_BATCH_ROWS, DEFAULT_BLOCK_SIZE, FileReader, read_file
from gnomon.ingest.files.spec import (
    COMPRESSIONS,
    FORMATS,
    TYPE_NAMES,
    FileOptions,
    FileSourceSpec,
    load_file_source,
)

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_BLOCK_SIZE",
    "FORMATS",
    "RAW_TEXT_LIMIT",
    "TYPE_NAMES",
    "BadRow",
    "FileOptions",
    "FileReader",
    "FileSourceSpec",
    "ReadBatch",
    "detect_format",
    "expand_paths",
    "fingerprint",
    "infer_schema",
    "load_file_source",
    "read_file",
    "type_of_arrow",
    "type_of_values",
]
