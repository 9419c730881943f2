"""Which tasks may start now (PROTOCOL §5), shared by the executor and the worker.

A task is ready when it is ``pending``, every ``blockedBy`` task is
``completed``, its owner is a known role, and its retry back-off
(``metadata.retry_at``) has passed.  Ready tasks start in task-id order with
numbers compared as numbers.  Standard library only: the inner-loop worker
imports this.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Iterator, Mapping

from teamexec.core.model import Task, TaskStatus, parse_iso, task_sort_key
from teamexec.core.tasktable import TaskTable, deps_done


def retry_at(task: Task) -> float | None:
    value = task.metadata.get("retry_at")
    return None if value is None else parse_iso(value)


def is_ready(task: Task, tasks: Mapping[str, Task], roles: Collection[str], now: float) -> bool:
    if task.status is not TaskStatus.PENDING or task.owner not in roles:
        return False
    if not deps_done(task, tasks):
        return False
    due = retry_at(task)
    return due is None or due <= now


def ready_tasks(
    tasks: Mapping[str, Task], roles: Collection[str], now: float, *, owner: str | None = None
) -> list[Task]:
    """Ready tasks in start order; ``owner`` keeps only that role's."""
    return [t for t in iter_ready(tasks, roles, now) if owner is None or t.owner == owner]


def pending_candidates(tasks: Mapping[str, Task]) -> Iterable[Task]:
    """Tasks worth judging: a ``TaskTable``'s candidates, else every pending task."""
    if isinstance(tasks, TaskTable):
        return [tasks[task_id] for task_id in tasks.candidates()]
    return [t for t in tasks.values() if t.status is TaskStatus.PENDING]


def iter_ready(
    tasks: Mapping[str, Task],
    roles: Collection[str],
    now: float,
    *,
    ranks: Mapping[str, float] | None = None,
) -> Iterator[Task]:
    """``ready_tasks`` lazily: a heap, so taking the first few of many costs no full sort.

    With ``ranks`` (priority.py's remaining path lengths) the highest rank
    comes first, ties in task-id order; without, task-id order alone.  Each
    candidate is judged when it comes off the heap, so a pass that starts one
    task of a wide layer judges about one, not the whole layer.
    """
    heap: list[tuple[float, tuple[tuple[int, int | str], ...], str]] = [
        (-ranks.get(t.id, 0.0) if ranks is not None else 0.0, task_sort_key(t.id), t.id)
        for t in pending_candidates(tasks)
    ]
    heapq.heapify(heap)
    while heap:
        task = tasks[heapq.heappop(heap)[2]]
        if is_ready(task, tasks, roles, now):
            yield task
