"""A compiled sub-expression and the kind of value it yields, for coercions and type errors."""

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

Kind = Literal["bool", "number", "text", "timestamp", "date", "null", "other"]

NAMES: dict[Kind, str] = {
    "bool": "true/false",
    "number": "a number",
    "text": "text",
    "timestamp": "a time",
    "date": "a date",
    "null": "NULL",
    "other": "a nested value",
}


@dataclass(frozen=True, slots=True)
class Typed:
    """An Arrow compute expression and the Arrow type it evaluates to."""

    expr: pc.Expression
    type: pa.DataType

    @property
    def kind(self) -> Kind:
        return kind_of(self.type)


def kind_of(data_type: pa.DataType) -> Kind:
    """The rule language's kind of an Arrow type."""
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "text"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_null(data_type):
        return "null"
    return "other"


def null_of(data_type: pa.DataType) -> Typed:
    """A NULL of the given type (Arrow kernels want both sides typed)."""
    return Typed(pc.scalar(pa.scalar(None, type=data_type)), data_type)


def as_float(value: Typed) -> Typed:
    """The value as float64 (decimals and integers mix with floats that way)."""
    if pa.types.is_float64(value.type):
        return value
    return Typed(value.expr.cast(pa.float64()), pa.float64())
