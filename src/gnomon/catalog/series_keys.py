"""How a series and a model configuration are identified in the catalog.

A series is a metric and a segment: the dimension values that select it (``{"region":
"EMEA"}``), ``{}`` for the metric's overall series. A segment is stored as given and keyed by
its canonical JSON (sorted keys, no spaces, ASCII), so the same segment written with its keys in
another order is the same series, and SQL can compare keys as plain strings on every backend.
"""

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from gnomon.catalog.audit_chain import canonical_json
from gnomon.catalog.records import SegmentValue
from gnomon.errors import InvalidInput

__all__ = ["FINGERPRINT_LENGTH", "params_fingerprint", "require_segment", "segment_key"]

FINGERPRINT_LENGTH = 32
"""Hex digits of SHA-256 kept in a fingerprint: 128 bits, far from any chance collision."""

_SEGMENT_EXAMPLE = '{"region": "EMEA"}, or {} for the overall series'


def require_segment(segment: object, *, field: str = "segment") -> dict[str, SegmentValue]:
    """A copy of ``segment`` after checking it maps dimension names to scalar values.

    Values are strings, integers, finite floats, booleans or ``None``: what a dimension column
    holds. Anything else (a list, a datetime, NaN) is refused, since it would not key the same
    way on every backend.

    Raises:
        InvalidInput: ``segment`` is not a mapping of non-empty strings to such values.
    """
    if isinstance(segment, Mapping):
        checked: dict[str, SegmentValue] = {}
        for name, value in segment.items():
            if not isinstance(name, str) or not name or not _is_scalar(value):
                break
            checked[name] = value
        else:
            return checked
    raise InvalidInput(
        f"Invalid {field} {segment!r}: expected a mapping of dimension names to strings,"
        " numbers, booleans or None.",
        hint=f"Pass the segment's dimension values, such as {_SEGMENT_EXAMPLE}.",
        field=field,
    )


def segment_key(segment: Mapping[str, SegmentValue]) -> str:
    """The canonical JSON of a segment: equal segments have equal keys.

    >>> segment_key({"region": "EMEA", "channel": "web"})
    '{"channel":"web","region":"EMEA"}'
    >>> segment_key({})
    '{}'

    Raises:
        InvalidInput: the segment is not a mapping of dimension names to scalar values.
    """
    return canonical_json(require_segment(segment))


def params_fingerprint(params: Mapping[str, Any]) -> str:
    """The fingerprint of a model's parameters: SHA-256 of their canonical JSON, 32 hex digits.

    >>> params_fingerprint({"window": 28, "threshold": 3.5}) == params_fingerprint(
    ...     {"threshold": 3.5, "window": 28})
    True
    >>> len(params_fingerprint({}))
    32

    Raises:
        InvalidInput: the parameters are not made of JSON values.
    """
    digest = hashlib.sha256(canonical_json(dict(params)).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_LENGTH]


def _is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)
