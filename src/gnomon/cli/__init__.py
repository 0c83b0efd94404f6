"""The ``gnomon`` command line: parses arguments, calls services, renders results."""

__all__: list[str] = []
