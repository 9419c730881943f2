"""The JSON Schemas of every file kind, loaded once and compiled once.

The schema files are the documentation of the formats (``schemas/`` at the
top of the repository, packaged as ``teamexec/schemas`` in a wheel).
``schema_errors(kind, value)`` returns ``(JSON pointer, message)`` pairs;
the executor calls it for every message it receives, so the validators are
cached.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

KINDS = ("team-session", "task-analysis", "role-spec", "task", "message")


def schema_dir() -> Path:
    packaged = Path(__file__).parent / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"  # editable install


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    schemas = {}
    registry: Registry = Registry()
    for kind in KINDS:
        schema = json.loads((schema_dir() / f"{kind}.schema.json").read_text(encoding="utf-8"))
        schemas[kind] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return registry, schemas


@cache
def validator(kind: str) -> Draft202012Validator:
    registry, schemas = _registry()
    return Draft202012Validator(schemas[kind], registry=registry)


def pointer(path: Any) -> str:
    return "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path)


def _message(error: Any) -> str:
    if error.validator == "required":
        return error.message.replace(" is a required property", " is required")
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(e.message))
        return best.message
    return error.message


def schema_errors(kind: str, value: Any) -> list[tuple[str, str]]:
    """Every schema violation of ``value`` as (JSON pointer, message), sorted by pointer."""
    errors = []
    for error in validator(kind).iter_errors(value):
        path = list(error.absolute_path)
        if "propertyNames" in error.schema_path:
            path.append(error.instance)  # point at the offending key, not its object
        errors.append((pointer(path), _message(error)))
    return sorted(errors)
