"""Task views that lag the journal (issue 15): storage/store.py ``lag``, the replay
of lagging states on the same boot (core/replay.py, storage/journal.py) and the
lock-free read that overlays them (``read_tasks``).

Real files in a temporary session.  The executor's store journals a lagging
task's state at once and writes its view later (``flush_views``); everything
that reads through the store, the journal or ``check`` must see the journaled
state, and a crash before the flush must lose nothing.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from sessionkit import journal_lines
from teamexec.core.model import Task
from teamexec.core.replay import replay_plan
from teamexec.storage import journal as journal_mod
from teamexec.storage.journal import Journal, parse, read_tasks, recover
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore

BOOT = "boot-A"


def _task(task_id: str, status: str = "pending", *, at: str = "", **meta: Any) -> Task:
    if at:
        meta["updated_at"] = at
    return Task(
        {"id": task_id, "subject": task_id, "status": status, "owner": "a", "metadata": meta}
    )


def _executor_store(tmp_path: Path, *lagging: str) -> tuple[SessionPaths, TaskStore, Journal]:
    """A store as the executor sets it up: journaled, the named tasks' views lagging."""
    paths = SessionPaths(tmp_path / "s")
    paths.tasks.mkdir(parents=True)
    store = TaskStore(paths.tasks)
    journal = Journal(paths.journal, root=paths.root, boot=BOOT)
    store.journal = journal
    store.lag = lambda task_id: task_id in lagging
    return paths, store, journal


def _view(paths: SessionPaths, task_id: str) -> dict[str, Any] | None:
    path = paths.task_file(task_id)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_a_lagging_state_is_journaled_at_once_and_its_view_written_by_the_flush(tmp_path):
    paths, store, journal = _executor_store(tmp_path, "A-001")
    store.write(_task("A-001"))
    store.write(_task("A-001", "in_progress", claimed_by="w1"))
    assert _view(paths, "A-001") is None and store.owed == 1
    journal.commit()
    lines = [json.loads(x) for x in journal_lines(paths.journal)[1:]]
    assert [(x["id"], x["task"]["status"], x.get("lag")) for x in lines] == [
        ("A-001", "pending", True),
        ("A-001", "in_progress", True),
    ]
    task = store.read("A-001")  # the store reads what it owes
    assert task is not None and task.status.value == "in_progress"
    assert store.flush_views() == 1 and store.owed == 0
    view = _view(paths, "A-001")
    assert view is not None and view["metadata"]["claimed_by"] == "w1"
    assert store.flush_views() == 0


def test_a_task_whose_view_must_not_lag_is_written_through(tmp_path):
    paths, store, journal = _executor_store(tmp_path, "A-001")
    store.write(_task("B-001", "in_progress", claimed_by="w2"))
    assert store.owed == 0
    view = _view(paths, "B-001")
    assert view is not None and view["status"] == "in_progress"
    journal.commit()
    line = json.loads(journal_lines(paths.journal)[1])
    assert line["id"] == "B-001" and "lag" not in line


def test_a_claim_takes_the_owed_state_as_the_current_one(tmp_path):
    paths, store, _journal = _executor_store(tmp_path, "A-001")
    store.write(_task("A-001", "in_progress", claimed_by="w1"))
    store.flush_views()
    store.write(_task("A-001", "pending", retry_at=None))  # a retry: pending, view not written
    claimed = store.claim("A-001", "w2", now=1000.0)
    assert claimed is not None and claimed.claimed_by == "w2" and claimed.attempts == 1
    view = _view(paths, "A-001")
    assert view is not None and view["metadata"]["claimed_by"] == "w1"  # still lagging
    assert store.claim("A-001", "w3", now=1001.0) is None  # the owed claim holds it


def test_someone_elses_write_wins_over_an_owed_view(tmp_path):
    paths, store, _journal = _executor_store(tmp_path, "A-001")
    store.write(_task("A-001"))
    store.flush_views()
    store.write(_task("A-001", "in_progress", claimed_by="w1"))
    # a hand edit (another process) lands while the executor still owes its view
    edited = _task("A-001", "completed", by="hand")
    paths.task_file("A-001").write_text(json.dumps(edited.data))
    task = store.read("A-001")
    assert task is not None and task.status.value == "completed" and store.owed == 0


def test_a_failed_flush_keeps_what_it_did_not_write(tmp_path, monkeypatch):
    paths, store, _journal = _executor_store(tmp_path, "A-001", "A-002")
    store.write(_task("A-001", "completed"))
    store.write(_task("A-002", "completed"))
    from teamexec.storage import atomic

    real = atomic.atomic_write
    calls: list[Path] = []

    def full(path: Path, data: bytes, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data, **kwargs)

    monkeypatch.setattr(atomic, "atomic_write", full)
    with pytest.raises(OSError):
        store.flush_views()
    assert store.owed == 1 and _view(paths, "A-001") is not None
    monkeypatch.setattr(atomic, "atomic_write", real)
    assert store.flush_views() == 1 and _view(paths, "A-002") is not None


def test_the_journal_knows_which_last_states_lag(tmp_path):
    raw = b"\n".join(
        [
            b'{"journal":1,"boot_id":"boot-A"}',
            b'{"id":"A-001","task":{"id":"A-001","status":"pending"},"lag":true}',
            b'{"id":"A-002","task":{"id":"A-002","status":"pending"},"lag":true}',
            b'{"id":"A-002","task":{"id":"A-002","status":"in_progress"}}',
            b"",
        ]
    )
    tail = parse(raw)
    assert tail.lagging == frozenset({"A-001"})
    assert tail.states["A-002"]["status"] == "in_progress"


def test_a_crash_before_the_flush_replays_the_lagging_states_on_the_same_boot(tmp_path):
    paths, store, journal = _executor_store(tmp_path, "A-001", "A-002")
    store.write(_task("A-001", at="2026-11-26T10:00:00.000Z"))
    store.write(_task("A-002", at="2026-11-26T10:00:00.000Z"))
    store.write(_task("C-001", at="2026-11-26T10:00:00.000Z"))  # written through
    store.flush_views()
    store.write(_task("A-001", "completed", at="2026-11-26T10:00:01.000Z"))
    store.write(_task("A-002", "in_progress", at="2026-11-26T10:00:01.000Z", claimed_by="w"))
    store.write(_task("C-001", "in_progress", at="2026-11-26T10:00:01.000Z", claimed_by="v"))
    journal.commit()
    journal.close()  # SIGKILL: the owed views are never written
    # an inner-loop worker finished C-001 after the crash, through its own store
    TaskStore(paths.tasks).write(_task("C-001", "completed", at="2026-11-26T10:00:02.000Z"))
    fresh = Journal(paths.journal, root=paths.root, boot=BOOT)
    replayed = recover(fresh, TaskStore(paths.tasks), directories=(paths.tasks,))
    assert sorted(replayed) == ["A-001", "A-002"]  # written-through views are not replayed
    statuses = {t: (_view(paths, t) or {}).get("status") for t in ("A-001", "A-002", "C-001")}
    assert statuses == {"A-001": "completed", "A-002": "in_progress", "C-001": "completed"}
    assert paths.journal.read_bytes() == b""


def test_replay_never_goes_over_a_view_stamped_later():
    state = {
        "id": "A-001",
        "status": "in_progress",
        "metadata": {"updated_at": "2026-11-26T10:00:01.000Z"},
    }
    later = Task(
        {"id": "A-001", "status": "pending", "metadata": {"updated_at": "2026-11-26T10:00:02.000Z"}}
    )
    older = Task(
        {"id": "A-001", "status": "pending", "metadata": {"updated_at": "2026-11-26T10:00:00.000Z"}}
    )
    assert replay_plan({"A-001": later}, {"A-001": state}) == {}
    assert set(replay_plan({"A-001": older}, {"A-001": state})) == {"A-001"}
    assert replay_plan({"A-001": older}, {"A-001": state}, only=()) == {}
    assert set(replay_plan({}, {"A-001": state}, only={"A-001"})) == {"A-001"}  # no view yet


def test_check_reads_the_views_overlaid_with_the_lagging_states(tmp_path):
    paths, store, journal = _executor_store(tmp_path, "A-001")
    store.write(_task("A-001"))
    store.flush_views()
    store.write(_task("A-001", "completed", at="2026-11-26T10:00:01.000Z"))
    journal.commit()
    tasks, problems = read_tasks(TaskStore(paths.tasks), paths)
    assert not problems and tasks["A-001"].status.value == "completed"
    assert (_view(paths, "A-001") or {})["status"] == "pending"  # read-only


def test_check_reads_again_when_a_checkpoint_comes_between_views_and_journal(tmp_path, monkeypatch):
    """The views read before the flush, the journal read after its truncation: the
    journal's new generation shows it, and the second read sees the flushed views."""
    paths, store, journal = _executor_store(tmp_path, "A-001")
    store.write(_task("A-001"))
    store.flush_views()
    store.write(_task("A-001", "completed", at="2026-11-26T10:00:01.000Z"))
    journal.commit()
    reader = TaskStore(paths.tasks)
    real_read_all = reader.read_all
    reads: list[int] = []

    def read_all_then_checkpoint() -> Any:
        result = real_read_all()
        reads.append(1)
        if len(reads) == 1:  # the executor checkpoints right after this read
            store.flush_views()
            journal.checkpoint((paths.tasks,))
        return result

    monkeypatch.setattr(reader, "read_all", read_all_then_checkpoint)
    tasks, _problems = read_tasks(reader, paths)
    assert len(reads) == 2 and tasks["A-001"].status.value == "completed"


def test_generation_changes_with_a_checkpoint(tmp_path):
    paths, store, journal = _executor_store(tmp_path, "A-001")
    assert journal_mod.generation(paths.journal) == (0, b"")
    store.write(_task("A-001"))
    journal.commit()
    size, header = journal_mod.generation(paths.journal)
    assert size == os.path.getsize(paths.journal) and header.startswith(b'{"journal":1')
    journal.checkpoint((paths.tasks,))
    assert journal_mod.generation(paths.journal)[0] == 0


def test_the_view_writer_thread_writes_what_is_owed_and_the_checkpoint_waits(tmp_path):
    paths, store, _journal = _executor_store(tmp_path, "A-001", "A-002")
    store.background_views()
    store.write(_task("A-001", "completed"))
    store.write(_task("A-002", "in_progress", claimed_by="w"))
    assert store.flush_views(wait=False) == 2  # handed over, returns at once
    store.flush_views()  # waits for the thread, then writes what is left
    assert store.owed == 0
    assert (_view(paths, "A-001") or {})["status"] == "completed"
    assert (_view(paths, "A-002") or {})["status"] == "in_progress"
    assert not [p for p in paths.tasks.iterdir() if p.name.endswith(".tmp")]


def test_the_view_writer_never_writes_a_state_superseded_meanwhile(tmp_path, monkeypatch):
    """The loop journals a newer state while the thread prepares the older one: the
    older is not renamed into place, the newer stays owed for the next flush."""
    paths, store, _journal = _executor_store(tmp_path, "A-001")
    store.background_views()
    store.write(_task("A-001", "in_progress", claimed_by="w"))
    from teamexec.storage import atomic

    real_prepare = atomic.prepare
    prepared, superseded = threading.Event(), threading.Event()

    def prepare_then_wait(path: Path, data: bytes, **kwargs: Any) -> str:
        name = real_prepare(path, data, **kwargs)
        prepared.set()  # the writer's thread, between its temporary file and the rename
        assert superseded.wait(10)
        return name

    monkeypatch.setattr(atomic, "prepare", prepare_then_wait)
    store.flush_views(wait=False)
    assert prepared.wait(10)
    store.write(_task("A-001", "completed"))  # the loop, meanwhile: journal only, no lock
    superseded.set()
    store._writer.drain()  # type: ignore[union-attr]
    monkeypatch.setattr(atomic, "prepare", real_prepare)
    assert _view(paths, "A-001") is None and store.owed == 1
    task = store.read("A-001")
    assert task is not None and task.status.value == "completed"
    assert not [p for p in paths.tasks.iterdir() if p.name.endswith(".tmp")]
    store.flush_views()
    assert (_view(paths, "A-001") or {})["status"] == "completed"


def test_a_failing_view_writer_is_raised_to_the_loop_and_loses_nothing(tmp_path, monkeypatch):
    paths, store, _journal = _executor_store(tmp_path, "A-001")
    store.background_views()
    store.write(_task("A-001", "completed"))
    from teamexec.storage import atomic

    real_prepare = atomic.prepare

    def disk_full(path: Path, data: bytes, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "prepare", disk_full)
    store.flush_views(wait=False)
    with pytest.raises(OSError, match="No space"):
        store._writer.drain()  # type: ignore[union-attr]
    assert store.owed == 1  # still owed: the checkpoint writes it, or the journal keeps it
    monkeypatch.setattr(atomic, "prepare", real_prepare)
    assert store.flush_views() == 1
    assert (_view(paths, "A-001") or {})["status"] == "completed"
