"""The plain shapes of role-spec frontmatter, read without PyYAML.

Importing PyYAML and compiling its resolvers is ~20 ms of every start-up,
and role-specs are written in a few plain shapes::

    role: coder
    prefix: IMPL
    inner_loop: false
    timeout_s: 600
    agent: ["claude", "-p"]
    message_types:
      success: impl_complete
      error: error

``simple_frontmatter`` reads exactly those: printable ASCII, no comments,
``key: value`` lines at the left margin, one level of nested ``key: value``
lines under a key with no value, and values that are plain words, numbers
(``0``, ``-12``, ``1.5``), quoted strings without escapes, or one-line flow
lists of those.  A plain word is typed as PyYAML's YAML 1.1 resolver types
it (``yes``/``on``/``true`` are booleans, ``null`` is null).  Anything else
returns None and PyYAML (yamlfront.py) reads the text, so both the value
and every error message stay PyYAML's.  tests/test_simpleyaml.py compares
the two readers on generated frontmatter.
"""

from __future__ import annotations

import re
from typing import Any

# YAML 1.1 as PyYAML resolves plain scalars (resolver.py): booleans and nulls
BOOLEANS = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
NULLS = frozenset(("null", "Null", "NULL"))

_WORDS = r"[A-Za-z_][A-Za-z0-9_./-]*(?: +[A-Za-z0-9_./-]+)*"  # no ':', '#', ',' or brackets
_INTEGER = r"-?(?:0|[1-9][0-9]*)"  # no leading zero: 010 is octal in YAML 1.1
_DECIMAL = r"-?(?:0|[1-9][0-9]*)\.[0-9]+"
_QUOTED = r"\"[^\"\\]*\"|'[^']*'"  # no escapes, no doubled quotes
_SCALAR = rf"{_QUOTED}|{_DECIMAL}|{_INTEGER}|{_WORDS}"
_FLOW = re.compile(rf"\[ *(?:(?:{_SCALAR}) *(?:, *(?:{_SCALAR}) *)*)?\]")
_ITEM = re.compile(_SCALAR)
_INTEGER_RE = re.compile(_INTEGER)
_DECIMAL_RE = re.compile(_DECIMAL)
_KEY_LINE = re.compile(r"( *)([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?")


class _NotSimple(Exception):
    """The text is outside the shapes read here: PyYAML reads it."""


def _scalar(text: str) -> Any:
    """One plain or quoted scalar, typed as PyYAML would type it."""
    if text[0] in "\"'":
        return text[1:-1]
    if _DECIMAL_RE.fullmatch(text):
        return float(text)
    if _INTEGER_RE.fullmatch(text):
        return int(text)
    if text in BOOLEANS:
        return BOOLEANS[text]
    return None if text in NULLS else text


def _value(text: str, pointer: str, number: int, lines: dict[str, int]) -> Any:
    """The value written after ``key: `` on line ``number``; a list's items get its line."""
    if _FLOW.fullmatch(text):
        items = [_scalar(item.group()) for item in _ITEM.finditer(text[1:-1])]
        lines.update((f"{pointer}/{i}", number) for i in range(len(items)))
        return items
    if _ITEM.fullmatch(text):
        return _scalar(text)
    raise _NotSimple


def simple_frontmatter(
    front: str, *, first_line: int
) -> tuple[dict[str, Any], dict[str, int]] | None:
    """(value, JSON pointer -> file line) as yamlfront.py would give them, or None."""
    if not front.isascii() or "#" in front or "\r" in front:
        return None
    try:
        return _read(front.split("\n"), first_line)
    except _NotSimple:
        return None


def _read(rows: list[str], first_line: int) -> tuple[dict[str, Any], dict[str, int]]:
    value: dict[str, Any] = {}
    lines: dict[str, int] = {}
    parent: dict[str, Any] | None = None  # the nested mapping being filled
    parent_key = ""
    indent = 0
    for number, raw in enumerate(rows, start=first_line):
        row = raw.rstrip(" ")
        if not row:
            continue
        match = _KEY_LINE.fullmatch(row)
        if match is None or not row.isprintable():
            raise _NotSimple
        spaces, key, text = match.groups()
        if spaces:  # a nested line: only under a key with no value, at one indentation
            if parent is None or (indent and len(spaces) != indent) or not text:
                raise _NotSimple
            indent = len(spaces)
            if key in parent:
                raise _NotSimple  # a repeated key: PyYAML's reader words the error
            lines[f"/{parent_key}/{key}"] = number
            parent[key] = _value(text, f"/{parent_key}/{key}", number, lines)
            continue
        if key in value:
            raise _NotSimple
        lines[f"/{key}"] = number
        if parent is not None and not parent:
            value[parent_key] = None  # "key:" with nothing under it is null
        parent = None
        if text:
            value[key] = _value(text, f"/{key}", number, lines)
            continue
        parent, parent_key, indent = {}, key, 0
        value[key] = parent
    if parent is not None and not parent:
        value[parent_key] = None
    if not value:
        raise _NotSimple
    return value, lines
