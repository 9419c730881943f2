"""Which built-in worker runs a task: `executor.worker` auto (default), python, sh."""

from __future__ import annotations

import pytest

from sessionkit import runs, tasks, teamexec, write_session

DIAMOND = {"PLAN-001": [], "BUILD-001": ["PLAN-001"], "BUILD-002": ["PLAN-001"]}


@pytest.mark.parametrize(("choice", "lean"), [(None, True), ("python", False), ("sh", True)])
def test_the_default_takes_the_lean_worker_for_a_plain_agent(tmp_path, choice, lean):
    behaviour = {"BUILD-002": {"fail_times": 1, "fail_message": "rate limit hit"}}
    executor = {} if choice is None else {"worker": choice}
    root = write_session(tmp_path / "s", DIAMOND, behaviour=behaviour, executor=executor)
    result = teamexec("run", str(root), "--backoff-scale", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id in DIAMOND:
        assert len(runs(root, task_id)) == (2 if task_id == "BUILD-002" else 1)
    assert "rate limit hit" in tasks(root)["BUILD-002"]["metadata"]["last_error"]["log_tail"]
    # the executor writes the prompt to a file for the lean worker only
    assert bool(list((root / "logs").glob("*.prompt"))) is lean
