"""The executor SIGKILLed at each named instant, then `resume` (issue 11, PROTOCOL §8).

``TEAMEXEC_CRASH_AT=<point>[:<n>]`` kills the process at the n-th pass through
a point (teamexec/worker/crashpoints.py).  For every point: the killed run
leaves the session on disk, and `resume` finishes every task exactly once
(the script agent leaves one start marker per run in runs/) in seconds —
never waiting out ``orphan_after_s``, which is set to 300 here.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from sessionkit import (
    CRASH_GRAPH,
    crash_session,
    runs,
    start_teamexec,
    tasks,
    teamexec,
)
from teamexec.worker.crashpoints import POINTS

GRAPH = CRASH_GRAPH
RESUME_DEADLINE_S = 20  # seconds; a resume takes about one, the orphan timer is 300
EXECUTOR_POINTS = [p for p in POINTS if not p.startswith(("worker-", "supervisor-"))]
# a second pass too for the points every task meets, so the crash lands mid-pipeline
EVERY_TASK = (
    "claim",
    "commit",
    "committed",
    "record",
    "spawn",
    "callback",
    "completion",
    "message",
)
CASES = [f"{p}:1" for p in EXECUTOR_POINTS] + [f"{p}:3" for p in EVERY_TASK]


def _assert_exactly_once(root):
    state = tasks(root)
    assert {t: s["status"] for t, s in state.items()} == dict.fromkeys(GRAPH, "completed")
    for task_id in GRAPH:
        assert len(runs(root, task_id)) == 1, (task_id, runs(root, task_id))
    session = json.loads((root / "team-session.json").read_text())
    assert sorted(session["completed_tasks"]) == sorted(GRAPH)
    log = [json.loads(line) for line in (root / ".msg" / "messages.jsonl").read_text().splitlines()]
    origins = [r["origin_id"] for r in log]
    assert len(origins) == len(set(origins)), "a message was logged twice"


@pytest.mark.parametrize("crash_at", CASES, ids=CASES)
def test_resume_after_a_crash_at_each_point_runs_every_task_once_in_seconds(tmp_path, crash_at):
    root = crash_session(tmp_path)
    proc = start_teamexec("run", str(root), env={"TEAMEXEC_CRASH_AT": crash_at})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    started = time.monotonic()
    result = teamexec("resume", str(root), timeout=RESUME_DEADLINE_S)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(root)
    print(f"crash at {crash_at}: resume took {took:.2f} s")


def test_a_worker_killed_after_reporting_loses_nothing(tmp_path):
    """worker-report: every worker dies by SIGKILL right after its report is in the inbox."""
    root = crash_session(tmp_path)
    started = time.monotonic()
    result = teamexec("run", str(root), env={"TEAMEXEC_CRASH_AT": "worker-report"}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "without reporting" not in result.stdout
    _assert_exactly_once(root)
    print(f"worker-report: run took {time.monotonic() - started:.2f} s")


def test_a_supervisor_killed_before_answering_a_start_hands_it_to_a_new_one(tmp_path):
    """supervisor-start: the run's first supervisor dies on its first start, before
    it started the agent or answered.  Nothing waited for the answer; the next pass
    sends the start to a new supervisor: the same attempt, every task once."""
    root = crash_session(tmp_path)
    result = teamexec("run", str(root), env={"TEAMEXEC_CRASH_AT": "supervisor-start"}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cannot start" not in result.stdout and "died" not in result.stdout
    _assert_exactly_once(root)
    assert all(t["metadata"]["attempts"] == 1 for t in tasks(root).values())
    for task_id in GRAPH:  # the resent start's agent read its whole prompt too
        [marker] = runs(root, task_id)
        assert (root / "runs" / marker).read_text().startswith("## Role Assignment"), marker


def test_a_supervisor_killed_before_reporting_an_exit_fails_that_attempt_only(tmp_path):
    """supervisor-report: the run's supervisor dies with an ended agent unreported.

    The agent's work ran but nobody can say how it ended: its attempt fails as a
    crash and runs again under a new supervisor (the one case where a task's work
    runs twice: a completion that was never reported is not known).  The agents
    it still ran are killed and retried too; every task completes.
    """
    root = crash_session(tmp_path)
    started = time.monotonic()
    result = teamexec(
        "run",
        str(root),
        "--backoff-scale",
        "0.01",
        env={"TEAMEXEC_CRASH_AT": "supervisor-report"},
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "supervisor" in result.stdout and "died" in result.stdout
    state = tasks(root)
    assert {t: s["status"] for t, s in state.items()} == dict.fromkeys(GRAPH, "completed")
    retried = [t for t in GRAPH if state[t]["metadata"]["attempts"] > 1]
    assert retried and all(t.startswith("A-") for t in retried)  # the first layer only
    for task_id in GRAPH:  # a killed agent may not have got as far as its start marker
        assert 1 <= len(runs(root, task_id)) <= state[task_id]["metadata"]["attempts"]
        if task_id not in retried:
            assert len(runs(root, task_id)) == 1
    print(f"supervisor-report: run took {time.monotonic() - started:.2f} s")
