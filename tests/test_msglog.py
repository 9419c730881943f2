"""The shared message log: what a line means (core/msglog.py) and how it is read and
appended (storage/messages.MessageLog), beside CCW's team_msg."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamexec.core.msglog import (
    as_message,
    fingerprint,
    is_completion,
    log_completions,
    task_of,
)
from teamexec.storage import safeopen
from teamexec.storage.messages import MessageLog

sys.path.insert(0, str(Path(__file__).parent / "agents"))
import team_msg  # tests/agents is not a package: agents run its files

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
OWNERS = {"IMPL-001": "developer", "TEST-001": "tester"}


def line(**fields) -> str:
    base = {
        "id": "MSG-001",
        "ts": "2026-01-01T00:00:00.000+00:00",
        "from": "IMPL-001",
        "to": "coordinator",
        "type": "progress",
        "summary": "s",
    }
    return json.dumps({**base, **fields}, separators=(",", ":")) + "\n"


@pytest.mark.parametrize(
    ("record", "task"),
    [
        pytest.param({"from": "IMPL-001"}, "IMPL-001", id="from-task-id"),
        pytest.param(
            {"from": "developer", "data": {"task_id": "IMPL-001"}}, "IMPL-001", id="data-task-id"
        ),
        pytest.param({"from": "coordinator", "data": {"pipeline_mode": "x"}}, None, id="no-task"),
        pytest.param({"from": "NOPE-001"}, None, id="unknown"),
    ],
)
def test_the_task_a_line_is_about(record, task):
    assert task_of(record, OWNERS) == task


@pytest.mark.parametrize(
    ("record", "done"),
    [
        pytest.param({"type": "task_complete"}, True, id="task_complete"),
        pytest.param({"type": "impl_complete"}, True, id="role-success"),
        pytest.param({"type": "research_complete"}, True, id="any-complete"),
        pytest.param(
            {"type": "state_update", "data": {"status": "task_complete"}},
            True,
            id="phase5-state-update",
        ),
        pytest.param(
            {"type": "state_update", "data": {"status": "in_progress"}}, False, id="state-update"
        ),
        pytest.param({"type": "progress"}, False, id="progress"),
    ],
)
def test_what_counts_as_a_completion(record, done):
    assert is_completion(record, "impl_complete") is done


def test_completions_in_the_log_count_once_and_a_reset_line_clears_them():
    records = [
        {"id": "MSG-002", "from": "IMPL-001", "type": "task_complete", "data": {}},
        {
            "id": "MSG-003",
            "from": "tester",
            "type": "test_complete",
            "data": {"task_id": "TEST-001"},
        },
        {
            "id": "MSG-004",
            "from": "developer",
            "type": "task_complete",
            "data": {"task_id": "TEST-001"},
        },  # not the owner: does not speak for TEST-001
    ]
    found = log_completions(records, owners=OWNERS, success_types={})
    assert set(found) == {"IMPL-001", "TEST-001"}
    reset = {
        "id": "MSG-005",
        "from": "executor",
        "type": "task_reset",
        "data": {"task_id": "IMPL-001"},
    }
    assert set(log_completions([*records, reset], owners=OWNERS, success_types={})) == {"TEST-001"}
    assert log_completions(records[2:], owners=OWNERS, success_types={}) == {}


def test_a_line_becomes_a_message_of_the_owner():
    record = {
        "id": "MSG-9",
        "from": "IMPL-001",
        "type": "state_update",
        "data": {"status": "task_complete", "ref": "a.md"},
    }
    message = as_message(record, task_id="IMPL-001", owner="developer", success_type=None)
    assert message["from"] == "developer"
    assert message["type"] == "task_complete"
    assert message["data"] == {
        "status": "task_complete",
        "ref": "a.md",
        "artifact": "a.md",
        "task_id": "IMPL-001",
    }


def test_follow_applies_each_line_once_and_waits_for_a_torn_tail(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text(line(id="MSG-001"))
    log = MessageLog(path)
    assert [r["id"] for r in log.history] == ["MSG-001"]
    assert log.follow() == []
    with open(path, "a") as handle:
        handle.write(line(id="MSG-002") + line(id="MSG-002")[:-10])  # a writer mid-append
    assert [x.record["id"] for x in log.follow()] == ["MSG-002"]
    with open(path, "a") as handle:
        handle.write(line(id="MSG-002")[-10:])
    assert log.follow() == []  # the completed line equals MSG-002: same fingerprint
    with open(path, "a") as handle:
        handle.write(line(id="MSG-002", summary="another writer picked 002") + "not json\n")
    got = log.follow()
    assert [x.record and x.record["summary"] for x in got] == ["another writer picked 002", None]
    assert got[1].number == 5 and got[1].error


def test_a_line_glued_to_a_torn_fragment_is_recovered(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text('{"id":"MSG-001","ts":"x","fro' + line(id="MSG-002"))
    log = MessageLog(path)
    assert [r["id"] for r in log.history] == ["MSG-002"]


def test_appends_take_the_highest_id_at_the_time_and_team_msgs_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("CCW_PROJECT_ROOT", str(tmp_path))
    path = tmp_path / ".workflow" / ".team" / "S" / ".msg" / "messages.jsonl"
    team_msg.log("S", sender="coordinator", type_="state_update", data={"x": 1})
    log = MessageLog(path)
    team_msg.log("S", sender="IMPL-001", type_="progress")  # after start-up
    team_msg.log("S", sender="IMPL-001", type_="progress")
    message = {
        "id": "dev.IMPL-001.1",
        "ts": "2026-01-01T00:00:00.000Z",
        "from": "developer",
        "type": "task_complete",
        "summary": "done",
        "data": {"task_id": "IMPL-001"},
    }
    assert log.append(message, now=0.0) == "MSG-004"
    assert log.append(message, now=0.0) == "dev.IMPL-001.1"  # relayed once
    assert team_msg.log("S", sender="IMPL-001", type_="progress") == "MSG-005"
    last = json.loads(path.read_text().splitlines()[3])
    assert list(last)[:7] == ["id", "ts", "from", "to", "type", "summary", "data"]
    assert last["ts"] == "1970-01-01T00:00:00.000+00:00" and TS.match(last["ts"])
    assert last["origin_id"] == "dev.IMPL-001.1"
    assert path.read_text().splitlines()[3] == json.dumps(
        last, ensure_ascii=False, separators=(",", ":")
    )
    assert [x.record["id"] for x in log.follow()] == ["MSG-002", "MSG-003", "MSG-005"]


def test_fingerprint_is_more_than_the_id():
    a = {"id": "MSG-003", "ts": "t", "from": "IMPL-001", "type": "progress", "summary": "a"}
    assert fingerprint(a) != fingerprint({**a, "summary": "b"})
    assert fingerprint(a) == fingerprint(dict(a))


def test_a_log_rewritten_shorter_is_read_again(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text(line(id="MSG-001") + line(id="MSG-002"))
    log = MessageLog(path)
    path.write_text(line(id="MSG-001", summary="new"))  # team_msg delete/clear rewrote it
    assert [x.record["summary"] for x in log.follow()] == ["new"]
    assert os.path.getsize(path) == log.offset


def test_an_append_steps_over_its_own_line_only_when_nothing_came_between(tmp_path):
    """follow() need not read back the executor's own line, but never skips another's."""
    path = tmp_path / "messages.jsonl"
    path.write_text(line(id="MSG-001"))
    log = MessageLog(path)
    message = {"id": "w.1", "ts": "t", "from": "dev", "type": "progress", "data": {}}
    assert log.append(message, now=0.0) == "MSG-002"
    assert log.offset == os.path.getsize(path) and log.lines == 2  # stepped over, not re-read
    assert log.follow() == []
    with open(path, "a") as handle:
        handle.write(line(id="MSG-003") + line(id="MSG-004")[:-5])  # team_msg, then a torn one
    assert log.append({**message, "id": "w.2"}, now=0.0) == "MSG-004"
    got = [x.record["id"] for x in log.follow() if x.record is not None]
    assert got == ["MSG-003"]  # the foreign line is followed; the torn fragment is dropped
    assert log.offset == os.path.getsize(path) and log.follow() == []


def test_appends_keep_one_descriptor_and_the_flock_around_each_line(tmp_path, monkeypatch):
    """One open for many lines; each line still written under an exclusive flock."""
    path = tmp_path / ".msg" / "messages.jsonl"
    log = MessageLog(path, root=tmp_path)  # .msg/ is missing: made at the first append
    calls: list[str] = []
    real_open, real_flock, real_write = safeopen.open_append, fcntl.flock, os.write
    monkeypatch.setattr(
        safeopen, "open_append", lambda *a, **k: calls.append("open") or real_open(*a, **k)
    )
    monkeypatch.setattr(
        fcntl, "flock", lambda fd, op: calls.append(f"flock {op}") or real_flock(fd, op)
    )
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append("write") or real_write(fd, data))
    for n in range(3):
        log.append({"id": f"w.{n}", "ts": "t", "from": "dev", "type": "progress"}, now=0.0)
    log.close()
    ex, un = f"flock {fcntl.LOCK_EX}", f"flock {fcntl.LOCK_UN}"
    assert calls == ["open", "open", *([ex, "write", un] * 3)]  # refused, mkdir, opened
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == [
        "MSG-001",
        "MSG-002",
        "MSG-003",
    ]


def test_an_append_follows_the_name_when_the_file_is_removed_or_replaced(tmp_path):
    """team_msg's clear removes the log, a rewrite may replace it: no line goes to the old file.

    The id is still the file's highest + 1 at the time of the append (§6).
    """
    path = tmp_path / "messages.jsonl"
    log = MessageLog(path)
    progress = {"ts": "t", "from": "dev", "type": "progress"}
    log.append({"id": "a", **progress}, now=0.0)
    path.unlink()
    log.append({"id": "b", **progress}, now=0.0)
    assert [json.loads(x)["origin_id"] for x in path.read_text().splitlines()] == ["b"]
    replacement = tmp_path / "rewritten"
    replacement.write_text(line(id="MSG-007"))
    os.replace(replacement, path)
    log.append({"id": "c", **progress}, now=0.0)
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["id"] for r in records] == ["MSG-007", "MSG-008"]
    assert records[1]["origin_id"] == "c"
    log.close()


def test_an_append_refuses_a_symlink_put_in_place_of_the_open_log(tmp_path):
    root = tmp_path / "session"
    (root / ".msg").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.write_text("secret\n")
    path = root / ".msg" / "messages.jsonl"
    log = MessageLog(path, root=root)
    log.append({"id": "a", "ts": "t", "from": "dev", "type": "progress"}, now=0.0)
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(OSError):
        log.append({"id": "b", "ts": "t", "from": "dev", "type": "progress"}, now=0.0)
    assert outside.read_text() == "secret\n"
    log.close()


def test_consumed_is_true_only_when_every_byte_was_followed_or_stepped_over(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text(line(id="MSG-001"))
    log = MessageLog(path)
    assert log.consumed()
    log.append({"id": "w.1", "ts": "t", "from": "dev", "type": "progress"}, now=0.0)
    assert log.consumed()  # its own line
    with open(path, "a") as handle:
        handle.write(line(id="MSG-003")[:-5])  # another writer, mid-line
    assert not log.consumed()
    assert log.follow() == [] and not log.consumed()  # a torn tail is never consumed
    with open(path, "a") as handle:
        handle.write(line(id="MSG-003")[-5:])
    assert [x.record["id"] for x in log.follow()] == ["MSG-003"]
    assert log.consumed()
    log.close()


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.text(), st.none(), st.integers(), st.dictionaries(st.text(), st.text())),
        min_size=6,
        max_size=6,
    )
)
def test_a_fingerprint_is_json_dumps_of_each_field(values):
    keys = ("id", "ts", "from", "type", "summary", "origin_id")
    record = dict(zip(keys, values, strict=True))
    expected = tuple(json.dumps(record[k], sort_keys=True, default=str) for k in keys)
    assert fingerprint(record) == expected
