"""jsonloc: strict parsing, and the line of every JSON pointer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamexec.validation.jsonloc import LineIndex, error_line, escape, loads, parse

DOC = """{
  "a": 1,
  "b": [
    10,
    {"c": "x]}\\"{",
     "d/e~f": null}
  ],
  "": {"g":
    true}
}"""


@pytest.mark.parametrize(
    ("pointer", "line"),
    [
        ("", 1),
        ("/a", 2),
        ("/b", 3),
        ("/b/0", 4),
        ("/b/1", 5),
        ("/b/1/c", 5),
        ("/b/1/d~1e~0f", 6),
        ("/", 8),
        ("//g", 8),
        ("/b/7", 3),  # missing: the nearest ancestor
        ("/zz/y", 1),
    ],
)
def test_lines_of_pointers(pointer: str, line: int) -> None:
    assert LineIndex(DOC).line(pointer) == line


def test_line_of_is_a_one_off_lookup() -> None:
    assert LineIndex(DOC).line("/b/1/c") == 5


def test_escape_follows_rfc_6901() -> None:
    assert escape("a/b~c") == "a~1b~0c"


def test_duplicate_keys_keep_the_last_value_and_are_found() -> None:
    text = '{"a": 1,\n "b": {"x": 1,\n "x": 2},\n "a": 3}'
    parsed = parse(text)
    assert parsed.value == {"a": 3, "b": {"x": 2}}
    assert parsed.duplicates
    assert LineIndex(text).duplicates() == [("/b/x", 3), ("/a", 4)]
    assert not parse('{"a": {"a": 1}}').duplicates  # same key, different objects


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('{\n"a": NaN}', "NaN is not valid JSON", 2),
        ('{"s": "NaN",\n"a": Infinity}', "Infinity is not valid JSON", 2),
        ("[\n\n-Infinity]", "-Infinity is not valid JSON", 3),
        ('{"a":\n1e999}', "number 1e999 is too large", 2),
        ('{"a": 1,\n"b": }', "Expecting value", 2),
        ("", "Expecting value", 1),
        ("[1]\n[2]", "Extra data", 2),
    ],
)
def test_errors_carry_their_line(text: str, message: str, line: int) -> None:
    with pytest.raises(ValueError) as caught:
        loads(text)
    assert message in str(caught.value)
    assert error_line(caught.value) == line


def test_error_line_of_other_errors_is_none() -> None:
    assert error_line(ValueError("x")) is None


def test_deep_nesting_needs_no_recursion() -> None:
    depth = 200_000
    text = "[\n" * depth + "]" * depth
    with pytest.raises(RecursionError):
        loads(text)
    index = LineIndex(text)
    assert index.line("/0" * 5000) == 5001


def test_the_index_is_built_once() -> None:
    index = LineIndex(DOC)
    first = index.pointers()
    assert index.line("/a") == 2
    assert index.pointers() == first


def test_trailing_junk_stops_the_scan() -> None:
    assert LineIndex('{"a": 1}\n{"b": 2}').pointers() == {"": 1, "/a": 1}


def all_pointers(value: object, pointer: str = "") -> list[str]:
    out = [pointer]
    if isinstance(value, dict):
        for key, child in value.items():
            out += all_pointers(child, f"{pointer}/{escape(key)}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += all_pointers(child, f"{pointer}/{i}")
    return out


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 0, 1, 2]))
def test_every_pointer_gets_the_line_its_value_starts_on(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    assert loads(text) == value
    index = LineIndex(text)
    pointers = index.pointers()
    assert set(pointers) == set(all_pointers(value))
    if indent is None:
        assert set(pointers.values()) == {1}
    else:  # pretty-printed: each member or element starts a line of its own
        lines = text.split("\n")  # not splitlines(): JSON strings may hold U+0085
        for pointer, line in pointers.items():
            if pointer:
                key = pointer.rsplit("/", 1)[-1]
                assert lines[line - 1].strip(), (pointer, line)
                if key and not key.isdigit():
                    assert lines[line - 1].lstrip().startswith('"'), (pointer, line)


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list('{}[]:,"\\ \n1aetrufnl.-')), max_size=60))
def test_the_index_never_raises_even_on_broken_text(text: str) -> None:
    index = LineIndex(text)
    assert index.line("/a/0") is None or index.line("/a/0") >= 1
    index.duplicates()
