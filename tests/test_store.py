"""The task store: atomic writes, no-op writes, damaged files, claims, failure injection."""

from __future__ import annotations

import errno
import json
import os

import pytest

from factories import make_task
from teamexec.core.errors import StateCorrupt
from teamexec.core.model import Task, TaskStatus, iso
from teamexec.storage import atomic
from teamexec.storage import store as store_module
from teamexec.storage.store import TaskStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    return TaskStore(tmp_path / "tasks")


def listing(store):
    return sorted(p.name for p in store.directory.iterdir())


# ------------------------------------------------------------------ reads and writes
def test_write_then_read_round_trips_unknown_keys(store):
    task = make_task("A-1").evolve(custom={"x": 1})
    assert store.write(task)
    assert store.read("A-1").data == task.data
    on_disk = store.path("A-1").read_bytes()
    assert on_disk == atomic.dump_json(task.data)  # the canonical form, final newline
    assert json.loads(on_disk)["custom"] == {"x": 1}


def test_read_of_a_missing_task_is_none(store):
    assert store.read("A-1") is None
    assert store.read("../escape") is None  # no task id, so no file either
    assert store.read_all() == ({}, [])  # not even the directory exists


def test_writing_an_equal_value_changes_no_byte(store):
    task = make_task("A-1")
    store.write(task)
    before = store.path("A-1").stat()
    fresh = TaskStore(store.directory)  # nothing cached: compares with the file
    assert not fresh.write(make_task("A-1"))
    assert not store.write(task)
    reordered = Task(dict(reversed(list(task.data.items()))))  # same JSON value
    assert not fresh.write(reordered)
    assert fresh.write_many([task, make_task("A-2")]) == 1
    after = store.path("A-1").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_values_python_calls_equal_but_json_does_not_are_written(store):
    store.write(make_task("A-1").evolve(flag=1))
    assert store.write(make_task("A-1").evolve(flag=True))
    assert json.loads(store.path("A-1").read_text())["flag"] is True


def test_a_write_by_another_store_is_never_hidden_by_the_cache(store):
    """The executor's view goes stale when a worker claims; its next write must land."""
    store.write(make_task("A-1"))
    assert TaskStore(store.directory).claim("A-1", "w1", now=NOW) is not None
    assert store.write(make_task("A-1"))  # back to pending, as `reset` would
    assert store.read("A-1").status is TaskStatus.PENDING


def test_a_hand_edit_in_place_is_noticed(store):
    store.write(make_task("A-1"))
    path = store.path("A-1")
    path.write_text(json.dumps(make_task("A-1", "completed").data))  # same inode
    assert store.write(make_task("A-1"))
    assert store.read("A-1").status is TaskStatus.PENDING


def test_a_read_of_an_unchanged_file_is_one_stat_and_a_changed_one_is_read(store, monkeypatch):
    """The claim's compare-and-set reads what it wrote without opening it, never stale."""
    store.write(make_task("A-1").evolve(note="mine"))
    opened = []
    real = store_module.safeopen.open_read
    monkeypatch.setattr(store_module.safeopen, "open_read", lambda p: opened.append(p) or real(p))
    assert store.read("A-1").data["note"] == "mine" and opened == []
    assert list(store.read("A-1").data) == list(make_task("A-1").evolve(note="x").data)
    TaskStore(store.directory).write(make_task("A-1").evolve(note="theirs"))  # a rename
    opened.clear()
    assert store.read("A-1").data["note"] == "theirs" and len(opened) == 1
    assert store.claim("A-1", "w1", now=NOW) is not None and len(opened) == 1
    store.path("A-1").unlink()
    assert store.read("A-1") is None


def test_invalid_task_ids_are_never_paths(store):
    with pytest.raises(ValueError, match="not a valid task id"):
        store.write(Task({"id": "../../etc/passwd", "status": "pending"}))
    with pytest.raises(ValueError):
        store.claim("a/b", "w", now=NOW)


def test_read_all_turns_damaged_files_into_issues(store, tmp_path):
    store.write(make_task("A-1"))
    d = store.directory
    (d / "B-1.json").write_text('{"id": "B-1",\n "status": }')
    (d / "C-1.json").write_text("[1]")
    (d / "D-1.json").write_text(json.dumps({"id": "other", "status": "pending"}))
    (d / "E-1.json").write_text(json.dumps({"id": "E-1", "status": "weird"}))
    (d / "F-1.json").write_bytes(b"\xff\xfe")
    (d / "G-1.json").write_text(json.dumps({"id": "G-1", "status": ["pending"]}))
    (d / "H-1.json").write_text(json.dumps({"status": "pending"}))
    (d / "I-1.json").write_text(json.dumps({"id": "I-1", "blockedBy": "A-1"}))
    (d / "J-1.json").mkdir()
    os.mkfifo(d / "K-1.json")  # opening it must not hang the reader
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"id": "L-1"}))
    (d / "L-1.json").symlink_to(outside)
    (d / "bad name!.json").write_text("{}")
    (d / ".hidden.json").write_text("ignored")
    (d / ".A-1.json.x1y2.tmp").write_text("half a file")  # a crashed write's leftover
    (d / "notes.txt").write_text("not a task")
    tasks, issues = store.read_all()
    assert list(tasks) == ["A-1"]
    by_file = {i.path.rsplit("/", 1)[-1]: i for i in issues}
    assert by_file["B-1.json"].line == 2
    assert "not valid JSON" in by_file["B-1.json"].message
    assert "JSON object" in by_file["C-1.json"].message
    assert "does not match the file name" in by_file["D-1.json"].message
    assert "unknown status" in by_file["E-1.json"].message
    assert "UTF-8" in by_file["F-1.json"].message
    assert "unknown status" in by_file["G-1.json"].message
    assert "no id" in by_file["H-1.json"].message
    assert "blockedBy" in by_file["I-1.json"].message
    assert "regular file" in by_file["J-1.json"].message
    assert "regular file" in by_file["K-1.json"].message
    assert "symbolic link" in by_file["L-1.json"].message
    assert "not a valid task id" in by_file["bad name!.json"].message
    assert len(issues) == 12  # B-1 to L-1 and the bad name; dotfiles and .txt skipped
    assert all(i.path.startswith(str(d)) for i in issues)


def test_a_numeric_id_that_spells_the_file_name_is_accepted(store):
    store.directory.mkdir()
    store.path("7").write_text(json.dumps({"id": 7, "status": "completed"}))
    tasks, issues = store.read_all()
    assert issues == []
    assert tasks["7"].status is TaskStatus.COMPLETED


def test_read_raises_state_corrupt_with_the_line(store):
    store.directory.mkdir()
    store.path("A-1").write_text('{\n\n  "id": nope}')
    with pytest.raises(StateCorrupt) as caught:
        store.read("A-1")
    assert caught.value.path == f"{store.path('A-1')}:3"
    assert "not valid JSON" in caught.value.reason
    store.path("A-2").write_text("[]")
    with pytest.raises(StateCorrupt, match="JSON object"):
        store.read("A-2")


# ------------------------------------------------------------------ claims
def test_claim_is_compare_and_set(store):
    store.write(make_task("A-1", attempts=1, retry_at=iso(NOW - 1), last_error="boom"))
    claimed = store.claim("A-1", "w1", now=NOW)
    assert claimed.status is TaskStatus.IN_PROGRESS
    assert claimed.claimed_by == "w1"
    assert claimed.attempts == 2
    meta = store.read("A-1").metadata
    assert meta["updated_at"] == meta["started_at"] == iso(NOW)
    assert "retry_at" not in meta
    assert meta["last_error"] == "boom"  # the claim touches only what it owns
    assert store.claim("A-1", "w2", now=NOW) is None
    assert store.read("A-1").claimed_by == "w1"


@pytest.mark.parametrize(
    "status", [TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.DELETED]
)
def test_only_a_pending_task_can_be_claimed(store, status):
    store.write(make_task("A-1", status))
    before = store.path("A-1").read_bytes()
    assert store.claim("A-1", "w1", now=NOW) is None
    assert store.path("A-1").read_bytes() == before


def test_claim_of_a_missing_or_damaged_task_is_none(store):
    assert store.claim("A-1", "w1", now=NOW) is None
    store.path("A-1").write_text("{")
    assert store.claim("A-1", "w1", now=NOW) is None
    assert store.path("A-1").read_text() == "{"  # damage is reported elsewhere, not overwritten


def test_claim_decides_on_the_disk_not_on_a_stale_view(store):
    other = TaskStore(store.directory)
    store.write(make_task("A-1"))
    store.read("A-1")
    other.write(make_task("A-1", "completed"))
    assert store.claim("A-1", "w1", now=NOW) is None


def test_claim_next_takes_ready_tasks_in_numeric_order(store):
    for tid in ("A-10", "A-2", "A-1", "A-9"):
        store.write(make_task(tid))
    store.write(make_task("A-3", deps=["A-1"]))
    store.write(make_task("A-4", retry_at=iso(NOW + 60)))  # backing off
    store.write(make_task("B-1"))  # another role's
    order = [store.claim_next("a", {"a", "b"}, "w", now=NOW).id for _ in range(4)]
    assert order == ["A-1", "A-2", "A-9", "A-10"]
    assert store.claim_next("a", {"a", "b"}, "w", now=NOW) is None  # A-3 waits for A-1
    store.write(store.read("A-1").evolve(status="completed"))
    assert store.claim_next("a", {"a", "b"}, "w", now=NOW).id == "A-3"
    assert store.claim_next("a", {"a", "b"}, "w", now=NOW + 61).id == "A-4"


def test_claim_next_skips_damaged_files(store):
    store.write(make_task("A-2"))
    store.path("A-1").write_text("{")
    assert store.claim_next("a", {"a"}, "w", now=NOW).id == "A-2"


# ------------------------------------------------------------------ failure injection
def test_enospc_from_atomic_write_keeps_the_old_file_and_the_cache_honest(store, monkeypatch):
    store.write(make_task("A-1"))
    before = store.path("A-1").read_bytes()
    real_write = atomic.atomic_write
    calls = []

    def disk_full(path, data, **kwargs):
        calls.append(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "atomic_write", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.write(make_task("A-1", "completed"))
    assert calls == [store.path("A-1")]  # looked up at call time
    monkeypatch.setattr(atomic, "atomic_write", real_write)
    assert store.path("A-1").read_bytes() == before
    assert listing(store) == [".lock", "A-1.json"]
    # the failed write left no belief that the file changed: retrying writes it
    assert store.write(make_task("A-1", "completed"))
    assert store.read("A-1").status is TaskStatus.COMPLETED


def test_enospc_at_rename_leaves_the_old_file_and_no_temp_file(store, monkeypatch):
    store.write(make_task("A-1"))
    before = store.path("A-1").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.write(make_task("A-1", "completed"))
    with pytest.raises(OSError, match="No space"):
        store.claim("A-1", "w1", now=NOW)
    monkeypatch.undo()
    assert store.path("A-1").read_bytes() == before
    assert listing(store) == [".lock", "A-1.json"]
    assert store.claim("A-1", "w1", now=NOW) is not None  # the lock was released


def test_eio_while_syncing_data_leaves_the_old_file(store, monkeypatch):
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


def test_write_many_stops_at_the_failing_write_and_keeps_the_earlier_ones(store, monkeypatch):
    real_write = atomic.atomic_write

    def full_on_b(path, data, **kwargs):
        if path.name == "B-1.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data, **kwargs)

    monkeypatch.setattr(atomic, "atomic_write", full_on_b)
    with pytest.raises(OSError):
        store.write_many([make_task("A-1"), make_task("B-1"), make_task("C-1")])
    assert listing(store) == [".lock", "A-1.json"]


# ------------------------------------------------------------------ the lock
def test_lock_is_reentrant_and_released(store):
    with store.locked(), store.locked():
        store.write(make_task("A-1"))
        assert store.claim("A-1", "w1", now=NOW) is not None
    assert store.read("A-1") is not None
    # released: another object (another process, for flock) can take it at once
    with TaskStore(store.directory).locked():
        pass


def test_durable_off_still_writes_atomically(tmp_path):
    store = TaskStore(tmp_path / "tasks", durable=False)
    assert store.write_many([make_task("A-1"), make_task("A-2")]) == 2
    assert set(store.read_all()[0]) == {"A-1", "A-2"}
