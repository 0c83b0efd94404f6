"""Reading the YAML files users write (contracts, metrics, triggers …) and reporting problems.

Every definition file is validated the same way: strict YAML (a key given twice is an error; only
true/false are booleans), then a pydantic model; every problem found is reported with its dotted
key path (``columns.quantity.min``), the values that would be valid, and its line, so a file is
fixed in one pass rather than one error at a time.

Why strict: PyYAML keeps the last of two equal keys silently, so a column declared twice would
lose its first declaration without a word; and under YAML 1.1 rules ``allowed: [yes, no]`` or a
country code ``NO`` would turn into booleans.
"""

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gnomon.errors import InvalidInput

__all__ = [
    "FileIssue",
    "IssueList",
    "SpecFilesError",
    "SpecIssue",
    "StrictLoader",
    "file_label",
    "issues_from",
    "line_of",
    "parse_duration",
    "read_yaml",
    "with_lines",
    "yaml_files",
]

_BOOL_TAG = "tag:yaml.org,2002:bool"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys and reads only true/false as booleans."""


def _construct_mapping(loader: yaml.SafeLoader, node: MappingNode) -> dict[Hashable, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            raise ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def line_of(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line of the deepest key of ``path`` found in ``text``, if the YAML composes."""
    try:
        node: Node | None = yaml.compose(text, Loader=StrictLoader)
    except yaml.YAMLError:
        return None
    line: int | None = None
    for part in path:
        child: Node | None = None
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == part:
                    line, child = key_node.start_mark.line + 1, value_node
                    break
        elif isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
            child = node.value[int(part)]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One problem in a definition file.

    Attributes:
        path: the key path, dotted (``columns.quantity.min``); empty for the whole document.
        message: what is wrong there.
        valid: the values that would be accepted, when they are few enough to list.
        line: 1-based line in the file, when known.
    """

    path: str
    message: str
    valid: tuple[str, ...] = ()
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, Any]:
        """The issue as plain data, for the API and the CLI's JSON output."""
        return {
            "path": self.path,
            "message": self.message,
            "valid": list(self.valid),
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One problem in a set of definition files, located in its file."""

    file: str
    issue: SpecIssue

    def __str__(self) -> str:
        line = f":{self.issue.line}" if self.issue.line else ""
        return f"{self.file}{line}: {self.issue}"

    def to_dict(self) -> dict[str, Any]:
        """The issue as plain data, for the API and the CLI's JSON output."""
        return {"file": self.file, **self.issue.to_dict()}


class SpecFilesError(InvalidInput):
    """Definitions cannot be applied as written; every problem found is listed.

    Each capability names what its files hold (``subject``), what the user fixes (``fix``) and
    where the format is documented (``doc``).
    """

    def __init__(self, issues: Sequence[FileIssue], *, subject: str, fix: str, doc: str) -> None:
        self.issues = tuple(issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        listed = "; ".join(str(issue) for issue in self.issues)
        valid = [
            f"{i.issue.path or '(top level)'} takes {', '.join(i.issue.valid)}"
            for i in self.issues
            if i.issue.valid
        ]
        hint = f"Fix the {fix} and apply them again (see {doc})."
        if valid:
            hint = f"Valid values: {'; '.join(valid)}. {hint}"
        super().__init__(
            f"Invalid {subject}, {len(self.issues)} {noun}: {listed}.",
            hint=hint,
            issues=[issue.to_dict() for issue in self.issues],
        )


def yaml_files(folder: Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files of ``folder``, in name order (none if it is missing)."""
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def file_label(path: Path, root: Path | None) -> str:
    """How messages and the catalog name a file: relative to ``root`` (the project) if inside."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


class IssueList(ValueError):
    """Problems found by a validator, with key paths relative to where pydantic reports them."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        super().__init__("; ".join(str(issue) for issue in issues))
        self.issues = issues


def with_lines(issues: list[SpecIssue], text: str | None) -> list[SpecIssue]:
    """The issues with the line of their key path in ``text`` (the YAML source), when found."""
    if text is None:
        return issues
    return [
        SpecIssue(i.path, i.message, i.valid, i.line or line_of(text, tuple(i.path.split("."))))
        for i in issues
    ]


def read_yaml(path: Path) -> tuple[object, str] | SpecIssue:
    """The parsed document and its text, or the issue that stops it from being read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SpecIssue("", f"the file cannot be read: {exc}")
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc)
        where = "" if line is None else f" at line {line}"
        return SpecIssue("", f"the file is not valid YAML{where}: {problem}", line=line)
    return data, text


def issues_from(errors: list[ErrorDetails], root: type[BaseModel]) -> list[SpecIssue]:
    """Pydantic's errors as issues with key paths through ``root``'s models."""
    issues: dict[str, SpecIssue] = {}
    for error in errors:
        path = _clean_path(error["loc"], root)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, IssueList):
            for issue in cause.issues:
                full = ".".join(p for p in (path, issue.path) if p)
                issues.setdefault(full, SpecIssue(full, issue.message, issue.valid))
            continue
        issues.setdefault(path, _issue_for(error, path, root))
    return list(issues.values())


def _issue_for(error: ErrorDetails, path: str, root: type[BaseModel]) -> SpecIssue:
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(error["loc"][:-1], root)
        valid = tuple(model.model_fields) if model is not None else ()
        return SpecIssue(path, f"unknown key {str(error['loc'][-1])!r}", valid)
    if kind == "missing":
        return SpecIssue(path, "is required but missing")
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        valid = tuple(re.findall(r"'([^']*)'", expected))
        return SpecIssue(path, f"{error['input']!r} is not one of {', '.join(valid)}", valid)
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    message = message.replace("Dictionary should have", "must have")
    return SpecIssue(path, f"{message} (got {_shown(error['input'])})")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_path(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    parts, _ = _walk(loc, root)
    return ".".join(parts)


def _model_at(loc: tuple[int | str, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    _, current = _walk(loc, root)
    return _as_model(current)


def _as_model(annotation: object) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated`` and ``| None`` so the walk sees the container or model underneath."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not NoneType]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _walk(loc: tuple[int | str, ...], root: type[BaseModel]) -> tuple[list[str], object]:
    """Follow pydantic's error location through the models, dropping union-member labels."""
    current: object = root
    parts: list[str] = []
    for item in loc:
        current = _unwrap(current)
        model = _as_model(current)
        origin = get_origin(current)
        if model is not None:
            parts.append(str(item))
            field = model.model_fields.get(str(item))
            current = None if field is None else field.annotation
        elif origin is dict:
            parts.append(str(item))
            current = get_args(current)[1]
        elif origin is list and isinstance(item, int):
            parts.append(str(item))
            current = get_args(current)[0]
        elif current is None:
            parts.append(str(item))
    return parts, current


def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``90m``, ``36h`` or ``3d`` (units: s, m, h, d, w).

    Raises:
        ValueError: the text is not a whole number followed by one unit.

    >>> parse_duration("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    match = _DURATION.match(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration such as 90m, 36h or 3d (units s, m, h, d, w)")
    return timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})
