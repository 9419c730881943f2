"""A small exact JSON Schema evaluator for our own schemas' keywords: valid or not.

Importing jsonschema (with referencing, attrs, rpds) and compiling a
validator is ~60 ms of every command's start-up; nearly every file and
message teamexec reads is valid, and then no error needs wording.  So
schema.py asks this module first: ``is_valid`` answers for the keywords
``schemas/*.json`` use, with jsonschema's Draft 2020-12 semantics (the type
checks below are jsonschema's: ``bool`` is not a number, ``1.0`` is an
integer; ``pattern`` is ``re.search``); only an invalid value goes to
jsonschema, which words the errors.  Anything outside that subset — an
unknown keyword, a value that is not plain JSON (YAML dates), a ``$ref``
elsewhere — raises ``Unsupported``, and jsonschema decides as before.
tests/test_quickschema.py checks the answers against jsonschema's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Schema = Mapping[str, Any] | bool
Docs = Mapping[str, Mapping[str, Any]]  # schema $id -> schema

ANNOTATIONS = frozenset(("$schema", "$id", "$defs", "$comment", "title", "description", "default"))
_PLAIN = (str, int, float, bool, type(None))  # with dict and list: what json.loads returns


class Unsupported(Exception):
    """A keyword or value outside this module's subset: ask jsonschema."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Evaluator:
    """Valid or not, for one family of schemas that may ``$ref`` one another by ``$id``."""

    def __init__(self, docs: Docs) -> None:
        self.docs = docs

    def is_valid(self, schema: Schema, value: Any, base: str) -> bool:
        """Does ``value`` satisfy ``schema`` (found in the document ``base``)?"""
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema that is not an object")
        if not isinstance(value, _PLAIN):
            if isinstance(value, dict):
                if not all(isinstance(k, str) for k in value):
                    raise Unsupported("an object with keys that are not strings")
            elif not isinstance(value, list):
                raise Unsupported(f"a value of type {type(value).__name__}")
        for keyword, argument in schema.items():
            if keyword in ANNOTATIONS:
                continue
            check = _KEYWORDS.get(keyword)
            if check is None:
                raise Unsupported(f"keyword {keyword!r}")
            if not check(self, argument, value, schema, base):
                return False
        return True

    def resolve(self, ref: str, base: str) -> tuple[Schema, str]:
        """The schema a ``$ref`` names: ``#/$defs/x`` here, ``other.schema.json#/...`` there."""
        where, _hash, pointer = ref.partition("#")
        if where:
            base = base.rsplit("/", 1)[0] + "/" + where if "/" in base else where
        doc = self.docs.get(base)
        if doc is None:
            raise Unsupported(f"$ref {ref!r}")
        node: Any = doc
        for step in pointer.split("/")[1:] if pointer else ():
            step = step.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or step not in node:
                raise Unsupported(f"$ref {ref!r}")
            node = node[step]
        if not isinstance(node, Mapping | bool):
            raise Unsupported(f"$ref {ref!r}")
        return node, base


def _type(ev: Evaluator, kinds: Any, value: Any, _s: Any, _b: str) -> bool:
    names = [kinds] if isinstance(kinds, str) else kinds
    try:
        return any(TYPES[name](value) for name in names)
    except (KeyError, TypeError):
        raise Unsupported(f"type {kinds!r}") from None


def _matches(option: Any, value: Any) -> bool:
    """jsonschema's ``equal`` for a string, boolean or null option (``True`` is not ``1``)."""
    if isinstance(option, str):
        return isinstance(value, str) and value == option
    if option is None or isinstance(option, bool):
        return value is option
    raise Unsupported("enum/const of numbers, arrays or objects")


def _enum(ev: Evaluator, options: Any, value: Any, _s: Any, _b: str) -> bool:
    if not isinstance(options, list):
        raise Unsupported("enum that is not an array")
    return any(_matches(option, value) for option in options)


def _const(ev: Evaluator, option: Any, value: Any, _s: Any, _b: str) -> bool:
    return _matches(option, value)


def _required(ev: Evaluator, names: Any, value: Any, _s: Any, _b: str) -> bool:
    return not isinstance(value, dict) or all(name in value for name in names)


def _properties(ev: Evaluator, props: Any, value: Any, _s: Any, base: str) -> bool:
    if not isinstance(value, dict):
        return True
    return all(ev.is_valid(sub, value[key], base) for key, sub in props.items() if key in value)


def _additional(ev: Evaluator, sub: Any, value: Any, schema: Any, base: str) -> bool:
    if not isinstance(value, dict):
        return True
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = schema.get("properties", {})
    return all(ev.is_valid(sub, item, base) for key, item in value.items() if key not in known)


def _property_names(ev: Evaluator, sub: Any, value: Any, _s: Any, base: str) -> bool:
    return not isinstance(value, dict) or all(ev.is_valid(sub, key, base) for key in value)


def _items(ev: Evaluator, sub: Any, value: Any, schema: Any, base: str) -> bool:
    if not isinstance(value, list):
        return True
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    return all(ev.is_valid(sub, item, base) for item in value)


def _min_items(ev: Evaluator, least: Any, value: Any, _s: Any, _b: str) -> bool:
    return not isinstance(value, list) or len(value) >= least


def _min_length(ev: Evaluator, least: Any, value: Any, _s: Any, _b: str) -> bool:
    return not isinstance(value, str) or len(value) >= least


def _max_length(ev: Evaluator, most: Any, value: Any, _s: Any, _b: str) -> bool:
    return not isinstance(value, str) or len(value) <= most


def _pattern(ev: Evaluator, pattern: Any, value: Any, _s: Any, _b: str) -> bool:
    return not isinstance(value, str) or re.search(pattern, value) is not None


def _minimum(ev: Evaluator, bound: Any, value: Any, _s: Any, _b: str) -> bool:
    return not _is_number(value) or not value < bound


def _maximum(ev: Evaluator, bound: Any, value: Any, _s: Any, _b: str) -> bool:
    return not _is_number(value) or not value > bound


def _exclusive_minimum(ev: Evaluator, bound: Any, value: Any, _s: Any, _b: str) -> bool:
    return not _is_number(value) or not value <= bound


def _any_of(ev: Evaluator, subs: Any, value: Any, _s: Any, base: str) -> bool:
    return any(ev.is_valid(sub, value, base) for sub in subs)


def _one_of(ev: Evaluator, subs: Any, value: Any, _s: Any, base: str) -> bool:
    return sum(1 for sub in subs if ev.is_valid(sub, value, base)) == 1


def _ref(ev: Evaluator, ref: Any, value: Any, _s: Any, base: str) -> bool:
    if not isinstance(ref, str):
        raise Unsupported("$ref that is not a string")
    target, where = ev.resolve(ref, base)
    return ev.is_valid(target, value, where)


_KEYWORDS: dict[str, Callable[[Evaluator, Any, Any, Any, str], bool]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "items": _items,
    "minItems": _min_items,
    "minLength": _min_length,
    "maxLength": _max_length,
    "pattern": _pattern,
    "minimum": _minimum,
    "maximum": _maximum,
    "exclusiveMinimum": _exclusive_minimum,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "$ref": _ref,
}
