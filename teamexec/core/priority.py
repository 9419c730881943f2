"""Which ready task starts first (PROTOCOL §8 step 3): the critical-path order.

``critical_path`` (the default schedule) starts, among ready tasks, the one
with the longest remaining path to the end of the graph, each task weighted
by its expected duration; ``fifo`` keeps task-id order. A task's expected
duration is its role's mean completed attempt in this session, else in an
earlier run's report.json (read by the shell, passed in as ``history``), else
1 second.

Pure: tasks and numbers in, numbers out. ``plan_spawns`` (schedule.py) uses
the ranks only to order its heap of ready tasks, so readiness and every cap
stay its business. ``CriticalPath`` is the executor's memo: the remaining
paths are computed once per graph (O(tasks + edges)) and again only when the
graph changes or a role's mean moves by more than ``DRIFT`` from the weight in
use, so a long pipeline does not pay a graph walk per completion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from teamexec.core.model import Task, TaskStatus
from teamexec.core.tasktable import TaskTable

UNKNOWN_S = 1.0  # a role with no completed attempt anywhere (PROTOCOL §8: "1 when unknown")
DRIFT = 0.10  # a role's mean must move this much (relative) before ranks are recomputed


def role_means(tasks: Mapping[str, Task]) -> dict[str, float]:
    """Mean recorded duration of the completed tasks of each role, in this session.

    A ``TaskTable`` keeps the sums as it is written; a plain mapping is scanned.
    """
    if isinstance(tasks, TaskTable):
        return tasks.role_means()
    sums: dict[str, list[float]] = {}
    for task in tasks.values():
        if task.status is TaskStatus.COMPLETED and task.owner is not None:
            seconds = task.recorded_duration()
            if seconds is not None:
                tally = sums.setdefault(task.owner, [0.0, 0.0])
                tally[0] += seconds
                tally[1] += 1
    return {role: total / count for role, (total, count) in sums.items()}


def report_role_means(report: Any) -> dict[str, float]:
    """Per-role mean ``duration_s`` of the completed rows of an earlier report.json.

    Lenient: the file is only a hint, so rows of the wrong shape are skipped
    and anything that is not a report gives no means at all.
    """
    rows = report.get("tasks") if isinstance(report, dict) else None
    sums: dict[str, list[float]] = {}
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, dict) or row.get("status") != TaskStatus.COMPLETED.value:
            continue
        role, seconds = row.get("role"), row.get("duration_s")
        if not isinstance(role, str) or isinstance(seconds, bool):
            continue
        if isinstance(seconds, int | float) and seconds >= 0:
            tally = sums.setdefault(role, [0.0, 0.0])
            tally[0] += float(seconds)
            tally[1] += 1
    return {role: total / count for role, (total, count) in sums.items()}


def expected_durations(
    session: Mapping[str, float], history: Mapping[str, float]
) -> dict[str, float]:
    """Each role's expected duration: this session's mean first, then an earlier run's."""
    return {**history, **session}


def remaining_paths(
    tasks: Mapping[str, Task], weights: Mapping[str, float], *, unknown: float = UNKNOWN_S
) -> dict[str, float]:
    """For every live task: its expected duration plus the longest remaining path after it.

    "After it" means through the tasks whose ``blockedBy`` names it, to the end
    of the graph. Deleted tasks and dependencies on missing tasks are ignored.
    A cycle (impossible in a validated graph, possible in hand-edited task
    files) never raises: the tasks on it get their own weight only.
    """
    deleted = TaskStatus.DELETED
    live = {tid: t for tid, t in tasks.items() if t.status is not deleted}
    own: dict[str, float] = {}
    deps: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {tid: [] for tid in live}
    for tid, task in live.items():
        own[tid] = weights.get(task.owner or "", unknown)
        before = task.blocked_by
        if len(before) > 1:
            before = tuple(dict.fromkeys(before))  # a dependency named twice counts once
        kept = [d for d in before if d in children and d != tid]
        deps[tid] = kept
        for dep in kept:
            children[dep].append(tid)
    waiting = {tid: len(after) for tid, after in children.items()}  # dependents not yet ranked
    ranks: dict[str, float] = {}
    ready = [tid for tid, count in waiting.items() if count == 0]  # the graph's ends
    while ready:  # reverse topological order (Kahn's algorithm from the sinks)
        tid = ready.pop()
        after = children[tid]
        tail = max([ranks[c] for c in after]) if after else 0.0
        # rounded to the microsecond: equal paths summed in another order still tie (by id)
        ranks[tid] = round(own[tid] + tail, 6)
        for dep in deps[tid]:
            waiting[dep] -= 1
            if waiting[dep] == 0:
                ready.append(dep)
    if len(ranks) < len(live):  # tasks on or behind a cycle get their own weight
        for tid in live.keys() - ranks.keys():
            ranks[tid] = own[tid]
    return ranks


def moved(used: Mapping[str, float], now: Mapping[str, float], drift: float = DRIFT) -> bool:
    """Did a role appear, vanish, or move its mean by more than ``drift`` since ``used``?"""
    if used.keys() != now.keys():
        return True
    return any(abs(now[r] - used[r]) > drift * max(used[r], 1e-9) for r in used)


def moved_apart(
    used: Mapping[str, float], now: Mapping[str, float], owners: Iterable[str], drift: float = DRIFT
) -> bool:
    """Did the live owners' means move *relative to each other* by more than ``drift``?

    When every live task's owner has a mean, scaling all means by one factor
    scales every remaining path by it and keeps their order, which is all the
    scheduler uses: only the ratios matter.  So a one-role pipeline, whose
    mean settles over its first hundreds of completions, is ranked once, not
    once per 10 % move.  Compared after dividing each side by its largest
    live mean.
    """
    owners = list(owners)
    if used.keys() != now.keys() or any(o not in now for o in owners):
        return True
    if not owners:
        return False
    top_used = max(used[o] for o in owners)
    top_now = max(now[o] for o in owners)
    if top_used <= 0 or top_now <= 0:
        return moved(used, now, drift)
    return any(
        abs(now[o] / top_now - used[o] / top_used) > drift * max(used[o] / top_used, 1e-9)
        for o in owners
    )


class CriticalPath:
    """The executor's memo of ``remaining_paths`` (no I/O: a cache with a rule).

    ``ranks(tasks)`` recomputes only when the task table's graph changed (a
    task added, removed, re-owned or re-wired: ``TaskTable.graph_version``) or
    a role's expected duration moved by more than ``DRIFT``: relative to the
    other live roles' when every live task's role has one (``moved_apart``:
    the order is all that is used), else in absolute terms. A plain mapping
    has no version and is recomputed every time.
    """

    def __init__(self, history: Mapping[str, float] | None = None) -> None:
        self.history = dict(history or {})
        self.weights: dict[str, float] = {}
        self._version: int | None = None
        self._ranks: dict[str, float] = {}
        self.computed = 0  # how many times the graph was walked (tests read it)

    def ranks(self, tasks: Mapping[str, Task]) -> Mapping[str, float]:
        expected = expected_durations(role_means(tasks), self.history)
        version = tasks.graph_version if isinstance(tasks, TaskTable) else None
        if version is None or version != self._version or self._moved(tasks, expected):
            self.weights = expected
            self._ranks = remaining_paths(tasks, expected)
            self._version = version
            self.computed += 1
        return self._ranks

    def _moved(self, tasks: Mapping[str, Task], expected: Mapping[str, float]) -> bool:
        if isinstance(tasks, TaskTable):
            owners = tasks.live_owners()
            if all(owner in expected for owner in owners):
                return moved_apart(self.weights, expected, owners)
        return moved(self.weights, expected)
