"""Line numbers for JSON pointers, so that errors can say ``file.json:12: ...``.

Loading uses the fast ``json.loads``; only when an error must be reported is
the text walked again by this small scanner, which records the line where
each pointer's value (or, for an object member, its key) begins.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[{}\[\]:,])|(?P<atom>[^\s{}\[\]:,"]+))', re.S
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            break
        start_line = line + text.count("\n", pos, match.start(match.lastgroup or 0))
        kind = match.lastgroup or "atom"
        out.append((kind, match.group(kind), start_line))
        line += text.count("\n", pos, match.end())
        pos = match.end()
    return out


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def line_map(text: str) -> dict[str, int]:
    """Pointer -> 1-based line, for a text that ``json.loads`` accepts."""
    tokens = _tokens(text)
    lines: dict[str, int] = {}
    index = 0

    def value(ptr: str, line_hint: int | None) -> None:
        nonlocal index
        if index >= len(tokens):
            return
        _kind, tok, line = tokens[index]
        lines.setdefault(ptr, line_hint or line)
        index += 1
        if tok == "{":
            while index < len(tokens) and tokens[index][1] != "}":
                if tokens[index][1] == ",":
                    index += 1
                    continue
                _k, key_tok, key_line = tokens[index]
                key = json.loads(key_tok)
                index += 2  # the key and the colon
                value(f"{ptr}/{_escape(key)}", key_line)
            index += 1
        elif tok == "[":
            position = 0
            while index < len(tokens) and tokens[index][1] != "]":
                if tokens[index][1] == ",":
                    index += 1
                    continue
                value(f"{ptr}/{position}", None)
                position += 1
            index += 1

    value("", None)
    return lines


def line_of(text: str, pointer: str) -> int | None:
    """The line of ``pointer``, or of its nearest ancestor that exists."""
    try:
        lines = line_map(text)
    except (ValueError, RecursionError):
        return None
    while True:
        if pointer in lines:
            return lines[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def loads(text: str) -> Any:
    """``json.loads`` that rejects NaN/Infinity, which are not JSON."""

    def bad_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=bad_constant)
