"""Which files a source names, and the fingerprint that tells a new file from one already loaded.

Patterns are shell-like: ``*`` and ``?`` stay inside one folder, ``**`` crosses folders. As in a
shell, a wildcard does not match a name starting with ``.`` (editor lock files, partial uploads);
a dot name written out in the pattern is matched. A pattern naming a folder matches nothing:
write ``folder/*.csv``.
"""

import glob
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from gnomon.ingest.errors import NoFilesFound

if TYPE_CHECKING:
    from gnomon.ingest.files.spec import FileSourceSpec

__all__ = ["expand_paths", "fingerprint"]


def _matches(pattern: str, project_dir: Path) -> list[Path]:
    anchored = Path(pattern) if Path(pattern).is_absolute() else project_dir / pattern
    if not glob.has_magic(pattern):
        return [anchored] if anchored.is_file() else []
    # glob.glob, not Path.glob: it takes absolute patterns and skips dot names like a shell.
    found = glob.glob(pattern, root_dir=project_dir, recursive=True)  # noqa: PTH207
    paths = (project_dir / name for name in found)
    return [path for path in paths if path.is_file()]


def expand_paths(spec: "FileSourceSpec", *, project_dir: Path) -> list[Path]:
    """The files a source names: absolute, sorted, without duplicates, files only.

    Args:
        spec: the source whose ``path`` patterns are expanded.
        project_dir: the folder relative patterns start from.

    Raises:
        NoFilesFound: no pattern matches a file; the message names the patterns.
    """
    seen: dict[Path, None] = {}
    for pattern in spec.path:
        for match in _matches(pattern, project_dir):
            seen.setdefault(match.resolve(), None)
    if not seen:
        listed = ", ".join(repr(pattern) for pattern in spec.path)
        raise NoFilesFound(
            f"No files found for source {spec.name!r}: nothing matches {listed} "
            f"under {project_dir}.",
            hint="Check the path patterns; they are relative to the project folder, '**' "
            "crosses folders, and a folder needs a file pattern such as 'folder/*.csv'.",
            source=spec.name,
            patterns=list(spec.path),
        )
    return sorted(seen)


def fingerprint(path: Path) -> str:
    """The SHA-256 of the file's bytes, in hex: equal content, equal fingerprint, whatever its name.

    Reads the file in chunks, so memory use does not grow with its size.
    """
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
