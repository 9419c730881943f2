"""quickschema.py answers exactly as jsonschema does, for every schema of schemas/.

A wrong "valid" would let a bad file through without its error, so the
answers are compared with jsonschema's on values generated from each schema
(valid-looking ones, and each one's near misses) and on the repository's own
session files.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teamexec.validation import schema
from teamexec.validation.quickschema import Evaluator, Unsupported

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = schema._schemas()
EVALUATOR = Evaluator({s["$id"]: s for s in SCHEMAS.values()})

# strings around the patterns, lengths and enums our schemas use
STRING_POOL = (
    "",
    "a",
    "T-001",
    "IMPL-2",
    "coder",
    "Coder",
    "-x",
    "a b",
    "ok\n",
    "x" * 64,
    "x" * 65,
    "y" * 201,
    "exec-0123456789ab",
    "exec-0123456789AB",
    "active",
    "critical_path",
    "sh",
    "HIGH",
    "task_complete",
    "2026-11-26T10:00:00.000Z",
    "é",
)
STRINGS = st.sampled_from(STRING_POOL)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2, 4, 100, 101]),
    st.sampled_from([0.0, 1.0, 2.5, -0.5, 100.5, math.inf, math.nan]),
    STRINGS,
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STRINGS, inner, max_size=3),
    max_leaves=8,
)


def resolve(node: Any, base: str) -> tuple[Any, str]:
    return EVALUATOR.resolve(node["$ref"], base) if "$ref" in node else (node, base)


NUMBERS_POOL = [0, 1, -1, 2, 4, 100, 101, 0.0, 1.0, 2.5, -0.5, 100.5, math.inf]
NUMBERS = st.sampled_from(NUMBERS_POOL)


def near(node: Any, base: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by ``node``: mostly what it asks for (required keys present,
    values of the right kind, some of them wrong), sometimes any scalar."""
    if not isinstance(node, dict) or depth > 5:
        return ANY_JSON
    node, base = resolve(node, base)
    shaped: list[st.SearchStrategy[Any]] = []
    for key in ("oneOf", "anyOf"):
        shaped += [near(sub, base, depth + 1) for sub in node.get(key, ())]
    if "enum" in node:
        shaped.append(st.sampled_from(node["enum"]))
    if "const" in node:
        shaped.append(st.just(node["const"]))
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "string" in kinds:
        shaped.append(STRINGS)
    if "integer" in kinds or "number" in kinds:
        shaped.append(NUMBERS)
    if "boolean" in kinds:
        shaped.append(st.booleans())
    if "null" in kinds:
        shaped.append(st.none())
    if "object" in kinds or "properties" in node:
        props = node.get("properties", {})
        needed = {k: near(props.get(k, {}), base, depth + 1) for k in node.get("required", ())}
        optional = {k: near(v, base, depth + 1) for k, v in props.items() if k not in needed}
        extra = node.get("additionalProperties")
        extras = st.dictionaries(
            STRINGS, near(extra, base, depth + 1) if extra else ANY_JSON, max_size=2
        )
        shaped.append(
            st.tuples(st.fixed_dictionaries(needed, optional=optional), extras).map(
                lambda pair: {**pair[1], **pair[0]}
            )
        )
    if "array" in kinds or "items" in node:
        shaped.append(st.lists(near(node.get("items", {}), base, depth + 1), max_size=3))
    if not shaped:
        return ANY_JSON  # a node that only describes: anything is valid
    return st.one_of(*shaped, *shaped, *shaped, SCALARS)


def _fits(node: dict[str, Any], text: str) -> bool:
    return (
        len(text) >= node.get("minLength", 0)
        and len(text) <= node.get("maxLength", 10**9)
        and ("pattern" not in node or re.search(node["pattern"], text) is not None)
    )


def _in_range(node: dict[str, Any], number: float) -> bool:
    if "integer" in _kinds(node) and not float(number).is_integer():
        return False
    return (
        number >= node.get("minimum", -math.inf)
        and number <= node.get("maximum", math.inf)
        and number > node.get("exclusiveMinimum", -math.inf)
    )


def _kinds(node: dict[str, Any]) -> list[str]:
    kinds = node.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


POOL = [*STRING_POOL, "T-1", "coder", "exec-00000000abcd"]


def valid(node: Any, base: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values ``node`` accepts (a sample of them: enough to exercise every keyword)."""
    if not isinstance(node, dict):
        return SCALARS
    node, base = resolve(node, base)
    for key in ("oneOf", "anyOf"):
        if key in node:
            return st.one_of([valid(sub, base, depth + 1) for sub in node[key]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "const" in node:
        return st.just(node["const"])
    options: list[st.SearchStrategy[Any]] = []
    kinds = _kinds(node)
    if "string" in kinds:
        fitting = [t for t in POOL if _fits(node, t)]
        options.append(st.sampled_from(fitting) if fitting else st.just("x" * node["minLength"]))
    if "integer" in kinds or "number" in kinds:
        options.append(st.sampled_from([n for n in NUMBERS_POOL if _in_range(node, n)]))
    if "boolean" in kinds:
        options.append(st.booleans())
    if "null" in kinds:
        options.append(st.none())
    if "object" in kinds and depth < 6:
        props = node.get("properties", {})
        needed = {k: valid(props.get(k, {}), base, depth + 1) for k in node.get("required", ())}
        optional = {k: valid(v, base, depth + 1) for k, v in props.items() if k not in needed}
        extra = node.get("additionalProperties", {})
        names = node.get("propertyNames", {})
        keys = [t for t in POOL if t not in props and _fits(names, t)]
        extras = (
            st.dictionaries(st.sampled_from(keys), valid(extra, base, depth + 1), max_size=2)
            if extra is not False and keys
            else st.just({})
        )
        options.append(
            st.tuples(st.fixed_dictionaries(needed, optional=optional), extras).map(
                lambda pair: {**pair[1], **pair[0]}
            )
        )
    if "array" in kinds and depth < 6:
        least = node.get("minItems", 0)
        options.append(
            st.lists(valid(node.get("items", {}), base, depth + 1), min_size=least, max_size=3)
        )
    return st.one_of(options) if options else ANY_JSON


def mutated(value: Any) -> st.SearchStrategy[Any]:
    """``value`` with one node replaced by a scalar, or one key dropped."""
    if isinstance(value, dict) and value:
        key = st.sampled_from(sorted(value))
        return st.one_of(
            SCALARS,
            key.map(lambda k: {x: v for x, v in value.items() if x != k}),
            key.flatmap(lambda k: mutated(value[k]).map(lambda new: {**value, k: new})),
        )
    if isinstance(value, list) and value:
        spot = st.integers(0, len(value) - 1)
        return st.one_of(
            SCALARS,
            spot.flatmap(
                lambda i: mutated(value[i]).map(lambda new: [*value[:i], new, *value[i + 1 :]])
            ),
        )
    return SCALARS


def jsonschema_says(kind: str, value: Any) -> bool:
    return not any(True for _ in schema.validator(kind).iter_errors(value))


@pytest.mark.parametrize("kind", schema.KINDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_quick_answer_is_jsonschemas(kind: str, data: st.DataObject) -> None:
    doc = SCHEMAS[kind]
    good = data.draw(valid(doc, doc["$id"]))
    for value in (good, data.draw(mutated(good)), data.draw(near(doc, doc["$id"]))):
        quick = EVALUATOR.is_valid(doc, value, doc["$id"])  # never Unsupported for JSON values
        assert quick == jsonschema_says(kind, value), value
    assert EVALUATOR.is_valid(doc, good, doc["$id"])  # the generator's own check


def test_the_repositorys_sessions_are_quickly_valid() -> None:
    files = [*REPO.glob("sessions/*/team-session.json"), *REPO.glob("tests/fixtures/*/*.json")]
    checked = 0
    for path in files:
        kind = path.name.removesuffix(".json")
        if kind not in SCHEMAS:
            continue
        value = json.loads(path.read_text())
        assert schema.quickly_valid(kind, value) == jsonschema_says(kind, value), path
        checked += 1
    assert checked >= 2


def test_what_is_not_plain_json_goes_to_jsonschema() -> None:
    import datetime

    doc = SCHEMAS["role-spec"]
    day = datetime.date(2026, 1, 1)  # what YAML makes of 2026-01-01 in a frontmatter
    with pytest.raises(Unsupported):
        EVALUATOR.is_valid({"properties": {"role": {"type": "string"}}}, {"role": day}, "x")
    with pytest.raises(Unsupported):
        EVALUATOR.is_valid({"format": "date"}, "x", doc["$id"])
    with pytest.raises(Unsupported):
        EVALUATOR.is_valid({"$ref": "elsewhere.json#/x"}, "x", doc["$id"])
    assert not schema.quickly_valid("role-spec", {"role": day})
    errors = schema.schema_errors("message", {"id": "m"})  # invalid: jsonschema words it
    assert errors and all(isinstance(p, str) and m for p, m in errors)


def test_true_is_not_one_and_one_point_zero_is_an_integer() -> None:
    doc = SCHEMAS["message"]
    ok = {"id": "m", "ts": "t", "from": "coder", "type": "progress", "data": {"task_id": "T-1"}}
    for attempt, valid in ((1, True), (1.0, True), (True, False), (0, False), (1.5, False)):
        value = {**ok, "data": {**ok["data"], "attempt": attempt}}
        assert EVALUATOR.is_valid(doc, value, doc["$id"]) is valid
        assert jsonschema_says("message", value) is valid
