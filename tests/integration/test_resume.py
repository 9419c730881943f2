"""Crash safety: the executor SIGKILLed at random instants, then `resume`.

Every task's work must run exactly once and every completion be recorded.
Workers outlive the executor (own session) and report through the inbox;
resume adopts live ones and applies what arrived meanwhile.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from sessionkit import runs, start_teamexec, tasks, teamexec, wait_for, write_session


def layered(layers: int, width: int) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for layer in range(layers):
        for i in range(width):
            tid = f"L{layer}-{i:03d}"
            if layer == 0:
                graph[tid] = []
            else:
                graph[tid] = sorted(
                    {f"L{layer - 1}-{i:03d}", f"L{layer - 1}-{(i + 1) % width:03d}"}
                )
    return graph


def test_resume_after_sigkill_runs_every_task_exactly_once(tmp_path):
    graph = layered(4, 4)  # 16 tasks, four roles
    behaviour = {t: {"sleep": 0.05 + (i % 3) * 0.03} for i, t in enumerate(graph)}
    root = write_session(
        tmp_path / "s", graph, behaviour=behaviour, executor={"orphan_after_s": 1, "max_workers": 3}
    )
    rng = random.Random(7)
    for _cycle in range(6):
        proc = start_teamexec("resume", str(root))
        time.sleep(rng.uniform(0.05, 0.6))  # the instant of the crash is the point of this test
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    final = teamexec("resume", str(root), timeout=120)
    assert final.returncode == 0, final.stdout + final.stderr
    state = tasks(root)
    assert {t["status"] for t in state.values()} == {"completed"}
    for task_id in graph:
        assert len(runs(root, task_id)) == 1, (task_id, runs(root, task_id))
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(graph)


def test_resume_adopts_a_live_worker_and_applies_its_late_callback(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    check = teamexec("check", str(root))
    assert "alive" in check.stdout
    (root / "go").write_text("")  # the worker finishes while no executor runs
    wait_for(lambda: list((root / ".msg" / "inbox").glob("*.json")), what="callback")
    result = teamexec("resume", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(runs(root, "A-001")) == 1
    assert tasks(root)["B-001"]["status"] == "completed"


def test_detach_leaves_workers_for_resume(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root), "--detach")
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 130
    session = json.loads((root / "team-session.json").read_text())
    assert len(session["active_workers"]) == 1
    (root / "go").write_text("")
    result = teamexec("resume", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(runs(root, "A-001")) == 1


def test_dry_run_writes_nothing(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = teamexec("run", str(root), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert [s["task_id"] for s in view["spawn"]] == ["A-001"]
    assert sorted(a["task_id"] for a in view["actions"]) == ["A-001", "B-001"]
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_reset_downstream(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"], "C-001": []})
    assert teamexec("run", str(root)).returncode == 0
    result = teamexec("reset", str(root), "A-001", "--downstream")
    assert result.returncode == 0, result.stderr
    state = tasks(root)
    assert state["A-001"]["status"] == "pending"
    assert state["B-001"]["status"] == "pending"
    assert state["C-001"]["status"] == "completed"
    session = json.loads((root / "team-session.json").read_text())
    assert session["completed_tasks"] == ["C-001"]


def test_a_damaged_task_file_stops_resume_before_any_write(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    assert teamexec("run", str(root)).returncode == 0
    teamexec("reset", str(root), "B-001")
    (root / "tasks" / "A-001.json").write_text('{"id": "A-001",\n "status": ')
    before = (root / "team-session.json").read_bytes()
    result = teamexec("resume", str(root))
    assert result.returncode == 1
    assert "A-001.json:2: not valid JSON" in result.stderr
    assert (root / "tasks" / "A-001.json").read_text() == '{"id": "A-001",\n "status": '
    assert (root / "team-session.json").read_bytes() == before


@pytest.mark.slow
def test_resume_after_30_random_sigkills_under_cpu_contention_runs_200_tasks_once(tmp_path):
    """The larger random test (issue 11): crashes land at instants no named point covers.

    Two busy processes compete for the CPU (the 2-core CI box), so the
    executor is slow at every step and SIGKILLs fall between its writes.
    ``orphan_after_s`` is 300: no resume may wait for the orphan timer.
    """
    graph = layered(8, 25)  # 200 tasks, eight roles
    root = write_session(tmp_path / "s", graph, executor={"orphan_after_s": 300, "max_workers": 4})
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    rng = random.Random(11)
    try:
        for _cycle in range(30):
            proc = start_teamexec("resume", str(root))
            time.sleep(rng.uniform(0.2, 1.2))  # the instant of the crash is the point
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        started = time.monotonic()
        final = teamexec("resume", str(root), timeout=150)
        took = time.monotonic() - started
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr
    assert "orphaned (in progress" not in final.stdout  # nothing waited for the timer
    state = tasks(root)
    assert {t["status"] for t in state.values()} == {"completed"}
    twice = {t: runs(root, t) for t in graph if len(runs(root, t)) != 1}
    assert not twice, twice
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(graph)
    print(f"final resume took {took:.1f} s")
