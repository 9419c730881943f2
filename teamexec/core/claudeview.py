"""What a Claude agent's task list shows when teamexec starts it (PROTOCOL §5, §7): pure.

CCW's team-worker finds its task itself (team-worker.md, Phase 1): TaskList,
the first entry by id whose subject starts with its prefix, ``pending``, with
every blocker completed; it claims it (``in_progress``) and, in Phase 5, sets
it ``completed``.  teamexec starts one worker per task it chose (critical
path, ``max_workers``), so the mirror the agent reads must lead Phase 1 to
*that* task:

- the task teamexec just claimed for the agent is shown ``pending`` — the
  agent's own claim turns it ``in_progress``;
- the role's other pending tasks are shown blocked by the role's tasks that
  workers hold now, so an agent of the same prefix passes them over (they
  are started, each with its own worker, when teamexec chooses).

Only the mirror shows this; the task files keep the truth, and a Claude list
given as ``--task-list`` (the store itself) is never written this way.

Two agents of one role started before either has claimed would both see two
pending entries and take the first: ``staggered`` starts a role's next Claude
worker only once its started agents have claimed their entries (or
``CLAIM_GRACE_S`` has passed, or the role's agents turned out not to use the
list at all).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from teamexec.core.model import Task, TaskStatus, task_sort_key
from teamexec.core.schedule import Spawn

CLAIM_GRACE_S = 60.0  # how long a role's next agent waits for the last one's claim


def agent_view(
    tasks: Mapping[str, Task], *, fresh: Collection[str], held: Mapping[str, Collection[str]]
) -> list[Task]:
    """The entries to write: ``fresh`` tasks as pending, their roles' waiting tasks blocked.

    ``held``: per role, the ids of its tasks that workers hold now (fresh ones included).
    """
    out: list[Task] = []
    roles = {tasks[t].owner for t in fresh if t in tasks and tasks[t].owner}
    for task_id in sorted(fresh, key=task_sort_key):
        task = tasks.get(task_id)
        if task is not None and task.status is TaskStatus.IN_PROGRESS:
            out.append(task.evolve(status=TaskStatus.PENDING.value))
    for task in tasks.values():
        if task.owner not in roles or task.status is not TaskStatus.PENDING:
            continue
        holding = [t for t in sorted(held.get(task.owner or "", ()), key=task_sort_key)]
        extra = [t for t in holding if t != task.id and t not in task.blocked_by]
        if extra:
            out.append(task.evolve(blockedBy=[*task.blocked_by, *extra]))
    return out


def staggered(
    plan: Sequence[Spawn], *, roles: Collection[str], waiting: Collection[str]
) -> list[Spawn]:
    """At most one new worker per staggered role, none for a role still ``waiting``."""
    out: list[Spawn] = []
    taken: set[str] = set()
    for item in plan:
        if item.role in roles:
            if item.role in waiting or item.role in taken:
                continue
            taken.add(item.role)
        out.append(item)
    return out
