"""Which journaled task states go back over the task files after a power loss (issue 15).

The executor's journal (storage/journal.py) is its durable record; the task
files are write-through views, renamed into place but not fsynced.  After an
executor crash on the same boot the page cache survived and every view is at
least as new as the journal: nothing to replay.  After a power loss (another
boot) a view may be older than its last committed state, or missing, or
damaged: the journal's last state of each task goes back over it — except
over a view that says ``completed`` when the journal does not, because a
completion is never lost (PROTOCOL §8) and may have come from elsewhere (an
agent's TaskUpdate in a Claude list written as the task store).

Pure: the caller reads the views and the journal and writes the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from teamexec.core.model import Task, TaskStatus


def replay_due(journal_boot: str | None, this_boot: str) -> bool:
    """Whether the journal's states must be replayed: it was written on another boot.

    A journal without a readable header, or a machine whose boot id is
    unknown, counts as another boot: a replay puts back committed states
    only, so it is safe where skipping it is not.
    """
    return journal_boot is None or not this_boot or journal_boot != this_boot


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def replay_plan(
    views: Mapping[str, Task], journaled: Mapping[str, Mapping[str, Any]]
) -> dict[str, Task]:
    """The tasks to write over their views: each task's last journaled state, unless
    the view already holds it or the view is ``completed`` and the state is not.

    A task with no readable view (lost or damaged by the power cut) gets its state.
    """
    plan: dict[str, Task] = {}
    done = TaskStatus.COMPLETED.value
    for task_id, state in journaled.items():
        view = views.get(task_id)
        if view is not None:
            if view.status is TaskStatus.COMPLETED and state.get("status") != done:
                continue  # completion is never lost
            if _same(view.data, state):
                continue
        plan[task_id] = Task(dict(state))
    return plan
