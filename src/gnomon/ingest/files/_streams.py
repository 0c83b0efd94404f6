"""Byte streams under the format readers: counting, decompression, and transcoding to UTF-8.

Why transcode every text file, UTF-8 included: the CSV parser only reads UTF-8 and stops the whole
file at the first invalid byte. Decoding here with a handler that marks each invalid byte sequence
lets the parser always see valid UTF-8; each mark becomes U+FFFD and is counted, so the reader can
report exactly the values that were changed (see :class:`Transcoder`).
"""

import bz2
import codecs
import gzip
import io
import re
import shutil
import tempfile
import zlib
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, cast

import zstandard

from gnomon.ingest.errors import UnreadableFile

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_BYTES = 64 * 1024
"""Bytes read at a time from a decompressor: data that is damaged further on loses at most this
much of the good data before it (a failing read returns nothing of what it decompressed)."""
PLAIN_CHUNK_BYTES = 256 * 1024
"""Bytes read and transcoded at a time from an uncompressed file, which cannot be damaged that
way: large enough that the Python work per chunk is lost in the cost of copying the bytes."""
REPLACEMENT = "\ufffd"

_MARK_HANDLER = "gnomon.ingest.mark_invalid"
_MARK = "\udcff"
_SURROGATES = re.compile("[\ud800-\udfff]")
_DAMAGED = (OSError, EOFError, zlib.error, zstandard.ZstdError)


class Readable(Protocol):
    """Anything with a ``read(size)`` that returns bytes."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""
        ...


def _read_into(source: Readable, view: memoryview) -> int:
    """Fill ``view`` from ``source``: straight into it when the source can, saving a copy."""
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    data = source.read(len(view))
    view[: len(data)] = data
    return len(data)


def _mark_invalid(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: put a lone surrogate where the bytes were invalid.

    A lone surrogate cannot come out of a strict decoder, so after decoding every surrogate in the
    text is known to stand for bytes that were not valid in the declared encoding.
    """
    if isinstance(exc, UnicodeDecodeError):
        return _MARK, exc.end
    raise exc


def _complete_utf8(data: bytes) -> int:
    """Length of ``data`` without a multi-byte character cut off at its end."""
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte < 0x80:
            return end
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return end - back if back < needed else end
    return end


class CountingReader(io.RawIOBase):
    """Counts the bytes read from the file on disk: the compressed bytes, for progress."""

    def __init__(self, raw: Readable) -> None:
        super().__init__()
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: "WriteableBuffer", /) -> int:
        """Fill ``buffer`` from the file and count what was read."""
        size = _read_into(self._raw, memoryview(buffer).cast("B"))
        self.consumed += size
        return size


class GuardedReader(io.RawIOBase):
    """Turns a decompressor's failure (damaged or cut-off data) into :class:`UnreadableFile`."""

    def __init__(self, source: Readable, *, path: Path, compression: str) -> None:
        super().__init__()
        self._source = source
        self._path = path
        self._compression = compression

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: "WriteableBuffer", /) -> int:
        """Fill ``buffer`` with decompressed bytes."""
        try:
            return _read_into(self._source, memoryview(buffer).cast("B"))
        except _DAMAGED as exc:
            kind = "its data" if self._compression == "none" else f"its {self._compression} data"
            raise UnreadableFile(
                f"Cannot read {self._path.name}: {kind} is damaged or incomplete ({exc}).",
                hint="Copy the file again in full, and check that 'compression:' matches it "
                "(auto, none, gzip, bz2, zstd).",
                file=str(self._path),
            ) from exc


class Transcoder(io.RawIOBase):
    """Reads text in any encoding and hands it on as valid UTF-8.

    Bytes that are invalid in the declared encoding become U+FFFD. ``replaced`` counts them and
    ``genuine`` counts U+FFFD characters that were in the file as such, so a reader can tell
    whether a U+FFFD in a value certainly stands for invalid bytes (when ``genuine`` is 0).
    A UTF-8 byte order mark at the start is dropped. With ``final_newline`` the output always
    ends with a line break, so that the last record of a file that lacks one is still complete.

    UTF-8 input that is valid is passed on as it is, after a check, instead of being decoded and
    encoded again: that halves the cost for the most common case. ASCII text, valid UTF-8
    without a U+FFFD by definition, is not even decoded for the check.
    """

    def __init__(
        self,
        source: Readable,
        *,
        encoding: str,
        final_newline: bool,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        super().__init__()
        codecs.register_error(_MARK_HANDLER, _mark_invalid)
        name = codecs.lookup(encoding).name
        self._utf8 = name == "utf-8"
        self._decoder = codecs.getincrementaldecoder(name)(errors=_MARK_HANDLER)
        self._carry = b""
        self._at_start = True
        self._source = source
        self._final_newline = final_newline
        self._chunk_bytes = chunk_bytes
        self._out = b""
        """Transcoded bytes not all handed out yet (from ``_at`` on)."""
        self._at = 0
        self._last = b""
        self._eof = False
        self.replaced = 0
        self.genuine = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: "WriteableBuffer", /) -> int:
        """Fill ``buffer`` with UTF-8 bytes; 0 at the end of the text."""
        while self._at >= len(self._out) and not self._eof:
            self._fill()
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._out) - self._at)
        view[:size] = memoryview(self._out)[self._at : self._at + size]
        self._at += size
        return size

    def _fill(self) -> None:
        """Transcode the next chunk; called once every byte transcoded was handed out."""
        chunk = self._source.read(self._chunk_bytes)
        if self._utf8:
            out = self._pass_utf8(chunk, final=not chunk)
        else:
            out = self._take(self._decoder.decode(chunk, final=not chunk))
        if not chunk:
            self._eof = True
            last = out[-1:] or self._last
            if self._final_newline and last not in (b"", b"\n"):
                out += b"\n"
        if out:
            self._out, self._at, self._last = out, 0, out[-1:]

    def _pass_utf8(self, chunk: bytes, *, final: bool) -> bytes:
        raw = self._carry + chunk if self._carry else chunk
        if self._at_start:
            if len(raw) < len(codecs.BOM_UTF8) and not final:
                self._carry = raw
                return b""
            self._at_start = False
            raw = raw.removeprefix(codecs.BOM_UTF8)
        cut = len(raw) if final else _complete_utf8(raw)
        body, self._carry = (raw, b"") if cut == len(raw) else (raw[:cut], raw[cut:])
        if body.isascii():
            return body
        try:
            self.genuine += body.decode("utf-8").count(REPLACEMENT)
        except UnicodeDecodeError:
            return self._take(body.decode("utf-8", errors=_MARK_HANDLER))
        return body

    def _take(self, text: str) -> bytes:
        if not text:
            return b""
        self.genuine += text.count(REPLACEMENT)
        text, marks = _SURROGATES.subn(REPLACEMENT, text)
        self.replaced += marks
        return text.encode("utf-8")


def open_decompressed(
    path: Path, *, compression: str, stack: ExitStack
) -> tuple[IO[bytes], CountingReader]:
    """The decompressed bytes of ``path`` and the counter of compressed bytes consumed.

    Everything opened is registered on ``stack``, which closes it.
    """
    counter = CountingReader(stack.enter_context(path.open("rb")))
    stack.callback(counter.close)
    source: Readable
    if compression == "gzip":
        source = gzip.GzipFile(fileobj=counter, mode="rb")
        stack.callback(source.close)
    elif compression == "bz2":
        source = bz2.BZ2File(counter, mode="rb")
        stack.callback(source.close)
    elif compression == "zstd":
        decompressor = zstandard.ZstdDecompressor()
        zstd_reader = decompressor.stream_reader(
            cast(IO[bytes], counter), read_across_frames=True, closefd=False
        )
        stack.callback(zstd_reader.close)
        source = zstd_reader
    else:
        source = counter
    guarded = GuardedReader(source, path=path, compression=compression)
    stack.callback(guarded.close)
    return io.BufferedReader(guarded, CHUNK_BYTES), counter


def open_text(
    path: Path, *, compression: str, encoding: str, final_newline: bool, stack: ExitStack
) -> tuple[io.BufferedReader, CountingReader, Transcoder]:
    """The file's text as UTF-8 bytes, the compressed-bytes counter and the transcoder."""
    source, counter = open_decompressed(path, compression=compression, stack=stack)
    chunk = PLAIN_CHUNK_BYTES if compression == "none" else CHUNK_BYTES
    transcoder = Transcoder(
        source, encoding=encoding, final_newline=final_newline, chunk_bytes=chunk
    )
    stack.callback(transcoder.close)
    return io.BufferedReader(transcoder, chunk), counter, transcoder


def spool(source: IO[bytes], *, stack: ExitStack) -> IO[bytes]:
    """Copy a stream into a temporary file, for formats that need to seek (Parquet, xlsx).

    Decompressed data goes to disk, not memory, so a large compressed file stays memory-bounded.
    """
    temporary = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by stack
    shutil.copyfileobj(source, temporary, CHUNK_BYTES)
    temporary.seek(0)
    return temporary
