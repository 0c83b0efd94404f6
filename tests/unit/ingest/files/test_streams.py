"""The transcoder hands on valid UTF-8 however the input is cut into reads."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.ingest.files._streams import Transcoder


class _Pieces:
    """A source whose reads return at most the next piece size, cycling through ``sizes``."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = io.BytesIO(data)
        self._sizes = sizes
        self._turn = 0

    def read(self, size: int = -1, /) -> bytes:
        piece = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        return self._data.read(min(size, piece) if size >= 0 else piece)


def _transcode(
    data: bytes, sizes: list[int], encoding: str = "utf-8", chunk_bytes: int = 64 * 1024
) -> tuple[bytes, Transcoder]:
    transcoder = Transcoder(
        _Pieces(data, sizes), encoding=encoding, final_newline=False, chunk_bytes=chunk_bytes
    )
    output = io.BufferedReader(transcoder).read()
    return output, transcoder


_chunks = st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=5)
_pieces = st.lists(
    st.one_of(
        st.text(max_size=5).map(str.encode),
        st.sampled_from(
            [b"\xff", b"\xe2\x82", b"\xc3", b"\x80\x80", b"\xf0\x9f\x98", b"\xed\xa0\x80"]
        ),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=_pieces,
    sizes=_chunks,
    bom=st.booleans(),
    chunk_bytes=st.sampled_from([1, 2, 3, 5, 64 * 1024]),
)
def test_utf8_output_equals_decoding_with_replacement(pieces, sizes, bom, chunk_bytes):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    output, transcoder = _transcode(data, sizes, chunk_bytes=chunk_bytes)
    expected = data.decode("utf-8-sig", errors="replace")
    assert output.decode("utf-8") == expected
    in_file = data.decode("utf-8-sig", errors="ignore").count("\ufffd")
    assert transcoder.genuine == in_file
    assert transcoder.replaced == expected.count("\ufffd") - in_file


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=30), sizes=_chunks)
def test_other_encodings_are_re_encoded(text, sizes):
    output, transcoder = _transcode(text.encode("utf-16"), sizes, encoding="utf-16")
    assert output.decode("utf-8") == text
    assert transcoder.replaced == 0


def test_invalid_bytes_in_another_encoding_are_counted():
    output, transcoder = _transcode(b"ab\x81\x00cd", [2], encoding="cp1252")
    assert output.decode("utf-8") == "ab\ufffd\x00cd"
    assert transcoder.replaced == 1


def test_final_newline_is_added_once():
    cases = [(b"a,b", b"a,b\n"), (b"a,b\n", b"a,b\n"), (b"", b""), (b"\xc3\xa9", b"\xc3\xa9\n")]
    for data, expected in cases:
        for chunk_bytes in (1, 2, 64 * 1024):
            transcoder = Transcoder(
                io.BytesIO(data), encoding="utf-8", final_newline=True, chunk_bytes=chunk_bytes
            )
            assert io.BufferedReader(transcoder).read() == expected, (data, chunk_bytes)
