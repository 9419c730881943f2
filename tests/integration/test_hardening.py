"""Agents that hang, fail and misbehave; people who edit files mid-run."""

from __future__ import annotations

import json
import os

from sessionkit import runs, start_teamexec, tasks, teamexec, wait_for, write_session


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_timeout_kills_the_process_group_and_retries(tmp_path):
    """The real wiring of a timeout (killpg on a real group); the decisions, stalls and
    SIGTERM->SIGKILL are tested in-process with a FakeHost (tests/test_runner.py)."""
    behaviour = {"A-001": {"fail_times": 0, "sleep": 0}}
    root = write_session(
        tmp_path / "s",
        {"A-001": []},
        behaviour=behaviour,
        specs={"a": {"timeout_s": 1, "max_retries": 0}},
    )
    (root / "behaviour.json").write_text(json.dumps({"A-001": {"wait_for": "never"}}))
    result = teamexec("run", str(root), "--backoff-scale", "0")
    assert result.returncode == 1
    assert "A-001 timed out after 1 s" in result.stdout
    state = tasks(root)["A-001"]
    assert state["status"] == "failed"
    assert state["metadata"]["last_error"]["kind"] == "timeout"


def test_hostile_callbacks_are_rejected_and_the_pipeline_goes_on(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": []}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    inbox = root / ".msg" / "inbox"
    bad = {
        "notjson.json": b"{not json",
        "binary.json": b"\x00\x01\x02",
        "big.json": b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}',
        "array.json": b"[1, 2]",
        "wrongrole.json": json.dumps(
            {
                "id": "w1",
                "ts": "2026-01-01T00:00:00Z",
                "from": "b",
                "type": "task_complete",
                "summary": "",
                "data": {"task_id": "A-001"},
            }
        ).encode(),
        "ghost.json": json.dumps(
            {
                "id": "w2",
                "ts": "2026-01-01T00:00:00Z",
                "from": "ghost",
                "type": "task_complete",
                "summary": "",
                "data": {"task_id": "A-001"},
            }
        ).encode(),
    }
    tmp = root / ".msg" / "tmp"
    for name, content in bad.items():
        (tmp / name).write_bytes(content)
        os.rename(tmp / name, inbox / name)
    rejected = root / ".msg" / "rejected"
    wait_for(lambda: len(list(rejected.glob("*.reason"))) == len(bad), what="rejections")
    (root / "go").write_text("")
    code, out, _err = finish(proc)
    assert code == 0, out
    reasons = {p.name: p.read_text() for p in rejected.glob("*.reason")}
    assert "owned by 'a', not 'b'" in reasons["wrongrole.json.reason"]
    assert "unknown role" in reasons["ghost.json.reason"]
    assert "oversized" in reasons["big.json.reason"]
    assert "not JSON" in reasons["notjson.json.reason"]
    assert tasks(root)["A-001"]["status"] == "completed"


def test_hand_edited_role_spec_applies_from_next_spawn_and_bad_edit_is_refused(tmp_path):
    graph = {"A-001": [], "A-002": ["A-001"], "A-003": ["A-002"]}
    root = write_session(
        tmp_path / "s",
        graph,
        behaviour={"A-001": {"wait_for": "go1"}, "A-002": {"wait_for": "go2"}},
    )
    spec = root / "role-specs" / "a.md"
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="first agent")
    spec.write_text(spec.read_text().replace("inner_loop: false", "inner_loop: 7"))
    (root / "go1").write_text("")
    wait_for(lambda: runs(root, "A-002"), what="second agent")
    spec.write_text(
        spec.read_text()
        .replace("inner_loop: 7", "inner_loop: false")
        .replace("Do the work.", "Do the work, carefully.")
    )
    wait_for(
        lambda: "carefully" in (root / ".msg" / "role-specs" / "a.md").read_text(),
        what="valid edit in force",
    )
    (root / "go2").write_text("")
    code, out, err = finish(proc)
    assert code == 0, out + err
    assert "a.md:4: frontmatter /inner_loop: 7 is not of type 'boolean'" in out
    assert "keeping the last valid version" in out
    assert "reloaded; applies from the next spawn of a" in out
    prompt_of_third = next((root / "runs").glob("A-003.1.*")).read_text()
    assert prompt_of_third  # the agent got a prompt built from the spec in force


def test_pause_then_resume(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    result = teamexec("pause", str(root))
    assert result.returncode == 0, result.stderr
    (root / "go").write_text("")
    code, out, _ = finish(proc)
    assert code == 130
    assert "pause requested" in out
    assert tasks(root)["A-001"]["status"] == "completed"
    assert tasks(root)["B-001"]["status"] == "pending"
    assert runs(root, "B-001") == []
    assert json.loads((root / "team-session.json").read_text())["status"] == "paused"
    assert teamexec("resume", str(root)).returncode == 0
    assert tasks(root)["B-001"]["status"] == "completed"


def test_stop_terminates_workers_and_resets_tasks(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "never"}})
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    assert teamexec("stop", str(root)).returncode == 0
    code, out, _ = finish(proc)
    assert code == 130
    assert "stop requested" in out
    assert tasks(root)["A-001"]["status"] == "pending"


def test_corrupted_team_session_is_reported_not_overwritten(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "team-session.json").write_text("{ damaged")
    (root / "go").write_text("")
    wait_for(lambda: tasks(root)["B-001"]["status"] == "completed", what="pipeline end")
    code, out, _ = finish(proc)
    assert "does not parse any more" in out
    assert (root / "team-session.json").read_text() == "{ damaged"
    assert code == 0


def test_corrupted_task_file_while_running_is_reported(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": []},
        behaviour={"A-001": {"wait_for": "go"}, "B-001": {"wait_for": "go"}},
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001") and runs(root, "B-001"), what="agents start")
    (root / "tasks" / "B-001.json").write_text("garbage")
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert code == 0, out + err
    assert "tasks/B-001.json:1: not valid JSON" in out
    assert "restoring the last good state" in out
    assert tasks(root)["B-001"]["status"] == "completed"
