"""`--json` output keeps the value and lays out one entry per line."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from teamexec.cli.jsonout import dumps

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_the_value_round_trips(value):
    assert json.loads(dumps(value)) == value


def test_one_line_per_key_and_per_list_entry():
    text = dumps({"tasks": [{"id": "A-001"}, {"id": "B-001"}], "ready": [], "n": 1})
    assert text.splitlines() == [
        "{",
        '  "tasks": [',
        '    {"id": "A-001"},',
        '    {"id": "B-001"}',
        "  ],",
        '  "ready": [],',
        '  "n": 1',
        "}",
    ]
