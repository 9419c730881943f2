"""core/jsontext: each text is exactly its json.dumps call's, or the same error."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_task
from teamexec.core import jsontext
from teamexec.core.model import TaskStatus
from teamexec.core.transitions import Reason, move
from teamexec.storage.atomic import dump_json
from teamexec.storage.store import TaskStore


def _indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


PAIRS = [
    pytest.param(jsontext.indented, _indented, id="indented"),
    pytest.param(jsontext.canonical, _canonical, id="canonical"),
    pytest.param(jsontext.compact, _compact, id="compact"),
]

# every code point, lone surrogates and control characters included
text = st.text(st.characters(codec=None, categories=None), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats()  # NaN and the infinities too: json.dumps writes NaN / Infinity
    | st.sampled_from([0.0, -0.0, 1e300, -1e300, 5e-324, 1e16, 0.1, 1.0, 2.0**63, math.inf])
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=40,
)


def _outcome(encode: Callable[[Any], str], value: Any) -> tuple[str, str]:
    try:
        return "text", encode(value)
    except Exception as exc:  # the comparison is of the error raised
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
@settings(max_examples=300, deadline=None)
@given(value=values)
def test_the_text_is_json_dumps_text(ours, theirs, value):
    assert _outcome(ours, value) == _outcome(theirs, value)


class Colour(enum.IntEnum):
    RED = 1


class Tagged(str):
    pass


def _circular() -> Any:
    loop: list[Any] = []
    loop.append({"again": loop})
    return loop


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = {"x": [value]}
    return value


# what the fast paths leave to json.dumps: its answer or its error, all the same
ODD = [
    pytest.param({2: "a", 2.5: "b", True: "c", None: "d"}, id="non-str-keys"),
    pytest.param({1: "a", "1": "b"}, id="keys-colliding-once-converted"),
    pytest.param({"b": 1, 3: 2}, id="keys-that-do-not-sort"),
    pytest.param({("t",): 1}, id="tuple-key"),
    pytest.param((1, [2, (3,)]), id="tuples"),
    pytest.param({"n": Colour.RED, "s": Tagged("x")}, id="subclasses"),
    pytest.param(OrderedDict(b=1, a=[OrderedDict(z=None)]), id="ordered-dicts"),
    pytest.param({"x": {1, 2}}, id="a-set"),
    pytest.param({"x": b"bytes"}, id="bytes"),
    pytest.param({"n": 10**5000}, id="int-past-the-digit-limit"),
    pytest.param({"loop": _circular()}, id="circular"),
    pytest.param(_deep(150), id="150-levels"),
    pytest.param(_deep(2000), id="2000-levels"),
    pytest.param([float("nan"), -math.inf, {"k": math.inf}], id="nan-and-infinities"),
    pytest.param({"\ud800": "\udfff\x00\x1f\u2028\u2029\x7f"}, id="surrogates-and-controls"),
    pytest.param({}, id="empty-dict"),
    pytest.param([[], {}, [{}], {"a": []}], id="empty-containers"),
    pytest.param("just a string", id="top-level-string"),
    pytest.param(-0.0, id="top-level-negative-zero"),
    pytest.param(None, id="top-level-null"),
]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
@pytest.mark.parametrize("value", ODD)
def test_what_the_fast_path_leaves_is_json_dumps_own(ours, theirs, value):
    assert _outcome(ours, value) == _outcome(theirs, value)


def _real_tasks(directory: Path) -> list[dict[str, Any]]:
    """Task objects as the executor writes them: created, claimed (by the store), completed."""
    created = make_task(
        "IMPL-001",
        owner="coder",
        deps=["PLAN-001"],
        description='PURPOSE: \u00e9crire \u2014 "quoted"\nCONTEXT:\n  - tab\there',
    )
    store = TaskStore(directory)
    store.write(created)
    claimer = {"worker_id": "w", "host": "vm", "pid": 25743, "pid_started_at": 1795718202.17}
    claimed = store.claim("IMPL-001", "coder.IMPL-001.a1", now=1795718206.273, claimer=claimer)
    assert claimed is not None
    completed = move(claimed, TaskStatus.COMPLETED, Reason.REPORTED_DONE, now=1795718206.287)
    return [created.data, claimed.data, completed.data]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_real_task_objects(ours, theirs, tmp_path):
    for task in _real_tasks(tmp_path):
        assert ours(task) == theirs(task)


def test_a_view_file_is_the_indented_text(tmp_path):
    """The file the store writes (atomic.dump_json) is the old format byte for byte."""
    for task in _real_tasks(tmp_path):
        assert dump_json(task) == (json.dumps(task, indent=2, ensure_ascii=False) + "\n").encode()
