"""The task store: atomic writes, no-op writes, corrupt files, claims, failure injection."""

from __future__ import annotations

import errno
import json

import pytest
from factories import make_task

from teamexec import atomic
from teamexec.errors import StateCorrupt
from teamexec.model import TaskStatus
from teamexec.store import TaskStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    return TaskStore(tmp_path / "tasks")


def test_write_then_read_round_trips_unknown_keys(store):
    task = make_task("A-1").evolve(custom={"x": 1})
    assert store.write(task)
    assert store.read("A-1").data == task.data
    assert json.loads(store.path("A-1").read_text())["custom"] == {"x": 1}


def test_writing_an_equal_value_changes_no_byte(store):
    task = make_task("A-1")
    store.write(task)
    before = store.path("A-1").stat().st_mtime_ns
    fresh = TaskStore(store.directory)  # no cache: compares with the file
    assert not fresh.write(make_task("A-1"))
    assert not store.write(task)
    assert store.path("A-1").stat().st_mtime_ns == before


def test_read_all_turns_damaged_files_into_issues(store):
    store.write(make_task("A-1"))
    d = store.directory
    (d / "B-1.json").write_text('{"id": "B-1",\n "status": }')
    (d / "C-1.json").write_text("[1]")
    (d / "D-1.json").write_text(json.dumps({"id": "other", "status": "pending"}))
    (d / "E-1.json").write_text(json.dumps({"id": "E-1", "status": "weird"}))
    (d / "F-1.json").write_bytes(b"\xff\xfe")
    (d / ".hidden.json").write_text("ignored")
    tasks, issues = store.read_all()
    assert list(tasks) == ["A-1"]
    by_file = {i.path.rsplit("/", 1)[-1]: i for i in issues}
    assert by_file["B-1.json"].line == 2
    assert "not valid JSON" in by_file["B-1.json"].message
    assert "JSON object" in by_file["C-1.json"].message
    assert "does not match the file name" in by_file["D-1.json"].message
    assert "unknown status" in by_file["E-1.json"].message
    assert "UTF-8" in by_file["F-1.json"].message


def test_read_raises_state_corrupt(store):
    store.directory.mkdir()
    store.path("A-1").write_text("nope")
    with pytest.raises(StateCorrupt):
        store.read("A-1")


def test_claim_is_compare_and_set(store):
    store.write(make_task("A-1"))
    claimed = store.claim("A-1", "w1", now=NOW)
    assert claimed.status is TaskStatus.IN_PROGRESS
    assert claimed.claimed_by == "w1"
    assert claimed.attempts == 1
    assert store.claim("A-1", "w2", now=NOW) is None
    assert store.read("A-1").claimed_by == "w1"


def test_claim_next_takes_ready_tasks_in_numeric_order(store):
    for tid in ("A-10", "A-2", "A-1"):
        store.write(make_task(tid))
    store.write(make_task("A-3", deps=["A-1"]))
    order = [store.claim_next("a", {"a"}, "w", now=NOW).id for _ in range(3)]
    assert order == ["A-1", "A-2", "A-10"]
    assert store.claim_next("a", {"a"}, "w", now=NOW) is None  # A-3 waits for A-1


def test_failing_write_keeps_the_previous_file_and_no_temp_file(store, monkeypatch):
    store.write(make_task("A-1"))
    before = store.path("A-1").read_bytes()
    real_replace = atomic.os.replace

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.write(make_task("A-1", "completed"))
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert store.path("A-1").read_bytes() == before
    assert sorted(p.name for p in store.directory.iterdir()) == [".lock", "A-1.json"]


def test_eio_while_writing_data_leaves_the_old_file(store, monkeypatch):
    store.write(make_task("A-1"))
    before = store.path("A-1").read_bytes()

    def eio(_fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", eio)
    with pytest.raises(OSError, match="Input/output"):
        TaskStore(store.directory).write(make_task("A-1", "completed"))
    monkeypatch.undo()
    assert store.path("A-1").read_bytes() == before
    assert not [p for p in store.directory.iterdir() if p.suffix == ".tmp"]


def test_lock_is_reentrant(store):
    with store.locked(), store.locked():
        store.write(make_task("A-1"))
    assert store.read("A-1") is not None
