"""JSON parsing with line numbers on demand, so that errors can say ``file.json:12: ...``.

Called by validation (validate.py) for team-session.json and
task-analysis.json.  Parsing uses the fast stdlib ``json.loads``; only when an
error must be reported is the text walked again by a small tokenizer that
records the line where each JSON pointer's value begins (for an object
member: the line of its key).  The walk is iterative, so a deeply nested file
cannot exhaust the stack, and it is done at most once per file
(``LineIndex``).

Duplicate keys: JSON allows them and ``json.loads`` keeps the last one.  We
keep that meaning but report each repeated key (``Parsed.duplicates``) so
that validation can warn: the executor rewrites team-session.json, which
would silently drop the earlier value.  NaN and Infinity are not JSON and are
refused; a number too large for a float (``1e999``) is refused too.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.S)


def escape(part: str) -> str:
    """One JSON pointer reference token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is too large")
    return value


@dataclass(frozen=True)
class Parsed:
    """A parsed JSON text; ``duplicates`` is True when some object repeats a key."""

    value: Any
    duplicates: bool = False


def parse(text: str) -> Parsed:
    """Strict ``json.loads``: raises ``ValueError`` (``JSONDecodeError``) or ``RecursionError``."""
    repeated = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        obj = dict(pairs)
        if len(obj) != len(pairs):
            repeated = True
        return obj

    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=pairs_hook,
        )
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # from the hooks above, which do not know the position
        literal = str(exc).split()[1] if str(exc).startswith("number ") else str(exc).split()[0]
        edge = r"\w.+\"-"  # a bare literal, not part of a string or a longer number
        found = re.search(rf"(?<![{edge}]){re.escape(literal)}(?![{edge}])", text)
        raise json.JSONDecodeError(str(exc), text, found.start() if found else 0) from None
    return Parsed(value, repeated)


def loads(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and overflowing numbers."""
    return parse(text).value


def error_line(exc: BaseException) -> int | None:
    """The line a ``json.JSONDecodeError`` points at, else None."""
    line = getattr(exc, "lineno", None)
    return line if isinstance(line, int) else None


MAX_DUPLICATES = 100  # repeated keys reported per file; more say nothing new


class _Node:
    """One value of the text: the line it starts on, and its members or elements."""

    __slots__ = ("children", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.children: dict[str, _Node] | None = None


@dataclass
class _Frame:
    node: _Node
    name: str  # this value's key or index in its parent, to name duplicate keys
    is_object: bool
    index: int = 0  # arrays: the next element's index
    key: str | None = None  # objects: the member whose value comes next


class LineIndex:
    """Pointer -> 1-based line for one JSON text, built on first use and then reused.

    The values form a tree (memory linear in the text, however deep it nests);
    a lookup walks it along the pointer.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: _Node | None = None
        self._built = False
        self._duplicates: list[tuple[str, int]] = []

    def _build(self) -> _Node | None:
        if not self._built:
            self._built = True
            self._scan()
        return self._root

    def _scan(self) -> None:
        text = self._text
        newlines = [m.start() for m in re.finditer("\n", text)]
        stack: list[_Frame] = []
        for match in _TOKEN.finditer(text):
            tok = match.group()
            if tok in ",:":
                continue
            if tok in "]}":
                if stack:
                    stack.pop()
                continue
            line = bisect.bisect_right(newlines, match.start()) + 1
            top = stack[-1] if stack else None
            if top is not None and top.is_object and top.key is None:
                self._key(stack, tok, line)
                continue
            if top is None:
                if self._root is not None:
                    return  # trailing junk: the text was not one JSON value
                node = self._root = _Node(line)
                name = ""
            else:
                node, name = self._value_node(top, line)
            if tok in "{[":
                node.children = node.children if node.children is not None else {}
                stack.append(_Frame(node, name, is_object=tok == "{"))

    def _value_node(self, frame: _Frame, line: int) -> tuple[_Node, str]:
        children = frame.node.children
        assert children is not None
        if frame.is_object:
            key, frame.key = frame.key or "", None
        else:
            key = str(frame.index)
            frame.index += 1
        return children.setdefault(key, _Node(line)), key

    def _key(self, stack: list[_Frame], tok: str, line: int) -> None:
        frame = stack[-1]
        try:
            key = str(json.loads(tok))
        except ValueError:
            key = tok
        children = frame.node.children
        assert children is not None
        if key in children:
            if len(self._duplicates) < MAX_DUPLICATES:
                names = [f.name for f in stack[1:]] + [key]
                pointer = "".join(f"/{escape(name)}" for name in names)
                self._duplicates.append((pointer, line))
        else:
            children[key] = _Node(line)  # a member's line is its key's line
        frame.key = key

    def line(self, pointer: str) -> int | None:
        """The line of ``pointer``, or of its nearest ancestor that exists."""
        node = self._build()
        if node is None:
            return None
        parts = pointer.split("/")[1:] if pointer else []
        for part in parts:
            key = part.replace("~1", "/").replace("~0", "~")
            child = node.children.get(key) if node.children is not None else None
            if child is None:
                break
            node = child
        return node.line

    def pointers(self) -> dict[str, int]:
        """Every pointer the text holds, with its line (for tests and small texts)."""
        root = self._build()
        out: dict[str, int] = {}
        todo = [("", root)] if root is not None else []
        while todo:
            pointer, node = todo.pop()
            out[pointer] = node.line
            for key, child in (node.children or {}).items():
                todo.append((f"{pointer}/{escape(key)}", child))
        return out

    def duplicates(self) -> list[tuple[str, int]]:
        """(pointer, line) of repeated keys after their first occurrence (at most 100)."""
        self._build()
        return list(self._duplicates)
