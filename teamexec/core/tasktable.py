"""The executor's task list: a dict that knows, as it changes, which tasks could start.

The scheduler asks "what is ready?" after every event. Answering by scanning
every task makes each pass O(tasks), which dominated long pipelines (10 000
tasks: ~10 ms a pass before any work). ``TaskTable`` keeps the ids of the
*candidates* — pending tasks whose every ``blockedBy`` task exists and is
completed — and updates them in O(dependents) per change. The rest of
readiness (a known role, the retry back-off) is still judged per candidate by
``readiness.is_ready``, so the answer is the same as a full scan's
(``tests/test_tasktable.py`` checks that over random histories).

It also keeps, for the critical-path order (priority.py), a ``graph_version``
that changes whenever the graph does, per-role sums of the recorded
durations of completed tasks, and how many live tasks each owner has, so
none of them needs a scan of every task.

Standard library only, like readiness.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from teamexec.core.model import Task, TaskStatus

_MISSING: Any = object()
_VERSIONS = itertools.count(1)  # graph versions are unique across tables, never reused


def deps_done(task: Task, tasks: Mapping[str, Task]) -> bool:
    """Every ``blockedBy`` task exists and is completed."""
    for dep in task.blocked_by:
        other = tasks.get(dep)
        if other is None or other.status is not TaskStatus.COMPLETED:
            return False
    return True


class TaskTable(dict[str, Task]):
    """Task id -> Task, with ``candidates()`` kept current by every write."""

    def __init__(self, tasks: Mapping[str, Task] | Iterable[tuple[str, Task]] = ()) -> None:
        super().__init__()
        self._dependents: dict[str, set[str]] = {}  # id -> ids whose blockedBy names it
        self._candidates: set[str] = set()
        self._durations: dict[str, list[float]] = {}  # role -> [seconds, count] of completed
        self._owners: dict[str, int] = {}  # owner ("" for none) -> live (not deleted) tasks
        self.graph_version = next(_VERSIONS)
        self.update(tasks)

    def candidates(self) -> set[str]:
        """Pending tasks whose dependencies are all completed (read only: do not mutate)."""
        return self._candidates

    def live_owners(self) -> Mapping[str, int]:
        """Owner ("" for none) -> how many of its tasks are not deleted (read only)."""
        return self._owners

    def role_means(self) -> dict[str, float]:
        """Mean recorded duration of each role's completed tasks."""
        return {role: total / count for role, (total, count) in self._durations.items() if count}

    # ------------------------------------------------------------ writes
    def __setitem__(self, task_id: str, task: Task) -> None:
        old = dict.get(self, task_id)
        dict.__setitem__(self, task_id, task)
        self._tally(old, -1)
        self._tally(task, +1)
        self._count_owner(old, -1)
        self._count_owner(task, +1)
        if _shape(old) != _shape(task):
            self.graph_version = next(_VERSIONS)
        if old is None or old.blocked_by != task.blocked_by:
            if old is not None:
                self._unlink(task_id, old)
            for dep in task.blocked_by:
                self._dependents.setdefault(dep, set()).add(task_id)
        self._judge(task_id)
        was_done = old is not None and old.status is TaskStatus.COMPLETED
        if old is None or was_done != (task.status is TaskStatus.COMPLETED):
            for child in self._dependents.get(task_id, ()):
                self._judge(child)

    def __delitem__(self, task_id: str) -> None:
        old = dict.__getitem__(self, task_id)
        dict.__delitem__(self, task_id)
        self._tally(old, -1)
        self._count_owner(old, -1)
        self.graph_version = next(_VERSIONS)
        self._unlink(task_id, old)
        self._candidates.discard(task_id)
        for child in self._dependents.get(task_id, ()):
            self._judge(child)

    def update(self, *others: Any, **named: Task) -> None:
        for other in (*others, named):
            items = other.items() if isinstance(other, Mapping) else other
            for task_id, task in items:
                self[task_id] = task

    def setdefault(self, task_id: str, task: Task) -> Task:
        if task_id not in self:
            self[task_id] = task
        return dict.__getitem__(self, task_id)

    def pop(self, task_id: str, default: Any = _MISSING) -> Any:
        if task_id not in self:
            if default is _MISSING:
                raise KeyError(task_id)
            return default
        task = dict.__getitem__(self, task_id)
        del self[task_id]
        return task

    def popitem(self) -> tuple[str, Task]:
        task_id = next(reversed(self))
        return task_id, self.pop(task_id)

    def clear(self) -> None:
        dict.clear(self)
        self._dependents.clear()
        self._candidates.clear()
        self._durations.clear()
        self._owners.clear()
        self.graph_version = next(_VERSIONS)

    def __ior__(self, other: Any) -> TaskTable:  # type: ignore[override,misc]
        self.update(other)
        return self

    # ------------------------------------------------------------ index
    def _unlink(self, task_id: str, old: Task) -> None:
        for dep in old.blocked_by:
            children = self._dependents.get(dep)
            if children is not None:
                children.discard(task_id)
                if not children:
                    del self._dependents[dep]

    def _tally(self, task: Task | None, sign: int) -> None:
        if task is None or task.status is not TaskStatus.COMPLETED or task.owner is None:
            return
        seconds = task.recorded_duration()
        if seconds is None:
            return
        tally = self._durations.setdefault(task.owner, [0.0, 0.0])
        tally[0] += sign * seconds
        tally[1] += sign
        if tally[1] <= 0:
            del self._durations[task.owner]

    def _count_owner(self, task: Task | None, sign: int) -> None:
        if task is None or task.status is TaskStatus.DELETED:
            return
        owner = task.owner or ""
        count = self._owners.get(owner, 0) + sign
        if count > 0:
            self._owners[owner] = count
        else:
            self._owners.pop(owner, None)

    def _judge(self, task_id: str) -> None:
        task = dict.get(self, task_id)
        if task is not None and task.status is TaskStatus.PENDING and deps_done(task, self):
            self._candidates.add(task_id)
        else:
            self._candidates.discard(task_id)


def _shape(task: Task | None) -> tuple[Any, ...] | None:
    """What of a task the remaining-path lengths depend on."""
    if task is None:
        return None
    return (task.owner, task.blocked_by, task.status is TaskStatus.DELETED)
