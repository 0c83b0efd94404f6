"""The optional ``-- gnomon:`` block at the top of a model file.

It lives in SQL comments so that the file stays a plain query any SQL tool can run. The block is
the comment lines after a ``-- gnomon:`` line in the file's leading comments, up to the first line
that is not a comment; with the ``--`` markers removed they must form a YAML mapping.
"""

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gnomon.engine import LAYERS
from gnomon.pipeline._names import parse_table_name
from gnomon.pipeline.errors import ModelError

_MARKER = re.compile(r"--\s*gnomon:\s*")


class _FrontMatterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    description: str | None = None
    owner: str | None = None
    depends_on: list[str] = Field(default_factory=list)


_KEYS = ", ".join(sorted(_FrontMatterSpec.model_fields))


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The front matter's values, with ``depends_on`` parsed into ``(layer, name)`` pairs."""

    description: str | None = None
    owner: str | None = None
    depends_on: tuple[tuple[str, str], ...] = ()


def _block(text: str) -> tuple[str, int] | None:
    """The YAML text of the block and the 1-based file line it starts on, if there is a block."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _MARKER.fullmatch(stripped):
            body: list[str] = []
            for following in lines[index + 1 :]:
                content = following.lstrip()
                if not content.startswith("--"):
                    break
                content = content[2:]
                body.append(content[1:] if content.startswith(" ") else content)
            return textwrap.dedent("\n".join(body)), index + 2
        if stripped and not stripped.startswith("--"):
            return None
    return None


def has_front_matter(text: str) -> bool:
    """Whether the file's leading comments hold a ``-- gnomon:`` block."""
    return _block(text) is not None


def _load_yaml(text: str, *, path: Path, first_line: int) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ModelError(
            f"The front matter of {path} is not valid YAML: {problem} (line {line}).",
            hint="Write the block as YAML, each line starting with '-- ', e.g. "
            "'--   description: Daily revenue'.",
            file=path,
            line=line,
        ) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ModelError(
            f"The front matter of {path} must be a mapping of keys, not {type(loaded).__name__}.",
            hint=f"Use the keys {_KEYS}, e.g. '--   owner: analytics@example.com'.",
            file=path,
            line=first_line,
        )
    return loaded


def _validate(values: dict[str, Any], *, path: Path, first_line: int) -> _FrontMatterSpec:
    try:
        return _FrontMatterSpec.model_validate(values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or 'front matter'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ModelError(
            f"The front matter of {path} is invalid: {'; '.join(problems)}.",
            hint=f"Valid keys are {_KEYS}; description and owner are text, depends_on a list "
            "such as [gold.other].",
            file=path,
            line=first_line,
            problems=problems,
        ) from exc


def parse_front_matter(text: str, *, path: Path) -> FrontMatter:
    """Read the front matter of a model file's text; an empty one when there is none.

    Raises:
        ModelError: the block is not YAML, has unknown keys or wrong types, or names a table
            that is not ``layer.name``.
    """
    found = _block(text)
    if found is None:
        return FrontMatter()
    yaml_text, first_line = found
    spec = _validate(
        _load_yaml(yaml_text, path=path, first_line=first_line), path=path, first_line=first_line
    )
    depends_on: list[tuple[str, str]] = []
    for entry in spec.depends_on:
        parsed = parse_table_name(entry)
        if parsed is None:
            raise ModelError(
                f"The front matter of {path} lists {entry!r} in depends_on, which is not a lake "
                "table name.",
                hint=f"Write each dependency as layer.name with layer one of "
                f"{', '.join(LAYERS)}, e.g. gold.daily_sales.",
                file=path,
                line=first_line,
            )
        depends_on.append(parsed)
    return FrontMatter(description=spec.description, owner=spec.owner, depends_on=tuple(depends_on))
