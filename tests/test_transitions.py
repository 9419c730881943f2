"""The task status table (core/transitions.py): every change of status goes through it."""

from __future__ import annotations

import itertools

import pytest

from factories import make_task
from teamexec.core.model import TaskStatus
from teamexec.core.transitions import ALLOWED, IllegalTransition, Reason, allowed, move

EDGES = sorted(
    ((old, new, reason) for (old, new), reasons in ALLOWED.items() for reason in reasons),
    key=str,
)


@pytest.mark.parametrize(("old", "new", "reason"), EDGES, ids=lambda v: str(v))
def test_every_allowed_move_stamps_and_keeps_the_reason(old, new, reason):
    task = make_task("A-001", status=old.value, claimed_by="w1")
    moved = move(task, new, reason, now=10.0, attempts=3)
    assert moved.status is new
    assert moved.metadata["updated_at"] == "1970-01-01T00:00:10.000Z"
    assert moved.metadata["attempts"] == 3
    if new is TaskStatus.PENDING:  # the one way back to pending releases the claim
        assert moved.claimed_by is None
        assert moved.metadata["reset_reason"] == reason.value


def test_illegal_moves_raise():
    illegal = [
        (old, new, reason)
        for old, new, reason in itertools.product(TaskStatus, TaskStatus, Reason)
        if not allowed(old, new, reason)
    ]
    assert illegal  # the table forbids something
    for old, new, reason in illegal:
        with pytest.raises(IllegalTransition, match="A-001"):
            move(make_task("A-001", status=old.value), new, reason, now=0.0)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        pytest.param(TaskStatus.COMPLETED, TaskStatus.IN_PROGRESS, Reason.CLAIMED, id="reclaim"),
        pytest.param(TaskStatus.FAILED, TaskStatus.PENDING, Reason.RETRY, id="retry-failed"),
        pytest.param(TaskStatus.DELETED, TaskStatus.COMPLETED, Reason.REPORTED_DONE, id="deleted"),
        pytest.param(TaskStatus.PENDING, TaskStatus.FAILED, Reason.EXHAUSTED, id="never-ran"),
    ],
)
def test_moves_that_would_be_bugs_are_not_in_the_table(old, new, reason):
    assert not allowed(old, new, reason)
