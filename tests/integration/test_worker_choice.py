"""Which built-in worker runs a task: `executor.worker` auto (default), python, sh."""

from __future__ import annotations

import pytest

from sessionkit import runs, tasks, teamexec, write_session

DIAMOND = {"PLAN-001": [], "BUILD-001": ["PLAN-001"], "BUILD-002": ["PLAN-001"]}


@pytest.mark.parametrize(
    ("choice", "parent"),
    [
        (None, "teamexec.worker.supervisor"),  # auto: the agent itself, under the supervisor
        ("python", "teamexec.worker"),
        ("sh", "lean_worker.sh"),
    ],
)
def test_the_default_starts_a_plain_agent_under_the_supervisor(tmp_path, choice, parent):
    behaviour = {
        "BUILD-002": {"fail_times": 1, "fail_message": "rate limit hit", "parent": True},
        "BUILD-001": {"parent": True},
    }
    executor = {} if choice is None else {"worker": choice}
    root = write_session(tmp_path / "s", DIAMOND, behaviour=behaviour, executor=executor)
    result = teamexec("run", str(root), "--backoff-scale", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id in DIAMOND:
        assert len(runs(root, task_id)) == (2 if task_id == "BUILD-002" else 1)
    assert "rate limit hit" in tasks(root)["BUILD-002"]["metadata"]["last_error"]["log_tail"]
    for name in ("parent.BUILD-001.1", "parent.BUILD-002.1", "parent.BUILD-002.2"):
        assert parent in (root / name).read_text(), name
    # the executor writes the prompt to a file for the lean shell worker only
    assert bool(list((root / "logs").glob("*.prompt"))) is (choice == "sh")
