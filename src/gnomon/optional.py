"""The one gate through which heavy optional libraries enter.

An adapter calls ``require("pyspark", extra="spark")`` instead of importing at module level, so a
missing library becomes a :class:`MissingDependency` saying which extra to install.
"""

import importlib
from types import ModuleType

from gnomon.errors import MissingDependency

__all__ = ["require"]


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or explain how to install it.

    Raises:
        MissingDependency: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"This feature needs the Python package {module!r}, which is not installed.",
            hint=f'Install it with: pip install "gnomon[{extra}]"',
            module=module,
            extra=extra,
        ) from exc
