"""Table addresses: a layer and a lower-case name, checked before any storage is touched."""

import re

from gnomon.errors import InvalidInput
from gnomon.lake.models import Layer

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_LAYERS = ", ".join(layer.value for layer in Layer)


def coerce_layer(layer: Layer | str) -> Layer:
    """``layer`` as a :class:`Layer`.

    Raises:
        InvalidInput: it names no layer; the hint lists the layers.
    """
    try:
        return Layer(layer)
    except ValueError:
        raise InvalidInput(
            f"Unknown lake layer: {layer!r}.", hint=f"Use one of: {_LAYERS}.", layer=str(layer)
        ) from None


def check_name(name: str) -> str:
    """``name`` if it is a valid table name.

    Raises:
        InvalidInput: it is not a lower-case identifier.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"Invalid table name: {name!r} is not a lower-case identifier.",
            hint="Use lower-case letters, digits and underscores, not starting with a digit, "
            "e.g. 'orders_daily'.",
            name=str(name),
        )
    return name
