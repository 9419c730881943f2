"""Sessions written exactly as CCW's team-coordinate writes them, run unchanged.

The fixtures come from tests/ccwkit.py (built from CCW's analyze-task.md,
dispatch.md and role-spec-template.md); the stand-in worker reports the way a
CCW team-worker does (tests/agents/ccw_agent.py, team_msg.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ccwkit import CCW_AGENT, FIVE, claude_list, team_msg, write_ccw_session
from sessionkit import start_teamexec, teamexec, wait_for
from teamexec.validation.schema import schema_errors


def test_a_ccw_session_passes_check_unchanged(tmp_path):
    root = write_ccw_session(tmp_path / "proj")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = teamexec("check", str(root), "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["progress"] == {"done": 0, "total": 5, "percent": 0}
    assert view["ready"] == ["RESEARCH-001"]
    assert not [w for w in view["warnings"] if "no agent command" not in w]
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert set(FIVE) == {row["id"] for row in view["tasks"]}


def test_check_shows_a_near_miss_with_file_and_line(tmp_path):
    root = write_ccw_session(tmp_path / "proj")
    spec = root / "role-specs" / "tester.md"
    spec.write_text(
        spec.read_text().replace("inner_loop: false\n", "inner_loop: false\ntimout_s: 60\n")
    )
    result = teamexec("check", str(root))
    assert result.returncode == 0, result.stderr
    assert f"{spec}:5: warning: unknown key 'timout_s': did you mean 'timeout_s'?" in (
        result.stdout + result.stderr
    )


def claude_bin(tmp_path: Path) -> Path:
    """The stand-in agent under the name ``claude``: its kind is then Claude (§10)."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    script = directory / "claude"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{CCW_AGENT[1]}" "$@"\n')
    script.chmod(0o755)
    return script


def run_ccw(tmp_path: Path, mode: str, *, root: Path | None = None, **config: Any):
    project = tmp_path / "proj"
    root = root or write_ccw_session(project)
    (root / "ccw-agent.json").write_text(json.dumps({"mode": mode, **config}))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    agent = f"{claude_bin(tmp_path)} -p"
    result = teamexec(
        "run",
        str(root),
        "--agent",
        agent,
        "--completion",
        "keep",
        "--backoff-scale",
        "0",
        env=env,
        cwd=tmp_path,
    )
    return root, result


def ccw_runs(root: Path, task: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((root / "runs").glob(f"{task}.*"))]


@pytest.mark.parametrize("mode", ["team_msg", "claude_list", "teamexec_msg", "exit"])
def test_each_report_channel_alone_completes_each_task_once(tmp_path, mode):
    root, result = run_ccw(tmp_path, mode)
    assert result.returncode == 0, result.stdout + result.stderr
    project = tmp_path / "proj"
    for task_id in FIVE:
        found = ccw_runs(root, task_id)
        assert len(found) == 1, (task_id, result.stdout)
        # §2/§7: in the project root, with CCW_PROJECT_ROOT, so team_msg lands here
        assert found[0] == {"cwd": str(project), "ccw_root": str(project)}
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(FIVE)
    assert not (project / ".workflow" / ".team" / root.name / "tasks" / "1.json").exists()
    assert not (tmp_path / ".workflow").exists()  # no stray session where teamexec started
    mirror = tmp_path / "claude-config" / "tasks" / root.name
    entries = {
        json.loads(p.read_text())["subject"]: json.loads(p.read_text())
        for p in mirror.glob("*.json")
    }
    assert set(entries) == set(FIVE)  # the mirror Claude agents used (§5)
    assert {e["status"] for e in entries.values()} == {"completed"}
    assert entries["DESIGN-001"]["blockedBy"] == []  # the mirror lists open blockers only


def _dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid, time.time() - 5


def half_done(tmp_path: Path) -> Path:
    """RESEARCH-001 done in messages.jsonl only, DESIGN-001 in the Claude list only,
    IMPL-001 in completed_tasks only; IMPL-002 in progress with a dead worker."""
    project = tmp_path / "proj"
    root = write_ccw_session(project)
    with _ccw_root(project):  # the worker logged its completion, then the executor died
        team_msg.log(
            root.name,
            sender="RESEARCH-001",
            type_="task_complete",
            summary="[RESEARCH-001] Complete",
            data={"task_id": "RESEARCH-001"},
        )
    claude_list(tmp_path / "claude-config" / "tasks" / root.name, root, done=["DESIGN-001"])
    session = json.loads((root / "team-session.json").read_text())
    session["completed_tasks"] = ["IMPL-001"]
    pid, started = _dead_pid()
    session["active_workers"] = [
        {
            "worker_id": "developer.IMPL-002.a1.dead00",
            "role": "developer",
            "task_id": "IMPL-002",
            "pid": pid,
            "pid_started_at": started,
            "started_at": "2026-01-01T00:00:00.000Z",
            "attempt": 1,
        }
    ]
    (root / "team-session.json").write_text(json.dumps(session, indent=2))
    (root / "tasks").mkdir()
    (root / "tasks" / "IMPL-002.json").write_text(
        json.dumps(
            {
                "id": "IMPL-002",
                "subject": "IMPL-002",
                "description": "d",
                "activeForm": "a",
                "status": "in_progress",
                "owner": "developer",
                "blocks": ["TEST-001"],
                "blockedBy": ["IMPL-001"],
                "metadata": {
                    "attempts": 1,
                    "claimed_by": "developer.IMPL-002.a1.dead00",
                    "updated_at": "2026-01-01T00:00:00.000Z",
                },
            }
        )
    )
    return root


@contextlib.contextmanager
def _ccw_root(project: Path):
    old = os.environ.get("CCW_PROJECT_ROOT")
    os.environ["CCW_PROJECT_ROOT"] = str(project)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CCW_PROJECT_ROOT")
        else:
            os.environ["CCW_PROJECT_ROOT"] = old


def test_check_counts_completions_from_every_source(tmp_path):
    root = half_done(tmp_path)
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    result = teamexec("check", str(root), "--json", "--agent", str(claude_bin(tmp_path)), env=env)
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["progress"]["done"] == 3 and view["progress"]["total"] == 5
    states = {row["id"]: row["status"] for row in view["tasks"]}
    assert states == {
        "RESEARCH-001": "completed",
        "DESIGN-001": "completed",
        "IMPL-001": "completed",
        "IMPL-002": "in_progress",
        "TEST-001": "not_created",
    }
    assert not list(root.glob("tasks/RESEARCH-001.json"))  # check wrote nothing


def test_a_half_done_session_resumes_without_rerunning_anything_done(tmp_path):
    root = half_done(tmp_path)
    _root, result = run_ccw(tmp_path, "exit", root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = sorted(p.name.split(".")[0] for p in (root / "runs").iterdir())
    assert ran == ["IMPL-002", "TEST-001"]  # each once; nothing recorded done ran again
    assert "IMPL-002 interrupted" in result.stdout
    assert "RESEARCH-001 marked completed: reported complete in messages.jsonl" in result.stdout
    assert "DESIGN-001 marked completed: completed in the Claude task list" in result.stdout
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(FIVE)


def test_ccw_keys_of_meta_json_are_as_ccws_last_write_left_them(tmp_path):
    copy = tmp_path / "last-ccw-meta.json"
    project = tmp_path / "proj"
    root = write_ccw_session(project)
    (root / "ccw-agent.json").write_text(json.dumps({"mode": "team_msg"}))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"), "TEAM_MSG_META_COPY": str(copy)}
    result = teamexec(
        "run",
        str(root),
        "--agent",
        str(claude_bin(tmp_path)),
        "--completion",
        "keep",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((root / ".msg" / "meta.json").read_text())
    ours = meta.pop("executor")
    ccw_last = json.loads(copy.read_text())
    ccw_last.pop("executor", None)  # team_msg keeps our key too: a good neighbour
    assert meta == ccw_last  # every key CCW owns, as CCW's last write left it
    assert meta["roles"] == ["coordinator", "researcher", "designer", "developer", "tester"]
    assert set(meta["role_state"]) == {
        "coordinator",
        "researcher",
        "designer",
        "developer",
        "tester",
    }
    assert ours["roles"]["developer"]["task_id"] in ("IMPL-001", "IMPL-002")
    assert schema_errors("meta", {**meta, "executor": ours}) == []


def test_a_concurrent_team_msg_state_update_is_not_lost(tmp_path):
    project = tmp_path / "proj"
    root = write_ccw_session(project, {"RESEARCH-001": [], "TEST-001": ["RESEARCH-001"]})
    # the agents write meta.json only through teamexec (progress), team_msg's writer is the test:
    # two team_msg writers race each other (writeFileSync in place), which is CCW's own affair
    config = {"mode": "teamexec_msg", "progress": [30, 60, 90]}
    (root / "ccw-agent.json").write_text(json.dumps(config))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    proc = start_teamexec(
        "run",
        str(root),
        "--agent",
        str(claude_bin(tmp_path)),
        "--completion",
        "keep",
        env={**os.environ, **env},
    )
    count = 0
    with _ccw_root(project):
        while proc.poll() is None:
            count += 1
            team_msg.log(
                root.name, sender="coordinator", type_="state_update", data={"beat": count}
            )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    meta = json.loads((root / ".msg" / "meta.json").read_text())
    assert meta["role_state"]["coordinator"]["beat"] == count
    assert meta["role_state"]["coordinator"]["pipeline_mode"] == "dynamic"
    assert meta["roles"] == ["coordinator", "researcher", "tester"]
    assert meta["executor"]["roles"]["tester"]["progress_pct"] == 90
    assert count > 1


WRITER = """
import sys
sys.path.insert(0, {agents!r})
import team_msg
for i in range(200):
    team_msg.log({sid!r}, sender="RESEARCH-001", type_="progress", summary=f"w{k}-{{i}}",
                 data={{"task_id": "RESEARCH-001", "progress_pct": i % 100}})
"""


def test_four_team_msg_writers_while_running_every_line_applied_once(tmp_path):
    project = tmp_path / "proj"
    root = write_ccw_session(project, {"RESEARCH-001": []})
    config = {"mode": "exit", "wait_for": "gate"}
    (root / "ccw-agent.json").write_text(json.dumps(config))
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    proc = start_teamexec(
        "run", str(root), "--agent", str(claude_bin(tmp_path)), "--completion", "keep", env=env
    )
    try:
        wait_for(
            lambda: (
                list((root / "runs").glob("RESEARCH-001.*")) if (root / "runs").is_dir() else []
            ),
            what="the agent to start",
        )
        agents = str(Path(CCW_AGENT[1]).parent)
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER.format(agents=agents, sid=root.name, k=k)],
                env={**os.environ, "CCW_PROJECT_ROOT": str(project)},
            )
            for k in range(4)
        ]
        for writer in writers:
            assert writer.wait(timeout=120) == 0
        (root / "gate").write_text("go")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    expected = {f"w{k}-{i}" for k in range(4) for i in range(200)}
    logged = [json.loads(x) for x in (root / ".msg" / "messages.jsonl").read_text().splitlines()]
    assert sorted(m["summary"] for m in logged if m["summary"] in expected) == sorted(expected)
    ids = [m["id"] for m in logged if m["summary"] in expected]
    applied = [
        line.rsplit(" ", 1)[1]
        for line in out.splitlines()
        if line.startswith("[researcher] RESEARCH-001 ") and "%" in line
    ]
    assert sorted(applied) == sorted(expected)  # each line once: none lost, none twice
    assert "skipped" not in out + err  # no torn line was ever taken for a line
    assert len(ids) == 800  # (ids may repeat: team_msg picks them without a lock)


def test_task_list_naming_a_claude_list_is_used_as_claude_would(tmp_path):
    project = tmp_path / "proj"
    root = write_ccw_session(project)
    listing = tmp_path / "claude-config" / "tasks" / "team-demo"
    number = claude_list(listing, root, done=["RESEARCH-001"], trackers=["Run the linter"])
    tracker = (listing / f"{number['Run the linter']}.json").read_bytes()
    (root / "ccw-agent.json").write_text(json.dumps({"mode": "claude_list"}))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    result = teamexec(
        "run",
        str(root),
        "--task-list",
        str(listing),
        "--agent",
        str(claude_bin(tmp_path)),
        "--completion",
        "keep",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (root / "runs" / "RESEARCH-001.1").exists()
    ran = sorted(p.name.split(".")[0] for p in (root / "runs").iterdir())
    assert ran == ["DESIGN-001", "IMPL-001", "IMPL-002", "TEST-001"]  # each once
    names = sorted(p.name for p in listing.glob("*.json"))
    assert names == sorted(f"{n}.json" for n in number.values())  # no <TASK-ID>.json
    assert (listing / f"{number['Run the linter']}.json").read_bytes() == tracker
    entries = [json.loads(p.read_text()) for p in listing.glob("*.json")]
    assert {e["subject"]: e["status"] for e in entries if e["subject"] in FIVE} == dict.fromkeys(
        FIVE, "completed"
    )
    design = next(e for e in entries if e["subject"] == "DESIGN-001")
    assert design["blockedBy"] == [str(number["RESEARCH-001"])]
    assert not (root / "tasks").exists()


def test_reset_overrides_completions_in_the_log_and_the_claude_list(tmp_path):
    root, result = run_ccw(tmp_path, "team_msg")
    assert result.returncode == 0, result.stdout + result.stderr
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config")}
    reset = teamexec("reset", str(root), "TEST-001", env=env)
    assert reset.returncode == 0, reset.stderr
    agent = str(claude_bin(tmp_path))
    view = json.loads(teamexec("check", str(root), "--json", "--agent", agent, env=env).stdout)
    assert view["progress"]["done"] == 4
    assert view["ready"] == ["TEST-001"]
    (root / "ccw-agent.json").write_text(json.dumps({"mode": "claude_list"}))
    again = teamexec("resume", str(root), "--agent", agent, "--completion", "keep", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(ccw_runs(root, "TEST-001")) == 2 and len(ccw_runs(root, "IMPL-002")) == 1


def test_no_mirror_without_claude_agents_or_when_switched_off(tmp_path):
    project = tmp_path / "proj"
    root = write_ccw_session(project, {"RESEARCH-001": []})
    session = json.loads((root / "team-session.json").read_text())
    session["executor"] = {"claude_task_list": False}
    (root / "team-session.json").write_text(json.dumps(session))
    root, result = run_ccw(tmp_path, "exit", root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "claude-config" / "tasks").exists()
