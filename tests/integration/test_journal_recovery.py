"""The journal's guarantees with real runs (issue 15, storage/journal.py).

A power cut is simulated without a reboot: the executor is SIGKILLed at a
named crash point while ``TEAMEXEC_BOOT_ID`` says boot A; then everything
that was never made durable is thrown away — every task file (written
through, never fsynced), messages.jsonl (no longer fsynced) and
team-session.json's writes since the run began — and ``resume`` runs with
boot B.  Only the journal's committed lines can then say which tasks were
claimed and completed: every task must still run exactly once.
"""

from __future__ import annotations

import json
import shutil
import signal

import psutil
import pytest

from sessionkit import (
    CRASH_GRAPH,
    crash_session,
    journal_lines,
    runs,
    start_teamexec,
    tasks,
    teamexec,
    wait_for,
)
from teamexec.executor.engine import Engine, RunOptions
from teamexec.storage.loader import load_session
from teamexec.storage.paths import SessionPaths

GRAPH = CRASH_GRAPH


def _power_cut(root, session_before: bytes) -> None:
    """Lose what only the page cache held: the views, the message log, the session's rewrites."""
    shutil.rmtree(root / "tasks")
    (root / ".msg" / "messages.jsonl").unlink(missing_ok=True)
    (root / "team-session.json").write_bytes(session_before)


def _crash(root, point: str, boot: str = "boot-A") -> None:
    proc = start_teamexec(
        "run", str(root), env={"TEAMEXEC_CRASH_AT": point, "TEAMEXEC_BOOT_ID": boot}
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    # the workers outlive the executor: let them report, so nothing changes behind the test
    wait_for(lambda: not _workers_of(root), timeout=30, what="the orphaned workers to finish")


def _workers_of(root) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("TEAMEXEC_SESSION") == str(root.resolve()):
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.mark.parametrize("point", ["committed:3", "committed:5", "message:3", "claim:4"])
def test_after_a_power_cut_the_journal_replays_and_every_task_runs_once(tmp_path, point):
    root = crash_session(tmp_path)
    before = (root / "team-session.json").read_bytes()
    _crash(root, point)
    journal = (root / ".teamexec.journal").read_bytes()
    assert journal.startswith(b'{"journal":1,"boot_id":"boot-A"')
    _power_cut(root, before)
    result = teamexec("resume", str(root), env={"TEAMEXEC_BOOT_ID": "boot-B"}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    state = tasks(root)
    assert {t: s["status"] for t, s in state.items()} == dict.fromkeys(GRAPH, "completed")
    for task_id in GRAPH:
        assert len(runs(root, task_id)) == 1, (point, task_id, runs(root, task_id))
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(GRAPH)
    assert (root / ".teamexec.journal").read_bytes() == b""  # checkpointed at the end


def test_without_the_replay_the_same_cut_would_run_tasks_twice(tmp_path):
    """The control for the test above: the simulated cut does lose completions."""
    root = crash_session(tmp_path)
    before = (root / "team-session.json").read_bytes()
    _crash(root, "committed:5")
    _power_cut(root, before)
    (root / ".teamexec.journal").write_bytes(b"")  # as if the journal had been lost too
    result = teamexec("resume", str(root), env={"TEAMEXEC_BOOT_ID": "boot-B"}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(len(runs(root, t)) > 1 for t in GRAPH)


def test_check_is_exact_while_a_replay_is_pending_and_writes_nothing(tmp_path):
    root = crash_session(tmp_path)
    before = (root / "team-session.json").read_bytes()
    _crash(root, "committed:5")
    journal = (root / ".teamexec.journal").read_bytes()
    committed = {}
    for line in journal.split(b"\0", 1)[0].splitlines()[1:]:  # preallocated: zeros follow
        record = json.loads(line)
        committed[record["id"]] = record["task"]["status"]
    assert "completed" in committed.values()
    _power_cut(root, before)
    result = teamexec("check", str(root), "--json", env={"TEAMEXEC_BOOT_ID": "boot-B"})
    assert result.returncode == 0, result.stdout + result.stderr
    view = json.loads(result.stdout)
    shown = {t["id"]: t["status"] for t in view["tasks"]}
    for task_id, status in committed.items():
        assert shown[task_id] == status, (task_id, shown[task_id], status)
    assert (root / ".teamexec.journal").read_bytes() == journal  # lock-free, read-only
    assert not (root / "tasks").exists()


def test_a_run_leaves_the_journal_checkpointed(tmp_path):
    root = crash_session(tmp_path)
    result = teamexec("run", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / ".teamexec.journal").read_bytes() == b""


def _files(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_reconciling_a_reconciled_session_changes_nothing_byte_for_byte(tmp_path):
    root = crash_session(tmp_path)
    before = (root / "team-session.json").read_bytes()
    _crash(root, "committed:5")
    _power_cut(root, before)
    paths = SessionPaths(root)
    from teamexec.cli.commands import recover_journal

    def reconcile_once() -> None:
        recover_journal(paths, load_session(root), {"TEAMEXEC_BOOT_ID": "boot-B"})
        options = RunOptions(env={"TEAMEXEC_BOOT_ID": "boot-B", "PATH": "/usr/bin:/bin"})
        engine = Engine(
            paths=paths, session=load_session(root), options=options, emit=lambda _e: None
        )
        now = engine.host.time()
        engine.apply_reconciliation(engine.plan(now), now)
        engine.store.flush_views()  # reconcile's views, which its writer thread writes
        engine.journal.close()

    reconcile_once()
    first = _files(root)
    assert first[".teamexec.journal"] != b""  # the reconciliation was committed
    reconcile_once()  # the journal from the same boot B: no replay, only a checkpoint
    second = _files(root)
    assert second.pop(".teamexec.journal") == b""
    first.pop(".teamexec.journal")
    assert second == first


def test_a_reset_after_a_power_cut_replays_first_and_is_never_undone(tmp_path):
    root = crash_session(tmp_path)
    before = (root / "team-session.json").read_bytes()
    _crash(root, "committed:5")
    committed = {}
    for line in journal_lines(root / ".teamexec.journal")[1:]:
        record = json.loads(line)
        committed[record["id"]] = record["task"]["status"]
    done = sorted(t for t, s in committed.items() if s == "completed")
    assert done, committed
    _power_cut(root, before)
    boot_b = {"TEAMEXEC_BOOT_ID": "boot-B"}
    result = teamexec("reset", str(root), done[0], env=boot_b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / ".teamexec.journal").read_bytes() == b""  # replayed, then checkpointed
    state = tasks(root)
    assert state[done[0]]["status"] == "pending"  # the reset, not the journal's completion
    for task_id in done[1:]:
        assert state[task_id]["status"] == "completed"  # the replay
    result = teamexec("resume", str(root), env=boot_b, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(runs(root, done[0])) == 2  # once before the cut, once after the reset
    for task_id in GRAPH:
        if task_id != done[0]:
            assert len(runs(root, task_id)) == 1, (task_id, runs(root, task_id))
