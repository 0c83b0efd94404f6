"""Which format and compression a file has, when the source says ``auto``.

Compression: the name's last suffix (``.gz``/``.gzip``, ``.bz2``, ``.zst``/``.zstd``), else the
first bytes (gzip, bz2 and zstd each start with a fixed signature), else none. Format: the suffix
before any compression suffix, else the first bytes of the decompressed content for the two
formats that carry a signature (Parquet ``PAR1``, Avro ``Obj`` and byte 1). A setting other than
``auto`` wins.
"""

import re
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from gnomon.errors import InvalidInput
from gnomon.ingest.files._streams import open_decompressed
from gnomon.ingest.files.spec import FORMATS

if TYPE_CHECKING:
    from gnomon.ingest.files.spec import FileSourceSpec

__all__ = ["detect_format"]

_COMPRESSION_SUFFIXES = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bz2",
    ".zst": "zstd",
    ".zstd": "zstd",
}
_FORMAT_MAGIC = ((b"PAR1", "parquet"), (b"Obj\x01", "avro"))
_BZ2_BLOCK = re.compile(rb"^BZh[1-9](\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")
_FORMAT_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".avro": "avro",
}


def _sniff_compression(head: bytes) -> str:
    """Compression told by signature; bz2's is checked to its block marker, being printable."""
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if _BZ2_BLOCK.match(head):
        return "bz2"
    return "none"


def _head(path: Path, *, compression: str, size: int) -> bytes:
    with ExitStack() as stack:
        data: bytes = open_decompressed(path, compression=compression, stack=stack)[0].read(size)
        return data


def _compression(path: Path, setting: str) -> str:
    if setting != "auto":
        return setting
    by_suffix = _COMPRESSION_SUFFIXES.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    with path.open("rb") as handle:
        return _sniff_compression(handle.read(10))


def detect_format(path: Path, spec: "FileSourceSpec") -> tuple[str, str]:
    """The ``(format, compression)`` to read ``path`` with, e.g. ``("csv", "gzip")``.

    Raises:
        InvalidInput: the format is ``auto`` and cannot be told from the name or content; the
            message lists the formats.
    """
    compression = _compression(path, spec.compression)
    if spec.format != "auto":
        return spec.format, compression
    name = path.name.lower()
    suffix = Path(name).suffix
    if suffix in _COMPRESSION_SUFFIXES:
        suffix = Path(name.removesuffix(suffix)).suffix
    by_suffix = _FORMAT_SUFFIXES.get(suffix)
    if by_suffix:
        return by_suffix, compression
    head = _head(path, compression=compression, size=4)
    by_magic = next((fmt for magic, fmt in _FORMAT_MAGIC if head.startswith(magic)), None)
    if by_magic:
        return by_magic, compression
    formats = ", ".join(FORMATS[1:])
    raise InvalidInput(
        f"Unknown file format for {path.name}: the name does not end in a known extension "
        f"({', '.join(sorted(_FORMAT_SUFFIXES))}) and the content has no known signature.",
        hint=f"Set 'format:' in the source to one of: {formats}.",
        file=str(path),
        formats=list(FORMATS[1:]),
    )
