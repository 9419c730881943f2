"""The YAML frontmatter of a role-spec read by PyYAML, with a file line per value.

PyYAML's safe loader only *composes* the YAML (which keeps each node's
line); the values are then built here from the plain YAML types (string,
integer, float, boolean, null, mapping, sequence).  Any other tag —
``!!python/object/apply:os.system`` included — is an error and never runs.
rolespec.py documents the decisions (aliases refused, repeated keys an
error, timestamps kept as strings, keys as written) and imports this module
only for frontmatter that simpleyaml.py does not read: importing PyYAML is
~20 ms of start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from teamexec.core.model import Issue
from teamexec.validation.jsonloc import escape

YAML_TAG = "tag:yaml.org,2002:"

_SAFE = SafeConstructor()
_SCALARS: dict[str, Callable[[yaml.ScalarNode], Any]] = {
    YAML_TAG + "str": lambda node: node.value,
    YAML_TAG + "timestamp": lambda node: node.value,
    YAML_TAG + "null": lambda node: None,
    YAML_TAG + "bool": _SAFE.construct_yaml_bool,
    YAML_TAG + "int": _SAFE.construct_yaml_int,
    YAML_TAG + "float": _SAFE.construct_yaml_float,
}


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(YAML_TAG) :] if tag.startswith(YAML_TAG) else tag


class _Builder:
    """Plain Python values from a composed YAML node, with a file line per JSON pointer."""

    def __init__(self, *, path: str, offset: int) -> None:
        self.path = path
        self.offset = offset  # YAML marks count lines from 0 within the frontmatter
        self.lines: dict[str, int] = {}
        self.issues: list[Issue] = []
        self.seen: set[int] = set()  # nodes built: meeting one again means an alias
        self.aliased: set[int] = set()

    def line(self, node: yaml.Node) -> int:
        return node.start_mark.line + self.offset

    def error(self, node: yaml.Node, message: str) -> None:
        self.issues.append(Issue(self.path, self.line(node), f"frontmatter: {message}"))

    def build(self, node: yaml.Node, pointer: str) -> Any:
        if id(node) in self.seen:
            if id(node) not in self.aliased:
                self.aliased.add(id(node))
                self.error(node, "YAML aliases (*name) are not supported here: write it out")
            return None
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, pointer) if self._tag_ok(node, "map") else None
        if isinstance(node, yaml.SequenceNode):
            if not self._tag_ok(node, "seq"):
                return None
            return [self._item(item, f"{pointer}/{i}") for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _tag_ok(self, node: yaml.Node, kind: str) -> bool:
        if node.tag == YAML_TAG + kind:
            return True
        self._refuse_tag(node)
        return False

    def _refuse_tag(self, node: yaml.Node) -> None:
        self.error(
            node,
            f"YAML tag {_tag_name(node.tag)!r} not allowed: only plain YAML values are read "
            "(tags never run); remove the tag",
        )

    def _item(self, node: yaml.Node, pointer: str) -> Any:
        self.lines[pointer] = self.line(node)
        return self.build(node, pointer)

    def _mapping(self, node: yaml.MappingNode, pointer: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALARS:
                self.error(key_node, "a key must be plain text")
                continue
            key = str(key_node.value)
            child = f"{pointer}/{escape(key)}"
            if key in out:
                first = self.lines.get(child)
                self.error(key_node, f"key {key!r} is repeated (first on line {first}): keep one")
                continue
            self.lines[child] = self.line(key_node)
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        construct = _SCALARS.get(node.tag)
        if construct is None or not isinstance(node, yaml.ScalarNode):
            self._refuse_tag(node)
            return None
        try:
            return construct(node)
        except (ValueError, TypeError, yaml.YAMLError):
            self.error(node, f"{node.value!r} is not a valid {_tag_name(node.tag)} value")
            return None


def compose_frontmatter(
    front: str, *, path: str, first_line: int
) -> tuple[Any, dict[str, int], list[Issue]]:
    """Compose the YAML safely and build its value: (value, pointer -> file line, issues)."""
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark is not None else first_line
        problem = exc.problem or exc.context or "invalid YAML"
        return None, {}, [Issue(path, line, f"frontmatter: invalid YAML: {problem}")]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return None, {}, [Issue(path, first_line, f"frontmatter: invalid YAML: {exc}")]
    if node is None:
        return None, {}, []
    builder = _Builder(path=path, offset=first_line)
    try:
        value = builder.build(node, "")
    except RecursionError:
        return None, {}, [Issue(path, first_line, "frontmatter: nested too deeply")]
    return value, builder.lines, builder.issues
