"""Reading ``metrics/*.yaml`` into definitions, with every problem located by file, key and line."""

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from gnomon.semantic.definitions import MetricsFile, validate_metric
from gnomon.semantic.errors import DefinitionError, DefinitionIssue
from gnomon.semantic.layer import Definition
from gnomon.specfiles import (
    SpecIssue,
    file_label,
    issues_from,
    read_yaml,
    with_lines,
    yaml_files,
)

__all__ = ["load_definitions", "parse_definitions"]


def load_definitions(folder: Path, *, root: Path | None = None) -> list[Definition]:
    """Every definition in ``folder``'s ``*.yaml``/``*.yml`` files, in file-name order.

    Files are named relative to ``root`` (the project) in messages and in the catalog.

    Raises:
        DefinitionError: a file cannot be read or is not shaped as a metrics file.
    """
    files = yaml_files(folder)
    definitions: list[Definition] = []
    issues: list[DefinitionIssue] = []
    for path in files:
        label = file_label(path, root)
        read = read_yaml(path)
        if isinstance(read, SpecIssue):
            issues.append(DefinitionIssue(label, read))
            continue
        data, text = read
        try:
            definitions.extend(parse_definitions(data, source=label, text=text))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    if issues:
        raise DefinitionError(issues)
    return definitions


def parse_definitions(data: object, *, source: str, text: str | None = None) -> list[Definition]:
    """The definitions in one parsed metrics document (e.g. the body of an API request).

    Raises:
        DefinitionError: the document is not shaped as a metrics file.
    """
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise DefinitionError(
            [
                DefinitionIssue(
                    source,
                    SpecIssue(
                        "", "the document must be a mapping with semantic_models and metrics"
                    ),
                )
            ]
        )
    try:
        MetricsFile.model_validate(data)
    except ValidationError as exc:
        issues = with_lines(_shape_issues(data, exc), text)
        raise DefinitionError([DefinitionIssue(source, issue) for issue in issues]) from exc
    definitions = [
        Definition("semantic_model", str(name), dict(spec), source)
        for name, spec in (data.get("semantic_models") or {}).items()
    ]
    definitions += [
        Definition("metric", str(name), dict(spec), source)
        for name, spec in (data.get("metrics") or {}).items()
    ]
    if data.get("calendar") is not None:
        definitions.append(Definition("calendar", "calendar", dict(data["calendar"]), source))
    return definitions


def _shape_issues(data: Mapping[str, object], exc: ValidationError) -> list[SpecIssue]:
    """The file's issues, with each metric's own checked as the metric type it declares."""
    issues = issues_from(exc.errors(), MetricsFile)
    metrics = data.get("metrics")
    if not isinstance(metrics, Mapping):
        return issues
    own: list[SpecIssue] = []
    for name, spec in metrics.items():
        prefix = f"metrics.{name}"
        issues = [i for i in issues if i.path != prefix and not i.path.startswith(prefix + ".")]
        own += validate_metric(str(name), spec)[1]
    return issues + own
