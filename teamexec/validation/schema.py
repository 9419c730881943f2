"""The JSON Schemas of every file kind, loaded once and compiled once.

The schema files are the documentation of the formats: ``schemas/`` at the
top of the repository, force-included as ``teamexec/schemas`` in a wheel
(pyproject.toml).  The packaged directory is tried first, then the one next
to the package (editable installs and a source checkout).

``schema_errors(kind, value)`` returns ``(JSON pointer, message)`` pairs.
A valid value is recognised by quickschema.py without importing jsonschema
(~60 ms of start-up); jsonschema words the errors of an invalid one.
Validation (validate.py, rolespec.py) calls it for the session files, and
the executor (handling.py) for every message it receives, so each kind's
validator is compiled once per process and reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamexec.validation.jsonloc import escape
from teamexec.validation.quickschema import Evaluator, Unsupported

if TYPE_CHECKING:  # imported when a value is invalid: quickschema.py answers the rest
    from jsonschema import Draft202012Validator, ValidationError

KINDS = ("team-session", "task-analysis", "role-spec", "task", "message", "report", "meta")
MAX_MESSAGE = 240  # characters of one error message


def schema_dir() -> Path:
    """Where the ``*.schema.json`` files are: in the installed package, else the repository."""
    package = Path(__file__).resolve().parent.parent  # teamexec/
    packaged = package / "schemas"
    if packaged.is_dir():
        return packaged
    return package.parent / "schemas"  # editable install


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Each kind's schema, as parsed JSON (no jsonschema needed to read them)."""
    return {
        kind: json.loads((schema_dir() / f"{kind}.schema.json").read_text(encoding="utf-8"))
        for kind in KINDS
    }


@cache
def _evaluator() -> Evaluator:
    return Evaluator({schema["$id"]: schema for schema in _schemas().values()})


@cache
def validator(kind: str) -> Draft202012Validator:
    """The compiled validator of one kind (see ``KINDS``), built on first use."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = _schemas()
    registry: Registry = Registry()
    for schema in schemas.values():
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator(schemas[kind], registry=registry)


def quickly_valid(kind: str, value: Any) -> bool:
    """True when ``value`` is valid by quickschema.py's exact subset; False: ask jsonschema."""
    schema = _schemas()[kind]
    try:
        return _evaluator().is_valid(schema, value, schema["$id"])
    except (Unsupported, RecursionError):
        return False


def property_names(kind: str, *path: str) -> list[str]:
    """The keys a schema documents for an object, e.g. ``("properties", "executor")``."""
    node: Any = _schemas()[kind]
    for step in path:
        node = node[step]
    return list(node.get("properties", {}))


def pointer(path: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) from a jsonschema error path."""
    return "".join(f"/{escape(str(p))}" for p in path)


def _message(error: ValidationError) -> str:
    """One short line: jsonschema quotes the whole offending value, which may be huge."""
    message = error.message
    if error.validator == "required":
        message = message.replace(" is a required property", " is required")
    elif error.validator in ("oneOf", "anyOf") and error.context:
        message = min(error.context, key=lambda e: len(e.message)).message
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE // 2] + " ... " + message[-MAX_MESSAGE // 2 :]
    return message


def schema_errors(kind: str, value: Any) -> list[tuple[str, str]]:
    """Every schema violation of ``value`` as (JSON pointer, message), sorted by pointer."""
    if quickly_valid(kind, value):
        return []
    errors = []
    for error in validator(kind).iter_errors(value):
        path = list(error.absolute_path)
        if "propertyNames" in error.schema_path:
            path.append(error.instance)  # point at the offending key, not its object
        errors.append((pointer(path), _message(error)))
    return sorted(errors)
