"""Run-time decisions about one worker, as pure functions of its clock (PROTOCOL §8).

The worker pool (executor/pool.py) keeps, for each running worker, when its
task started, when it was last heard from and when a SIGKILL is due; these
functions say what to do about it now — nothing, SIGTERM for a timeout or a
stall, SIGKILL after the grace period — when the loop must wake next, and
what an exit without a report means.  The pool only carries the answers out,
so tests check every edge here without a process or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from teamexec.core.failures import FailureKind

ARTIFACT_GRACE_S = 5.0  # how long a reported artifact may take to appear (network file systems)


@dataclass(frozen=True)
class WorkerClock:
    """The times that decide a running worker's fate."""

    started_at: float  # when its current task started
    last_beat: float  # last message or log growth
    kill_at: float | None = None  # SIGKILL due (a SIGTERM was sent), else None


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    stall_after_s: float
    kill_grace_s: float


class Act(StrEnum):
    TERMINATE = "terminate"  # SIGTERM the group, SIGKILL after the grace period
    KILL = "kill"  # the grace period is over and it still runs


@dataclass(frozen=True)
class Kill:
    act: Act
    kind: FailureKind | None  # TIMEOUT or STALLED for TERMINATE; None for KILL
    why: str  # for the KILLED event: "timed out after 30 s"
    next_kill_at: float  # when to SIGKILL (again) if it is still alive then


def judge(clock: WorkerClock, limits: Limits, now: float) -> Kill | None:
    """What to do about one worker at ``now``: nothing, TERMINATE or KILL."""
    if clock.kill_at is not None:
        if now >= clock.kill_at:
            return Kill(Act.KILL, None, "still running: SIGKILL", now + limits.kill_grace_s)
        return None  # terminated; waiting for it to go
    if now - clock.started_at >= limits.timeout_s:
        why = f"timed out after {limits.timeout_s:g} s"
        return Kill(Act.TERMINATE, FailureKind.TIMEOUT, why, now + limits.kill_grace_s)
    if now - clock.last_beat >= limits.stall_after_s:
        why = f"stalled: silent for {limits.stall_after_s:g} s"
        return Kill(Act.TERMINATE, FailureKind.STALLED, why, now + limits.kill_grace_s)
    return None


def due(clock: WorkerClock, limits: Limits | None) -> float | None:
    """When ``judge`` may next answer differently for this worker (None: never)."""
    if clock.kill_at is not None:
        return clock.kill_at
    if limits is None:
        return None
    return min(clock.started_at + limits.timeout_s, clock.last_beat + limits.stall_after_s)


def next_wake(now: float, rescan_s: float, candidates: Iterable[float | None]) -> float:
    """The loop's next timer: the earliest due time, and a rescan at the latest."""
    return min([now + rescan_s, *(t for t in candidates if t is not None)])


def exit_verdict(kill_reason: FailureKind | None, code: int | None) -> tuple[FailureKind, str]:
    """Why an attempt failed when its worker exited still holding the task."""
    if kill_reason is None or kill_reason is FailureKind.CRASHED:
        return FailureKind.CRASHED, f"worker exited with code {code} without reporting"
    return kill_reason, f"attempt {kill_reason.value}, killed"


def artifact_expired(first_seen: float, now: float) -> bool:
    """A completion whose artifact is still missing after the grace period is rejected."""
    return now - first_seen >= ARTIFACT_GRACE_S
