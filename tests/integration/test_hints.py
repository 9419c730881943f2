"""After a failure, the command the hint prints makes the pipeline complete (issue 12)."""

from __future__ import annotations

import json
import shlex

import pytest

from sessionkit import tasks, teamexec, write_session

FAILING = {"B-001": {"fail_times": 1, "fail_message": "permission denied"}}  # permanent


def hint_commands(stdout: str) -> list[list[str]]:
    """The teamexec commands the run's last lines suggest."""
    found = []
    for line in stdout.splitlines():
        text = line.removeprefix("[executor]").strip()
        if text.startswith("teamexec "):
            found.append(shlex.split(text)[1:])
    return found


def failed_session(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"], "C-001": ["B-001"]}, behaviour=FAILING
    )
    first = teamexec("run", str(root), "--backoff-scale", "0")
    assert first.returncode == 1, first.stdout + first.stderr
    return root, first.stdout


def test_the_failure_line_names_the_reason_and_the_log_and_the_hint_retries(tmp_path):
    root, out = failed_session(tmp_path)
    assert "B-001 failed after 1 attempt(s), permanent failure: agent exited 3" in out
    assert "log logs/B-001.1.log" in out
    failure = next(line for line in out.splitlines() if "B-001 failed after" in line)
    assert failure.endswith(f"once the run ends: teamexec resume {root} --retry-failed")
    assert f"log: {root}/logs/B-001.1.log" in out
    status = teamexec("check", str(root)).stdout
    assert f"agent exited 3 — log: {root}/logs/B-001.1.log" in status
    assert f"retry with: teamexec resume {root} --retry-failed" in status
    commands = hint_commands(out)
    assert commands[0] == ["resume", str(root), "--retry-failed"], out
    again = teamexec(*commands[0], "--backoff-scale", "0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
    b = tasks(root)["B-001"]["metadata"]
    assert b["attempts"] == 2  # numbering went on after the retry
    assert "last_error" not in b
    assert [e["outcome"] for e in b["attempt_log"]] == ["permanent", "completed"]
    first_log = (root / "logs" / "B-001.1.log").read_text()
    assert "attempt 1" in first_log and "attempt 2" not in first_log  # logs never mix
    assert "attempt 2" in (root / "logs" / "B-001.2.log").read_text()
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == ["A-001", "B-001", "C-001"]
    assert session["pipeline"]["tasks_completed"] == 3


@pytest.mark.parametrize("how", [["--failed"], ["--all"], ["B-001"]], ids=str)
def test_reset_then_resume_completes(tmp_path, how):
    root, out = failed_session(tmp_path)
    assert ["reset", str(root), "--failed"] in hint_commands(out)
    reset = teamexec("reset", str(root), *how)
    assert reset.returncode == 0, reset.stderr
    assert f"continue with: teamexec resume {root}" in reset.stdout
    session = json.loads((root / "team-session.json").read_text())
    assert session["pipeline"]["tasks_completed"] == len(session["completed_tasks"])
    resumed = teamexec("resume", str(root), "--backoff-scale", "0")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
    assert not (root / "logs" / "B-001.1.log").read_text().count("attempt 2")


def test_reset_with_nothing_named_is_a_usage_error(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    result = teamexec("reset", str(root))
    assert result.returncode == 2
    assert "name the tasks to reset, or pass --failed or --all" in result.stderr
