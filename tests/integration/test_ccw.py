"""Sessions written exactly as CCW's team-coordinate writes them, run unchanged.

The fixtures come from tests/ccwkit.py (built from CCW's analyze-task.md,
dispatch.md and role-spec-template.md); the stand-in worker reports the way a
CCW team-worker does (tests/agents/ccw_agent.py, team_msg.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ccwkit import CCW_AGENT, FIVE, write_ccw_session
from sessionkit import teamexec


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
    assert entries["DESIGN-001"]["blockedBy"] == [str(int(entries["RESEARCH-001"]["id"]))]
