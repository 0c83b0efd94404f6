"""Names of models and lake tables as users write them in file names and front matter."""

import re

from gnomon.engine import LAYERS

NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")


def parse_table_name(text: str) -> tuple[str, str] | None:
    """``"gold.daily_sales"`` → ``("gold", "daily_sales")``; ``None`` when it is not that shape.

    Lower case because DuckDB resolves identifiers case-insensitively.
    """
    layer, dot, name = text.strip().lower().partition(".")
    if not dot or layer not in LAYERS or NAME_PATTERN.fullmatch(name) is None:
        return None
    return layer, name
