"""The YAML dialect contracts are read in.

Two departures from PyYAML's defaults, both to stop a contract from meaning something its author
did not write:

* A key given twice in one mapping is an error. PyYAML keeps the last one silently, so a column
  declared twice would lose its first declaration without a word.
* Only ``true`` and ``false`` are booleans (as in YAML 1.2). Under YAML 1.1 rules ``allowed: [yes,
  no]`` or a country code ``NO`` would turn into booleans.
"""

import re
from collections.abc import Hashable

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class ContractLoader(yaml.SafeLoader):
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


ContractLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
ContractLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ContractLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def line_of(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line of the deepest key of ``path`` found in ``text``, if the YAML composes."""
    try:
        node: Node | None = yaml.compose(text, Loader=ContractLoader)
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
