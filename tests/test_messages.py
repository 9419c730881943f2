"""Reading inbox files (storage/messages.py): what reaches the core is a well-formed message.

The schema check moved here from handling.py when the core stopped importing
validation (import-linter's layer contract): a file that is not a message is
rejected where it is read, with the same ``schema: <pointer>: <what>`` reason.
"""

from __future__ import annotations

import json

import pytest

from teamexec.storage.messages import read_item


def good() -> dict[str, object]:
    return {
        "id": "m-1",
        "ts": "2026-11-26T12:00:00.000Z",
        "from": "writer",
        "type": "progress",
        "data": {"task_id": "DRAFT-001"},
    }


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param({"id": "x"}, "schema: /: ", id="schema"),
        pytest.param({**good(), "data": {}}, "schema: /data: 'task_id' is required", id="no-task"),
        pytest.param([1], "not a JSON object", id="not-object"),
        pytest.param("{", "not JSON", id="not-json"),
    ],
)
def test_a_file_that_is_not_a_message_is_rejected_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "m.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    item = read_item(path)
    assert item is not None and item.message is None
    assert item.error is not None and item.error.startswith(reason)


def test_a_well_formed_message_is_passed_on(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(good()))
    item = read_item(path)
    assert item is not None and item.error is None
    assert item.message == good()
