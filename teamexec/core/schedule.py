"""Scheduling decisions (PROTOCOL §8 steps 3 and 5): who starts next, are we done.

Pure functions over tasks and the set of running workers.  The engine asks
``plan_spawns`` after every pass and ``pipeline_state`` to know whether the
pipeline is finished, still moving, or stuck — and, when stuck, why each
remaining task cannot start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from teamexec.core.model import RoleSpec, Task, TaskStatus, task_sort_key
from teamexec.core.readiness import iter_ready, pending_candidates, ready_tasks, retry_at


@dataclass(frozen=True)
class Running:
    worker_id: str
    role: str
    task_id: str


@dataclass(frozen=True)
class Spawn:
    task_id: str
    role: str


def role_limit(spec: RoleSpec | None) -> int | None:
    if spec is None:
        return None
    if spec.inner_loop:
        return 1  # one worker that takes the role's tasks in turn
    return spec.max_concurrent


def plan_spawns(
    *,
    tasks: Mapping[str, Task],
    specs: Mapping[str, RoleSpec],
    running: Sequence[Running],
    max_workers: int,
    now: float,
    runnable_roles: Collection[str],
    ranks: Mapping[str, float] | None = None,
) -> list[Spawn]:
    """Ready tasks to start now, within the global and per-role limits.

    Order: the highest ``ranks`` first (the critical-path schedule's remaining
    path lengths, priority.py), ties and ``ranks=None`` (``fifo``) by task id.
    The ranks only reorder: which tasks are ready and every cap are judged here.
    """
    free = max_workers - len(running)
    if free <= 0:
        return []
    per_role = Counter(r.role for r in running)
    busy_tasks = {r.task_id for r in running}
    spawns: list[Spawn] = []
    for task in iter_ready(tasks, specs.keys(), now, ranks=ranks):
        role = task.owner or ""
        if role not in runnable_roles or task.id in busy_tasks:
            continue
        limit = role_limit(specs.get(role))
        if limit is not None and per_role[role] >= limit:
            continue
        spawns.append(Spawn(task.id, role))
        per_role[role] += 1
        if len(spawns) == free:
            break
    return spawns


def next_retry(tasks: Mapping[str, Task], now: float) -> float | None:
    """The earliest back-off end among pending tasks still waiting for it.

    With a ``TaskTable`` only tasks whose dependencies are done count: waking up
    for one that could not start anyway would be a wasted pass.
    """
    due = [
        at
        for t in pending_candidates(tasks)
        if "retry_at" in t.metadata  # most tasks never failed: skip them cheaply
        and (at := retry_at(t)) is not None
        and at > now
    ]
    return min(due, default=None)


class PipelineState(StrEnum):
    RUNNING = "running"  # something runs or will start
    COMPLETE = "complete"  # every task completed
    FAILED = "failed"  # nothing can move, and some task failed
    STALLED = "stalled"  # nothing can move, nothing failed


@dataclass(frozen=True)
class Stuck:
    task_id: str
    reason: str


def pipeline_state(
    tasks: Mapping[str, Task],
    *,
    roles: Collection[str],
    running: Sequence[Running],
    now: float,
    runnable_roles: Collection[str],
) -> tuple[PipelineState, list[Stuck]]:
    if running:  # the common case, answered without scanning every task
        return PipelineState.RUNNING, []
    live = [t for t in tasks.values() if t.status is not TaskStatus.DELETED]
    if all(t.status is TaskStatus.COMPLETED for t in live):
        return PipelineState.COMPLETE, []
    if any(t.status is TaskStatus.IN_PROGRESS for t in live):
        return PipelineState.RUNNING, []
    ready = [t for t in ready_tasks(tasks, roles, now) if t.owner in runnable_roles]
    if ready or next_retry(tasks, now) is not None:
        return PipelineState.RUNNING, []
    stuck = [Stuck(t.id, why_not_ready(t, tasks, roles, runnable_roles)) for t in live]
    stuck = [s for s in stuck if s.reason]
    stuck.sort(key=lambda s: task_sort_key(s.task_id))
    failed = any(t.status is TaskStatus.FAILED for t in live)
    return (PipelineState.FAILED if failed else PipelineState.STALLED), stuck


def why_not_ready(
    task: Task, tasks: Mapping[str, Task], roles: Collection[str], runnable_roles: Collection[str]
) -> str:
    """The reason a task is not running, or '' for a completed one."""
    if task.status is TaskStatus.COMPLETED:
        return ""
    if task.status is TaskStatus.FAILED:
        err = task.metadata.get("last_error")
        reason = err.get("reason") if isinstance(err, dict) else None
        return f"failed after {task.attempts} attempt(s)" + (f": {reason}" if reason else "")
    if task.owner not in roles:
        return f"owner {task.owner!r} is not a role of this session"
    if task.owner not in runnable_roles:
        return f"role {task.owner} has no agent command"
    for dep in task.blocked_by:
        other = tasks.get(dep)
        if other is None:
            return f"blocked by {dep}, which does not exist"
        if other.status is TaskStatus.FAILED:
            return f"blocked by failed task {dep}"
        if other.status is not TaskStatus.COMPLETED:
            return f"waiting for {dep} ({other.status.value})"
    return f"{task.status.value}"
