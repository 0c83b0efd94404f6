"""Lake URIs: a local absolute path or an object-store URI, and paths joined under them."""

from pathlib import Path

from gnomon.errors import InvalidInput


def is_remote(root: str) -> bool:
    """Whether ``root`` is an object-store URI rather than a local path."""
    return "://" in root and not root.startswith("file://")


def normalize_root(root: str) -> str:
    """The lake root as an absolute local path, or the object-store URI without a trailing slash.

    Raises:
        InvalidInput: the root is empty.
    """
    if not root or not root.strip():
        raise InvalidInput(
            "Empty lake root: no location was given for the lake.",
            hint="Pass a local folder or an object-store URI such as s3://bucket/lake.",
        )
    if is_remote(root):
        return root.rstrip("/")
    local = root.removeprefix("file://")
    return str(Path(local).expanduser().resolve())


def join(root: str, *parts: str) -> str:
    """``parts`` appended to ``root`` with the root's own separator."""
    if is_remote(root):
        return "/".join([root, *parts])
    return str(Path(root, *parts))
