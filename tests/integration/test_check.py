"""`teamexec check`: read-only status, errors as one line each, session discovery."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sessionkit import example, teamexec, write_session


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(root)) + "/": "" for p in root.rglob("*") if p.is_dir()}


def test_check_changes_no_byte(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    assert teamexec("run", str(root)).returncode == 0
    before = snapshot(root)
    result = teamexec("check", str(root))
    assert result.returncode == 0, result.stderr
    assert snapshot(root) == before
    assert "Progress: 2/2 (100%)" in result.stdout
    assert "✓ B-001" in result.stdout


def test_check_of_a_fresh_session_changes_nothing_and_shows_ready(tmp_path):
    root = example("demo", tmp_path)
    before = snapshot(root)
    result = teamexec("check", str(root), "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["progress"] == {"done": 0, "total": 6, "percent": 0}
    assert view["ready"] == ["RESEARCH-001"]
    assert {row["status"] for row in view["tasks"]} == {"not_created"}
    assert snapshot(root) == before


def test_invalid_session_prints_one_line_per_error_and_exits_1(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": ["B-001"], "B-001": ["A-001"]})
    spec = root / "role-specs" / "a.md"
    spec.write_text(spec.read_text().replace("inner_loop: false", 'inner_loop: "no"'))
    result = teamexec("check", str(root))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith(f"{spec}:4: ") for line in lines), lines
    assert any("dependency cycle: A-001 -> B-001 -> A-001" in line for line in lines), lines


def test_missing_agent_is_a_warning_for_check_and_an_error_for_run(tmp_path):
    root = example("ccw-example", tmp_path)
    check = teamexec("check", str(root))
    assert check.returncode == 0
    assert "role writer has no agent command" in check.stdout
    run = teamexec("run", str(root))
    assert run.returncode == 1
    assert "role writer has no agent command" in run.stderr
    assert not (root / "tasks").exists()  # invalid for run: nothing written


def test_discovery_finds_the_single_session_and_lists_several(tmp_path):
    write_session(tmp_path / "sessions" / "one", {"A-001": []})
    assert teamexec("check", cwd=tmp_path).returncode == 0
    write_session(tmp_path / ".workflow" / ".team" / "two", {"A-001": []})
    result = teamexec("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "several sessions" in result.stderr
    assert "one" in result.stderr and "two" in result.stderr


def test_usage_errors_exit_2(tmp_path):
    assert teamexec("run", "--max-workers", "zero", str(tmp_path)).returncode == 2
    assert teamexec("frobnicate").returncode == 2


def test_msg_outside_a_worker_is_a_usage_error():
    result = teamexec("msg", "progress", "--summary", "hi", env={"TEAMEXEC_INBOX": ""})
    assert result.returncode == 2
    assert "run inside a teamexec worker" in result.stderr
