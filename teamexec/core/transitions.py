"""The task status machine: every status change of a task goes through ``move``.

States are ``TaskStatus``; the table below lists each allowed move with the
reasons that may cause it, one comment per edge.  ``move`` asserts the move
is in the table (an illegal one is a bug in the caller, never bad input:
input is validated before it reaches a decision) and records the reason in
the task's metadata, so ``check``, the logs and a later executor can say why.

Callers: handling.py (complete, fail, retry), reconcile.py (listed as
completed, adopted, interrupted, orphaned), storage/store.py (claims, also
the worker's inner loop), the executor's stop and ``teamexec reset``.
Pure and standard library only: the worker imports it through the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from teamexec.core.model import CLAIMER_KEY, Task, TaskStatus, iso

P, R, C, F, D = (
    TaskStatus.PENDING,
    TaskStatus.IN_PROGRESS,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.DELETED,
)


class Reason(StrEnum):
    """Why a task changed status (kept in ``metadata.reset_reason`` for moves to pending)."""

    CLAIMED = "claimed"
    ADOPTED = "adopted: a live worker still holds it"
    REPORTED_DONE = "reported done"
    LISTED_COMPLETED = "listed in completed_tasks"
    RECORDED_ELSEWHERE = "completed in a Claude task list or messages.jsonl"
    RETRY = "retry: the attempt failed"
    RATE_LIMITED = "rate-limited: waits for the agent's reset, not counted"
    EXHAUSTED = "failed: retries exhausted"
    PERMANENT = "failed: permanent failure"
    INTERRUPTED = "interrupted: its worker is gone"
    ORPHANED = "orphan: no worker recorded"
    OWN_DEAD_CLAIM = "own claim: its executor and worker are gone"
    STOPPED = "stopped"
    USER_RESET = "teamexec reset"


# completion is believed from any source (PROTOCOL §8: completion is never lost)
_COMPLETIONS = frozenset({Reason.REPORTED_DONE, Reason.LISTED_COMPLETED, Reason.RECORDED_ELSEWHERE})

ALLOWED: Mapping[tuple[TaskStatus, TaskStatus], frozenset[Reason]] = {
    # a worker (or the inner loop) claims a ready task: compare-and-set under the store lock
    (P, R): frozenset({Reason.CLAIMED, Reason.ADOPTED}),
    # ADOPTED: reconcile finds a live worker on a task a crash left pending (never run twice)
    # the worker reported success
    (R, C): _COMPLETIONS,
    # a success report arrives late (after a timeout kill or a reset), or the task is
    # recorded as completed elsewhere (completed_tasks, a Claude list, messages.jsonl):
    # completion is believed whatever came before
    (P, C): _COMPLETIONS,
    (F, C): _COMPLETIONS,
    # an attempt failed and may be retried after a back-off; or its worker is gone
    # (crash, orphan, own dead claim); or the user stopped the run
    (R, P): frozenset(
        {
            Reason.RETRY,
            # the agent kind hit a rate limit (§10): the attempt is not counted
            Reason.RATE_LIMITED,
            Reason.INTERRUPTED,
            Reason.ORPHANED,
            Reason.OWN_DEAD_CLAIM,
            Reason.STOPPED,
            Reason.USER_RESET,
        }
    ),
    # an attempt failed for good: a permanent failure or no retries left
    (R, F): frozenset({Reason.EXHAUSTED, Reason.PERMANENT}),
    # `teamexec reset`: whatever the task was, it runs again (the lock proves no one runs it)
    (P, P): frozenset({Reason.USER_RESET}),
    (C, P): frozenset({Reason.USER_RESET}),
    (F, P): frozenset({Reason.USER_RESET}),
    (D, P): frozenset({Reason.USER_RESET}),
}


class IllegalTransition(AssertionError):
    """A caller asked for a move the table does not allow: a bug, not bad input."""


def allowed(old: TaskStatus, new: TaskStatus, reason: Reason) -> bool:
    return reason in ALLOWED.get((old, new), frozenset())


def move(task: Task, to: TaskStatus, reason: Reason, *, now: float, **metadata: Any) -> Task:
    """``task`` in status ``to``, ``updated_at`` stamped, ``metadata`` merged (None removes).

    A move to pending always releases the claim (``claimed_by``, ``claimer``)
    and records the reason: the one way back to pending.
    """
    if not allowed(task.status, to, reason):
        raise IllegalTransition(f"{task.id}: {task.status.value} -> {to.value} ({reason.name})")
    meta: dict[str, Any] = {"updated_at": iso(now)}
    if to is TaskStatus.PENDING:
        meta.update({"claimed_by": None, CLAIMER_KEY: None, "reset_reason": reason.value})
    meta.update(metadata)
    return task.evolve(status=to.value, metadata=meta)
