"""`teamexec run` end to end: real CLI, real worker processes, scripted agents."""

from __future__ import annotations

import json
import signal

import pytest

from sessionkit import runs, start_teamexec, tasks, teamexec, wait_for, write_session
from teamexec.validation.schema import schema_errors

DIAMOND = {
    "PLAN-001": [],
    "BUILD-001": ["PLAN-001"],
    "BUILD-002": ["PLAN-001"],
    "BUILD-003": ["PLAN-001"],
    "CHECK-001": ["BUILD-001", "BUILD-002", "BUILD-003"],
}


def test_diamond_runs_to_completion_once_each(tmp_path):
    root = write_session(tmp_path / "s", DIAMOND)
    result = teamexec("run", str(root))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "TASK COMPLETE" in result.stdout
    assert "[executor] spawned plan for PLAN-001" in result.stdout
    state = tasks(root)
    assert {t["status"] for t in state.values()} == {"completed"}
    for task_id in DIAMOND:
        assert len(runs(root, task_id)) == 1, task_id
        assert (root / "logs" / f"{task_id}.1.log").exists()
    session = json.loads((root / "team-session.json").read_text())
    assert session["status"] == "paused"  # auto_keep
    assert sorted(session["completed_tasks"]) == sorted(DIAMOND)
    assert session["pipeline"]["tasks_completed"] == 5
    assert session["active_workers"] == []
    report = json.loads((root / "report.json").read_text())
    assert report["status"] == "completed"
    assert report["counts"]["completed"] == 5
    assert all(row["attempts"] == 1 for row in report["tasks"])
    assert schema_errors("report", report) == []
    log = (root / ".msg" / "messages.jsonl").read_text().splitlines()
    assert json.loads(log[0])["id"] == "MSG-001"
    assert not list((root / ".msg" / "inbox").iterdir())


def test_json_summary(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    result = teamexec("run", str(root), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert summary["completion_action"] == "keep"


def test_wide_dag_respects_max_workers(tmp_path):
    graph = {f"W-{i:03d}": [] for i in range(12)}
    root = write_session(tmp_path / "s", graph, behaviour={t: {"sleep": 0.05} for t in graph})
    result = teamexec("run", str(root), "--max-workers", "3")
    assert result.returncode == 0, result.stderr
    peak, running = 0, 0
    for line in result.stdout.splitlines():
        if "spawned" in line:
            running += 1
        elif " complete" in line and line.startswith("[w]"):
            running -= 1
        peak = max(peak, running)
    assert peak == 3


def test_inner_loop_role_keeps_one_worker(tmp_path):
    graph = {"S-001": [], "S-002": [], "S-003": ["S-001"]}
    root = write_session(tmp_path / "s", graph, specs={"s": {"inner_loop": True}})
    result = teamexec("run", str(root))
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.count("[executor] spawned s for") == 1
    assert result.stdout.count("] took S-") == 2
    for task_id in graph:
        assert len(runs(root, task_id)) == 1


def test_failed_task_stops_its_dependents_and_exits_1(tmp_path):
    graph = {"A-001": [], "B-001": ["A-001"], "C-001": []}
    behaviour = {"A-001": {"fail_times": 99, "fail_message": "boom"}}
    root = write_session(
        tmp_path / "s", graph, behaviour=behaviour, specs={"a": {"max_retries": 1}}
    )
    result = teamexec("run", str(root), "--backoff-scale", "0.01")
    assert result.returncode == 1
    state = tasks(root)
    assert state["A-001"]["status"] == "failed"
    assert state["A-001"]["metadata"]["attempts"] == 2
    assert state["B-001"]["status"] == "pending"
    assert state["C-001"]["status"] == "completed"
    assert runs(root, "B-001") == []
    assert "A-001: failed after 2 attempt(s)" in result.stdout
    assert "[executor]     | boom" in result.stdout  # the last error lines
    assert "blocked by failed task A-001" in result.stdout
    assert "boom" in json.dumps(state["A-001"]["metadata"]["last_error"])


def test_transient_failure_is_retried_then_succeeds(tmp_path):
    behaviour = {"A-001": {"fail_times": 1, "fail_message": "rate limit exceeded"}}
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour=behaviour)
    result = teamexec("run", str(root), "--backoff-scale", "0.01")
    assert result.returncode == 0, result.stdout
    assert len(runs(root, "A-001")) == 2
    assert tasks(root)["A-001"]["metadata"]["attempts"] == 2


def test_sigint_stops_workers_and_pauses(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "never"}})
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    state = tasks(root)
    assert state["A-001"]["status"] == "pending"
    session = json.loads((root / "team-session.json").read_text())
    assert session["status"] == "paused"
    assert session["active_workers"] == []


def test_second_executor_exits_3_naming_the_holder(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root))
    try:
        wait_for(lambda: runs(root, "A-001"), what="agent start")
        second = teamexec("run", str(root))
        assert second.returncode == 3
        assert f"pid {proc.pid}" in second.stderr
        check = teamexec("check", str(root))
        assert check.returncode == 0
        assert "▶ A-001" in check.stdout
    finally:
        (root / "go").write_text("")
        proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize("action", ["archive", "export"])
def test_completion_actions(tmp_path, action):
    root = write_session(tmp_path / "s", {"A-001": []})
    target = tmp_path / "out"
    result = teamexec("run", str(root), "--completion", action, "--export-to", str(target))
    assert result.returncode == 0, result.stderr
    session = json.loads((root / "team-session.json").read_text())
    assert session["status"] == "completed"
    assert "archived_at" in session
    if action == "export":
        assert (target / "a-001.md").exists()


def test_export_refuses_to_overwrite_without_force(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = teamexec("run", str(root), "--completion", "export", "--export-to", str(target))
    assert result.returncode == 0
    assert "not empty" in result.stdout
    assert json.loads((root / "team-session.json").read_text())["status"] == "paused"
    assert not (target / "a-001.md").exists()


def test_lean_shell_worker_runs_the_same_pipeline(tmp_path):
    behaviour = {"BUILD-002": {"fail_times": 1, "fail_message": "rate limit hit"}}
    root = write_session(tmp_path / "s", DIAMOND, behaviour=behaviour, executor={"worker": "sh"})
    result = teamexec("run", str(root), "--backoff-scale", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id in DIAMOND:
        assert len(runs(root, task_id)) == (2 if task_id == "BUILD-002" else 1)
    error = tasks(root)["BUILD-002"]["metadata"]["last_error"]
    assert error["kind"] == "transient"
    assert "rate limit hit" in error["log_tail"]  # the executor added the lean worker's log tail
    prompt = next((root / "runs").glob("CHECK-001.1.*")).read_text()
    assert prompt.startswith("## Role Assignment")


def test_progress_messages_keep_meta_current_and_poll_mode_works(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"progress": 50}})
    result = teamexec("run", str(root), "--poll")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[a] A-001 50% halfway" in result.stdout
    meta = json.loads((root / ".msg" / "meta.json").read_text())
    assert meta["executor"]["roles"]["a"]["progress_pct"] == 50
    assert meta["executor"]["roles"]["a"]["phase"] == "Phase 3"
    assert schema_errors("meta", meta) == []
    log = [json.loads(line) for line in (root / ".msg" / "messages.jsonl").read_text().splitlines()]
    assert [m["type"] for m in log] == ["progress", "task_complete"]
    assert [m["id"] for m in log] == ["MSG-001", "MSG-002"]


def test_worker_that_exits_without_reporting_is_a_crash(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": []}, specs={"a": {"worker": ["true"], "max_retries": 1}}
    )
    result = teamexec("run", str(root), "--backoff-scale", "0")
    assert result.returncode == 1
    error = tasks(root)["A-001"]["metadata"]["last_error"]
    assert error["kind"] == "crashed"
    assert "without reporting" in error["reason"]
    assert "A-001: failed after 2 attempt(s)" in result.stdout


def test_task_list_option_uses_another_directory(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    other = tmp_path / "claude-tasks"
    result = teamexec("run", str(root), "--task-list", str(other))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in other.glob("*.json")) == ["A-001.json", "B-001.json"]
    assert not (root / "tasks").exists()
    check = teamexec("check", str(root), "--task-list", str(other))
    assert "Progress: 2/2 (100%)" in check.stdout


def test_reset_refuses_while_an_executor_runs(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root))
    try:
        wait_for(lambda: runs(root, "A-001"), what="agent start")
        result = teamexec("reset", str(root), "A-001")
        assert result.returncode == 3
        assert "locked by pid" in result.stderr
    finally:
        (root / "go").write_text("")
        proc.communicate(timeout=30)
