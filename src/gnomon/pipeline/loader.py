"""Reading the ``models/`` folder into :class:`ModelSpec` values.

Every problem is reported against the file (and position) that causes it, because the person
fixing it works in that file, not in a build log.
"""

from pathlib import Path

import sqlglot
from sqlglot.errors import TokenError

from gnomon.engine import parse_read_only, referenced_tables
from gnomon.errors import InvalidInput
from gnomon.pipeline._front_matter import has_front_matter, parse_front_matter
from gnomon.pipeline._names import NAME_PATTERN
from gnomon.pipeline.errors import ModelError
from gnomon.pipeline.models import ModelSpec

__all__ = ["load_models"]

_DIALECT = "duckdb"


def load_models(models_dir: Path) -> list[ModelSpec]:
    """Read every ``*.sql`` file under ``models_dir``, sub-folders included, sorted by name.

    Files and folders whose names start with a dot (editor and notebook droppings) are ignored.
    A project without a models folder simply has no models, and a file holding nothing but
    comments (and no front matter) is a placeholder, such as the one a new project starts with,
    not a model.

    Raises:
        ModelError: a file is unreadable, badly named, shares its name with another file, or
            does not hold exactly one valid read-only query; the message names the file.
    """
    if not models_dir.exists():
        return []
    if not models_dir.is_dir():
        raise ModelError(
            f"The models folder {models_dir} is a file, not a folder.",
            hint="Point the project at a folder holding one .sql file per gold table.",
            file=models_dir,
        )
    seen: dict[str, Path] = {}
    models: list[ModelSpec] = []
    for path in sorted(models_dir.rglob("*.sql")):
        relative = path.relative_to(models_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        _check_name(path)
        if path.stem in seen:
            raise ModelError(
                f"Two model files define gold.{path.stem}: {seen[path.stem]} and {path}.",
                hint="Model names come from file names and must be unique across sub-folders; "
                "rename or delete one of the files.",
                file=path,
                other_file=str(seen[path.stem]),
            )
        seen[path.stem] = path
        model = _load_model(path)
        if model is not None:
            models.append(model)
    return sorted(models, key=lambda model: model.name)


def _load_model(path: Path) -> ModelSpec | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"The model file {path} is not UTF-8 text: byte {exc.start} cannot be decoded.",
            hint="Save the file as UTF-8.",
            file=path,
        ) from exc
    except OSError as exc:
        raise ModelError(
            f"The model file {path} cannot be read: {exc.strerror or exc}.",
            hint="Check that the file exists and is readable.",
            file=path,
        ) from exc
    if _only_comments(text) and not has_front_matter(text):
        return None
    front = parse_front_matter(text, path=path)
    try:
        query = parse_read_only(text, dialect=_DIALECT)
    except InvalidInput as exc:
        raise _query_error(exc, path=path) from exc
    return ModelSpec(
        name=path.stem,
        path=path,
        sql=text,
        query=query,
        description=front.description,
        owner=front.owner,
        depends_on=tuple(sorted(referenced_tables(query) | set(front.depends_on))),
    )


def _only_comments(text: str) -> bool:
    try:
        return not sqlglot.tokenize(text, read=_DIALECT)
    except TokenError:
        return False


def _check_name(path: Path) -> None:
    if NAME_PATTERN.fullmatch(path.stem) is None:
        raise ModelError(
            f"The model file {path} has an invalid name: {path.stem!r} cannot be a table name.",
            hint="Name model files with lower-case letters, digits and underscores, not starting "
            "with a digit, e.g. daily_sales.sql.",
            file=path,
        )


def _query_error(exc: InvalidInput, *, path: Path) -> ModelError:
    line = exc.details.get("line")
    column = exc.details.get("column")
    detail = exc.message.rstrip(".")
    if isinstance(line, int) and f"line {line}" not in detail:
        detail += f" (line {line}, column {column})"
    found = str(exc.details.get("found", ""))
    hint = exc.hint or "A model holds exactly one SELECT (WITH allowed) over layer.name tables."
    if found.endswith("statements"):
        hint = "A model file holds exactly one query; put each query in its own file."
    return ModelError(
        f"The model file {path} is not a valid model: {detail}.",
        hint=hint,
        file=path,
        line=line if isinstance(line, int) else None,
        column=column if isinstance(column, int) else None,
    )
