"""Errors raised while reading sources, each a subclass of a kind in :mod:`gnomon.errors`.

They carry the file (and where known the key path, row or pattern) as details, so the API, CLI and
run records can show where the problem is without parsing the message.
"""

from gnomon.errors import InvalidInput

__all__ = ["FileTooLarge", "InvalidSourceSpec", "NoFilesFound", "UnreadableFile"]


class InvalidSourceSpec(InvalidInput):
    """A source YAML file is not valid: bad syntax, an unknown key or a wrong value.

    ``details["problems"]`` lists each problem as ``{"key": "options.delimiter", "message": …}``.
    """

    code = "invalid_source_spec"


class NoFilesFound(InvalidInput):
    """A source's path patterns match no file; ``details["patterns"]`` names them."""

    code = "no_files_found"


class UnreadableFile(InvalidInput):
    """A file cannot be read at all: empty where content is required, corrupt, or not its format.

    Rows that could be read before the damage was found have already been handed out; a damaged
    row inside an otherwise readable text file is a bad row, not this error.
    """

    code = "unreadable_file"


class FileTooLarge(InvalidInput):
    """A file is too large for a format that has to be parsed whole (a JSON document)."""

    code = "file_too_large"
