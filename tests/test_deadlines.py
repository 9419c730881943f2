"""Run-time decisions about one worker (core/deadlines.py): a table of clocks and answers."""

from __future__ import annotations

import pytest

from teamexec.core.deadlines import (
    Act,
    Limits,
    WorkerClock,
    artifact_expired,
    due,
    exit_verdict,
    judge,
    next_wake,
)
from teamexec.core.failures import FailureKind

LIMITS = Limits(timeout_s=100, stall_after_s=30, kill_grace_s=10)


@pytest.mark.parametrize(
    ("clock", "now", "act", "kind"),
    [
        pytest.param(WorkerClock(0, 0), 29.9, None, None, id="quiet-but-young"),
        pytest.param(WorkerClock(0, 0), 30, Act.TERMINATE, FailureKind.STALLED, id="stalled"),
        pytest.param(WorkerClock(0, 80), 100, Act.TERMINATE, FailureKind.TIMEOUT, id="timeout"),
        pytest.param(WorkerClock(0, 0), 100, Act.TERMINATE, FailureKind.TIMEOUT, id="both"),
        pytest.param(WorkerClock(0, 0, kill_at=50), 49, None, None, id="terminated-waiting"),
        pytest.param(WorkerClock(0, 0, kill_at=50), 50, Act.KILL, None, id="kill"),
    ],
)
def test_judge(clock, now, act, kind):
    kill = judge(clock, LIMITS, now)
    if act is None:
        assert kill is None
        return
    assert kill is not None and kill.act is act and kill.kind is kind
    assert kill.next_kill_at == now + LIMITS.kill_grace_s


def test_due_is_when_judge_may_change_its_mind():
    assert due(WorkerClock(0, 20), LIMITS) == 50  # the stall comes before the timeout
    assert due(WorkerClock(0, 90), LIMITS) == 100
    assert due(WorkerClock(0, 0, kill_at=7), LIMITS) == 7
    assert due(WorkerClock(0, 0), None) is None


def test_next_wake_is_the_earliest_or_the_rescan():
    assert next_wake(10, 2, []) == 12
    assert next_wake(10, 2, [None, 11.5, 30]) == 11.5


@pytest.mark.parametrize(
    ("kill_reason", "code", "kind", "reason"),
    [
        pytest.param(None, 3, FailureKind.CRASHED, "worker exited with code 3", id="crash"),
        pytest.param(FailureKind.TIMEOUT, -15, FailureKind.TIMEOUT, "attempt timeout", id="to"),
        pytest.param(FailureKind.STALLED, None, FailureKind.STALLED, "attempt stalled", id="st"),
    ],
)
def test_exit_verdict(kill_reason, code, kind, reason):
    got_kind, got_reason = exit_verdict(kill_reason, code)
    assert got_kind is kind and got_reason.startswith(reason)


def test_artifact_grace_period():
    assert not artifact_expired(100, 104.9)
    assert artifact_expired(100, 105)
