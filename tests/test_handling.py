"""Message effects: each message type, rejections, idempotence."""

from __future__ import annotations

import pytest

from factories import make_session, make_spec, make_task
from teamexec.core.events import EventKind
from teamexec.core.failures import FailureKind
from teamexec.core.handling import (
    Context,
    apply_message,
    fail_attempt,
    log_tail_wanted,
    with_log_tail,
)
from teamexec.core.model import TaskStatus, iso, parse_iso

NOW = 1_800_000_000.0
GRAPH = {"RESEARCH-001": [], "DRAFT-001": ["RESEARCH-001"], "DRAFT-002": ["RESEARCH-001"]}


def ctx(*tasks, specs=None, exists=lambda _p: True):
    session = make_session(GRAPH, specs=specs)
    return Context(
        session=session,
        specs=session.specs,
        tasks={t.id: t for t in tasks},
        now=NOW,
        artifact_exists=exists,
    )


def message(type_, task="RESEARCH-001", sender="research", **data):
    return {
        "id": f"{sender}.{task}.1",
        "ts": iso(NOW),
        "from": sender,
        "to": "executor",
        "type": type_,
        "summary": f"{type_} summary",
        "data": {"task_id": task, **data},
    }


def running(task_id="RESEARCH-001", attempts=1, **meta):
    return make_task(task_id, "in_progress", attempts=attempts, claimed_by="w1", **meta)


def test_task_complete_marks_completed_and_records_artifact():
    verdict = apply_message(message("task_complete", artifact="artifacts/r.md"), ctx(running()))
    task = verdict.updates["RESEARCH-001"]
    assert task.status is TaskStatus.COMPLETED
    assert task.metadata["artifact"] == "artifacts/r.md"
    assert verdict.events[0].kind is EventKind.COMPLETED


def test_completion_line_says_how_long_the_task_took():
    claimed = running(started_at=iso(NOW - 3.2))
    verdict = apply_message(message("task_complete"), ctx(claimed))
    assert verdict.events[0].text == "RESEARCH-001 complete (3.2 s)"
    reported = apply_message(message("task_complete", duration_s=7), ctx(claimed))
    assert reported.events[0].text == "RESEARCH-001 complete (7.0 s)"


def test_role_specific_success_type_counts_as_completion():
    verdict = apply_message(message("research_complete"), ctx(running()))
    assert verdict.updates["RESEARCH-001"].status is TaskStatus.COMPLETED


def test_completion_twice_is_applied_once():
    done = make_task("RESEARCH-001", "completed", attempts=1)
    verdict = apply_message(message("task_complete"), ctx(done))
    assert verdict.accepted and not verdict.updates


def test_missing_artifact_defers_the_message():
    verdict = apply_message(
        message("task_complete", artifact="artifacts/x.md"), ctx(running(), exists=lambda _p: False)
    )
    assert verdict.deferred and not verdict.accepted


def test_error_schedules_a_retry_with_backoff():
    verdict = apply_message(message("error", attempt=1, exit_code=3), ctx(running()))
    task = verdict.updates["RESEARCH-001"]
    assert task.status is TaskStatus.PENDING
    delay = parse_iso(task.metadata["retry_at"]) - NOW
    assert 2.0 <= delay < 2.5  # min(2^1, 300) with jitter in [1, 1.25)
    assert verdict.events[0].kind is EventKind.RETRY


def test_error_for_an_older_attempt_is_ignored():
    verdict = apply_message(message("error", attempt=1), ctx(running(attempts=2)))
    assert verdict.accepted and not verdict.updates


def test_error_applied_twice_counts_once():
    first = apply_message(message("error", attempt=1), ctx(running()))
    again = apply_message(message("error", attempt=1), ctx(first.updates["RESEARCH-001"]))
    assert again.accepted and not again.updates


def test_retries_exhausted_marks_failed():
    verdict = apply_message(message("error", attempt=3), ctx(running(attempts=3)))
    assert verdict.updates["RESEARCH-001"].status is TaskStatus.FAILED
    assert verdict.events[0].kind is EventKind.FAILED


def test_permanent_failure_fails_at_once():
    msg = message("error", attempt=1, log_tail="bash: claude: command not found")
    verdict = apply_message(msg, ctx(running()))
    assert verdict.updates["RESEARCH-001"].status is TaskStatus.FAILED


def test_role_spec_can_override_failure_patterns():
    spec = make_spec("research", "RESEARCH", permanent_patterns=("quota",), transient_patterns=())
    msg = message("error", attempt=1, log_tail="quota exhausted")
    verdict = apply_message(msg, ctx(running(), specs={"research": spec}))
    assert verdict.updates["RESEARCH-001"].status is TaskStatus.FAILED


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        pytest.param(message("progress", sender="ghost"), "unknown role", id="unknown-role"),
        pytest.param(message("progress", task="NOPE-001"), "unknown task", id="unknown-task"),
        pytest.param(message("progress", task="DRAFT-001"), "owned by", id="wrong-owner"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(msg, reason):
    verdict = apply_message(msg, ctx(running(), make_task("DRAFT-001")))
    assert not verdict.accepted
    assert reason in verdict.reason


def test_progress_records_role_state():
    verdict = apply_message(message("progress", progress_pct=40, phase="Phase 3"), ctx(running()))
    assert verdict.role_state["progress_pct"] == 40
    assert verdict.role_state["phase"] == "Phase 3"
    assert verdict.events[0].kind is EventKind.PROGRESS


def test_blocker_and_capability_gap_only_warn():
    for kind, event in (
        ("blocker", EventKind.BLOCKER),
        ("capability_gap", EventKind.CAPABILITY_GAP),
    ):
        verdict = apply_message(message(kind), ctx(running()))
        assert verdict.accepted and not verdict.updates
        assert verdict.events[0].kind is event


def test_consensus_high_creates_one_revision_and_repoints_dependents():
    tasks = [
        make_task("RESEARCH-001", "completed", attempts=1),
        make_task("DRAFT-001", deps=["RESEARCH-001"]),
        make_task("DRAFT-002", deps=["RESEARCH-001"]),
    ]
    verdict = apply_message(message("consensus_blocked", severity="HIGH"), ctx(*tasks))
    revision = verdict.updates["RESEARCH-001-R1"]
    assert revision.owner == "research"
    assert revision.blocked_by == ("RESEARCH-001",)
    assert revision.metadata["revision_of"] == "RESEARCH-001"
    assert "RESEARCH-001-R1" in verdict.updates["DRAFT-001"].blocked_by
    assert "RESEARCH-001-R1" in verdict.updates["DRAFT-002"].blocked_by


def test_consensus_high_after_a_revision_pauses():
    tasks = [make_task("RESEARCH-001", "completed"), make_task("RESEARCH-001-R1", owner="research")]
    verdict = apply_message(message("consensus_blocked", severity="HIGH"), ctx(*tasks))
    assert verdict.pause


def test_consensus_medium_goes_to_wisdom_and_low_only_logs():
    medium = apply_message(message("consensus_blocked", severity="MEDIUM"), ctx(running()))
    assert "MEDIUM" in medium.wisdom_issue and not medium.pause
    low = apply_message(message("consensus_blocked", severity="LOW"), ctx(running()))
    assert low.wisdom_issue is None and not low.updates


def test_fail_attempt_timeout_counts_as_failed_attempt():
    task, event = fail_attempt(
        running(), kind=FailureKind.TIMEOUT, reason="timed out", log_tail="", spec=None, now=NOW
    )
    assert task.status is TaskStatus.PENDING
    assert task.metadata["last_error"]["kind"] == "timeout"
    assert event.kind is EventKind.RETRY


def test_a_late_success_report_for_a_deleted_task_changes_nothing():
    deleted = make_task("RESEARCH-001", "deleted", attempts=1, claimed_by="w1")
    verdict = apply_message(message("task_complete"), ctx(deleted))
    assert verdict.accepted and not verdict.updates


def test_a_message_from_its_task_id_speaks_as_the_owner():
    # CCW team-worker.md, Progress Milestone Protocol: from: "<task_id>"
    verdict = apply_message(message("task_complete", sender="RESEARCH-001"), ctx(running()))
    assert verdict.accepted
    assert verdict.updates["RESEARCH-001"].status is TaskStatus.COMPLETED
    other = apply_message(message("progress", sender="DRAFT-001"), ctx(running()))
    assert not other.accepted  # another task's id is no owner of this one


def test_any_complete_type_and_partial_completion_complete_the_task():
    done = apply_message(message("impl_complete"), ctx(running()))
    assert done.updates["RESEARCH-001"].status is TaskStatus.COMPLETED
    partial = apply_message(message("partial_completion"), ctx(running()))
    assert partial.updates["RESEARCH-001"].metadata["partial"] is True
    assert partial.updates["RESEARCH-001"].status is TaskStatus.COMPLETED


def test_completion_of_a_pending_task_whose_dependencies_are_not_done_is_rejected():
    research = make_task("RESEARCH-001", "in_progress", claimed_by="w", attempts=1)
    draft = make_task("DRAFT-001", "pending", deps=["RESEARCH-001"])
    verdict = apply_message(message("task_complete", "DRAFT-001", "draft"), ctx(research, draft))
    assert not verdict.accepted
    assert "waits for RESEARCH-001" in verdict.reason
    assert not verdict.updates
    # once its dependency is done, a completion of a pending task is taken (pre-completed)
    done = make_task("RESEARCH-001", "completed")
    verdict = apply_message(message("task_complete", "DRAFT-001", "draft"), ctx(done, draft))
    assert verdict.accepted and verdict.updates["DRAFT-001"].status is TaskStatus.COMPLETED


def test_a_report_of_an_attempt_made_before_a_reset_never_undoes_the_reset():
    """A crash left the report in the inbox; the user reset the task; the next run
    reads the report: it is rejected, and the task runs again."""
    reset = make_task("RESEARCH-001", "pending", attempts=1, attempts_before_reset=1)
    verdict = apply_message(message("task_complete", attempt=1), ctx(reset))
    assert not verdict.accepted and "before the task was reset" in verdict.reason
    assert not verdict.updates
    claimed = make_task("RESEARCH-001", "in_progress", attempts=2, attempts_before_reset=1)
    verdict = apply_message(message("task_complete", attempt=2), ctx(claimed))
    assert verdict.accepted and verdict.updates["RESEARCH-001"].status is TaskStatus.COMPLETED
    verdict = apply_message(message("task_complete"), ctx(reset))  # no attempt said: taken
    assert verdict.accepted


@pytest.mark.parametrize(
    ("artifact", "outside"),
    [
        pytest.param("artifacts/r.md", False, id="relative"),
        pytest.param("/s/artifacts/r.md", False, id="absolute-inside"),
        pytest.param("/project/src/x.py", False, id="agents-directory"),
        pytest.param("../../etc/passwd", True, id="dot-dot"),
        pytest.param("/etc/shadow", True, id="absolute-outside"),
        pytest.param("/s-other/x", True, id="prefix-is-not-inside"),
    ],
)
def test_artifacts_outside_the_session_are_refused(artifact, outside):
    base = ctx(running())
    c = Context(
        session=base.session,
        specs=base.specs,
        tasks=base.tasks,
        now=NOW,
        artifact_roots=("/s", "/project"),
    )
    verdict = apply_message(message("task_complete", artifact=artifact), c)
    assert verdict.accepted is not outside
    if outside:
        assert "outside the session" in verdict.reason


@pytest.mark.parametrize(
    ("msg", "wanted"),
    [
        pytest.param(
            message("error", attempt=2, exit_code=3), ("RESEARCH-001", 2), id="failed-exit"
        ),
        pytest.param(
            message("research_error", attempt=1, exit_code=None),
            ("RESEARCH-001", 1),
            id="no-exit-code-value",
        ),
        pytest.param(message("error", attempt=1, exit_code=0), None, id="clean-exit"),
        pytest.param(message("error", attempt=1), None, id="no-exit-code"),
        pytest.param(
            message("error", attempt=1, exit_code=3, log_tail="boom"), None, id="has-tail"
        ),
        pytest.param(message("progress", attempt=1, exit_code=3), None, id="progress"),
        pytest.param(message("error", exit_code=3), None, id="no-attempt"),
        pytest.param(message("error", attempt="1", exit_code=3), None, id="attempt-not-int"),
        pytest.param(
            message("error", "GHOST-001", attempt=1, exit_code=3), None, id="unknown-task"
        ),
    ],
)
def test_log_tail_is_wanted_for_a_failed_exit_reported_without_one(msg, wanted):
    tasks = {"RESEARCH-001": running(attempts=2)}
    assert log_tail_wanted(msg, tasks) == wanted


def test_with_log_tail_returns_a_new_message_and_leaves_the_parsed_one_alone():
    msg = message("error", attempt=1, exit_code=3)
    before = {**msg, "data": dict(msg["data"])}
    tailed = with_log_tail(msg, "line 1\nline 2")
    assert msg == before and "log_tail" not in msg["data"]
    assert tailed["data"] == {**before["data"], "log_tail": "line 1\nline 2"}
    assert {k: v for k, v in tailed.items() if k != "data"} == {
        k: v for k, v in before.items() if k != "data"
    }
