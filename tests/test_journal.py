"""The executor's journal (storage/journal.py) and its replay decision (core/replay.py).

Real files in a temporary session; the boot id is injected, so a power cut
and the reboot after it are simulated by a journal whose header names
another boot and task files older than its lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sessionkit import journal_lines
from teamexec.core.model import Task
from teamexec.core.replay import replay_due, replay_plan
from teamexec.storage import journal as journal_mod
from teamexec.storage.journal import Journal, overlay_journal, parse, read, recover
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore


def _task(task_id: str, status: str = "pending", **meta: Any) -> Task:
    return Task({"id": task_id, "subject": task_id, "status": status, "metadata": dict(meta)})


def _session(tmp_path: Path) -> tuple[SessionPaths, TaskStore]:
    paths = SessionPaths(tmp_path / "s")
    paths.tasks.mkdir(parents=True)
    return paths, TaskStore(paths.tasks)


def _journaled_run(paths: SessionPaths, boot: str, *states: Task) -> Journal:
    """A store writing through a journal of ``boot``, as the executor's does; committed."""
    store = TaskStore(paths.tasks)
    journal = Journal(paths.journal, root=paths.root, boot=boot)
    store.journal = journal
    store.write_many(states)
    journal.commit()
    return journal


def _view(paths: SessionPaths, task_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(paths.task_file(task_id).read_text())
    return data


def test_a_commit_appends_every_queued_state_with_one_fdatasync(tmp_path, monkeypatch):
    paths, _store = _session(tmp_path)
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    journal = _journaled_run(paths, "boot-A", _task("A-001"), _task("A-002"), _task("A-003"))
    assert journal.commits == 1 and len(synced) == 1
    lines = [json.loads(x) for x in journal_lines(paths.journal)]
    assert lines[0]["journal"] == 1 and lines[0]["boot_id"] == "boot-A"
    assert [x["id"] for x in lines[1:]] == ["A-001", "A-002", "A-003"]
    assert lines[1]["task"] == _view(paths, "A-001")
    journal.commit()  # nothing queued: no write, no fdatasync
    assert len(synced) == 1


def test_journaled_views_are_renamed_at_once_but_never_fsynced(tmp_path, monkeypatch):
    paths, _store = _session(tmp_path)
    fsyncs: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd))
    store = TaskStore(paths.tasks)
    journal = Journal(paths.journal, root=paths.root, boot="b")
    store.journal = journal
    store.write_many([_task("A-001"), _task("A-002")])
    claimed = store.claim("A-001", "w-1", now=1000.0)
    assert claimed is not None
    assert _view(paths, "A-001")["status"] == "in_progress"  # readers see it before any commit
    assert fsyncs == []
    assert journal.pending


def test_a_torn_last_line_is_ignored(tmp_path):
    paths, _store = _session(tmp_path)
    _journaled_run(paths, "boot-A", _task("A-001", "in_progress"))
    with open(paths.journal, "ab") as handle:  # a power cut in the middle of the next append
        handle.write(b'{"id":"A-001","task":{"id":"A-001","status":"compl')
    tail = read(paths.journal)
    assert tail is not None
    assert tail.boot_id == "boot-A"
    assert tail.states["A-001"]["status"] == "in_progress"
    assert parse(b'{"journal":1,"boot_id":"x"}').boot_id is None  # no newline: torn header


def test_replay_after_another_boot_puts_back_the_committed_states(tmp_path):
    paths, store = _session(tmp_path)
    store.write(_task("A-001"))
    store.write(_task("A-002"))
    committed = [_task("A-001", "completed"), _task("A-002", "in_progress"), _task("A-003")]
    _journaled_run(paths, "boot-A", *committed).close()
    # the power cut: the views written after the last durable point are lost
    store.write(_task("A-001"))
    store.write(_task("A-002"))
    paths.task_file("A-003").unlink()
    paths.task_file("A-003").with_name("A-004.json").write_text("{torn")
    replayed = recover(
        Journal(paths.journal, root=paths.root, boot="boot-B"),
        TaskStore(paths.tasks),
        directories=(paths.tasks, paths.root),
    )
    assert sorted(replayed) == ["A-001", "A-002", "A-003"]
    assert _view(paths, "A-001")["status"] == "completed"
    assert _view(paths, "A-002")["status"] == "in_progress"
    assert _view(paths, "A-003")["status"] == "pending"
    assert paths.journal.stat().st_size == 0  # checkpointed


def test_same_boot_replays_nothing_and_checkpoints(tmp_path):
    paths, store = _session(tmp_path)
    _journaled_run(paths, "boot-A", _task("A-001", "in_progress")).close()
    store.write(_task("A-001", "failed"))  # newer than the journal: an executor crash, not a cut
    replayed = recover(
        Journal(paths.journal, root=paths.root, boot="boot-A"),
        TaskStore(paths.tasks),
        directories=(paths.tasks, paths.root),
    )
    assert replayed == {}
    assert _view(paths, "A-001")["status"] == "failed"
    assert paths.journal.stat().st_size == 0


def test_never_replay_a_state_that_is_not_completed_over_a_completed_view(tmp_path):
    paths, store = _session(tmp_path)
    _journaled_run(paths, "boot-A", _task("A-001", "in_progress"), _task("A-002", "pending"))
    store.write(_task("A-001", "completed"))  # an agent's completion, or an uncommitted one
    store.write(_task("A-002", "completed"))
    recover(
        Journal(paths.journal, root=paths.root, boot="boot-B"),
        TaskStore(paths.tasks),
        directories=(paths.tasks, paths.root),
    )
    assert _view(paths, "A-001")["status"] == "completed"
    assert _view(paths, "A-002")["status"] == "completed"


def test_replay_plan_decisions():
    views = {
        "A": _task("A", "completed"),
        "B": _task("B", "pending"),
        "C": _task("C", "in_progress"),
    }
    journaled = {
        "A": dict(_task("A", "failed").data),
        "B": dict(_task("B", "completed").data),
        "C": dict(_task("C", "in_progress").data),  # the view holds it already
        "D": dict(_task("D", "pending").data),  # the view was lost
    }
    plan = replay_plan(views, journaled)
    assert sorted(plan) == ["B", "D"]
    assert plan["B"].status.value == "completed"
    assert replay_due("a", "b") and replay_due(None, "b") and replay_due("a", "")
    assert not replay_due("a", "a")


def test_check_overlays_a_pending_replay_without_writing(tmp_path):
    paths, store = _session(tmp_path)
    _journaled_run(paths, "boot-A", _task("A-001", "completed"), _task("A-002", "in_progress"))
    store.write(_task("A-001"))
    paths.task_file("A-002").write_text("")  # damaged by the cut
    tasks, problems = store.read_all()
    assert [p.path for p in problems] == [str(paths.task_file("A-002"))]
    before = paths.journal.read_bytes()
    merged, left = overlay_journal(paths, tasks, problems, boot="boot-B")
    assert merged["A-001"].status.value == "completed"
    assert merged["A-002"].status.value == "in_progress"
    assert left == []
    same, same_problems = overlay_journal(paths, tasks, problems, boot="boot-A")
    assert same["A-001"].status.value == "pending" and same_problems == problems
    assert paths.journal.read_bytes() == before  # read-only
    assert _view(paths, "A-001")["status"] == "pending"


def test_boot_id_is_injectable_and_read_from_the_kernel(monkeypatch):
    assert journal_mod.boot_id({"TEAMEXEC_BOOT_ID": "fake"}) == "fake"
    real = journal_mod.boot_id({})
    if Path("/proc/sys/kernel/random/boot_id").exists():
        assert len(real) == 36


def test_a_failed_append_leaves_no_torn_line(tmp_path, monkeypatch):
    paths, _store = _session(tmp_path)
    journal = _journaled_run(paths, "boot-A", _task("A-001"))
    before = paths.journal.read_bytes()
    journal.record("A-002", _task("A-002").data)
    real_pwrite = os.pwrite
    failed: list[int] = []

    def half_then_full(fd: int, data: Any, offset: int) -> int:
        if fd == journal._fd and not failed and len(data) > 10:  # the line, not the undo
            failed.append(real_pwrite(fd, bytes(data[:10]), offset))
            raise OSError(28, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", half_then_full)
    with pytest.raises(OSError, match="No space"):
        journal.commit()
    assert failed and paths.journal.read_bytes() == before  # the fragment went back to zeros
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    journal.commit()  # the queued line is kept for the next try
    tail = read(paths.journal)
    assert tail is not None and sorted(tail.states) == ["A-001", "A-002"]


def test_the_journal_is_preallocated_so_a_commit_writes_no_inode(tmp_path):
    """Lines are written over zeros allocated ahead: the file's size changes once
    per megabyte, not at each commit, so fdatasync writes data only."""
    paths, _store = _session(tmp_path)
    journal = _journaled_run(paths, "boot-A", _task("A-001"))
    size = paths.journal.stat().st_size
    assert size == journal_mod.PREALLOCATE_BYTES
    for n in range(2, 30):
        journal.record(f"A-{n:03d}", _task(f"A-{n:03d}").data)
        journal.commit()
    assert paths.journal.stat().st_size == size
    assert journal.size == len(b"\n".join(journal_lines(paths.journal))) + 1
    later = Journal(paths.journal, root=paths.root, boot="boot-A")  # reopened: the end found
    later.record("A-099", _task("A-099").data)
    later.commit()
    tail = read(paths.journal)
    assert tail is not None and len(tail.states) == 30


def test_a_line_written_after_a_torn_tail_starts_on_a_line_of_its_own(tmp_path):
    """A journal left torn by a crash mid-write keeps every later line readable."""
    paths, _store = _session(tmp_path)
    journal = _journaled_run(paths, "boot-A", _task("A-001"))
    with open(paths.journal, "ab") as handle:
        handle.write(b'{"id":"A-009","task":{"id":"A-0')  # the crash's fragment
    later = Journal(paths.journal, root=paths.root, boot="boot-A")
    later.record("A-002", _task("A-002").data)
    later.commit()
    tail = read(paths.journal)
    assert tail is not None and sorted(tail.states) == ["A-001", "A-002"]
    assert journal.commits == 1
