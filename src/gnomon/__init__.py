"""gnomon: self-hosted augmented analytics over a governed Delta lakehouse.

Importing the package does no I/O; build a :class:`gnomon.app.Gnomon` to do work.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
