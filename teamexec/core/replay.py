"""Which journaled task states go back over the task files after a crash (issue 15).

The executor's journal (storage/journal.py) is its durable record; the task
files are views, renamed into place but not fsynced.  Most views are written
in batches, at most a second after their state was journaled (``lag``); the
rest (tasks an inner-loop worker may claim, a Claude list as the task store)
are written through, before their journal line.  After an executor crash on
the same boot the page cache survived: the written-through views are at least
as new as the journal, and only the lagging states go back over their views.
After a power loss (another boot) any view may be older than its last
committed state, or missing, or damaged: every task's last journaled state
goes back.  Either way, never over a view that says ``completed`` when the
journal does not, because a completion is never lost (PROTOCOL §8) and may
have come from elsewhere (an agent's TaskUpdate in a Claude list written as
the task store), and never over a view stamped later than the state (someone
else wrote the file after the executor's last word on it).

Pure: the caller reads the views and the journal and writes the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from teamexec.core import jsontext
from teamexec.core.model import Task, TaskStatus
from teamexec.core.timestamps import parse_iso


def replay_due(journal_boot: str | None, this_boot: str) -> bool:
    """Whether the journal's states must be replayed: it was written on another boot.

    A journal without a readable header, or a machine whose boot id is
    unknown, counts as another boot: a replay puts back committed states
    only, so it is safe where skipping it is not.
    """
    return journal_boot is None or not this_boot or journal_boot != this_boot


def _stamp(data: Mapping[str, Any]) -> float | None:
    meta = data.get("metadata")
    return parse_iso(meta.get("updated_at")) if isinstance(meta, Mapping) else None


def _later(view: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """The view was stamped after the state: written by someone after the executor."""
    view_at, state_at = _stamp(view), _stamp(state)
    return view_at is not None and state_at is not None and view_at > state_at


def replay_plan(
    views: Mapping[str, Task],
    journaled: Mapping[str, Mapping[str, Any]],
    *,
    only: Collection[str] | None = None,
) -> dict[str, Task]:
    """The tasks to write over their views: each task's last journaled state (of the
    tasks in ``only``, when given), unless the view already holds it, the view is
    ``completed`` and the state is not, or the view is stamped later.

    A task with no readable view (not written yet, lost or damaged) gets its state.
    """
    plan: dict[str, Task] = {}
    done = TaskStatus.COMPLETED.value
    for task_id, state in journaled.items():
        if only is not None and task_id not in only:
            continue
        view = views.get(task_id)
        if view is not None:
            if view.status is TaskStatus.COMPLETED and state.get("status") != done:
                continue  # completion is never lost
            if view.canonical == jsontext.canonical(state) or _later(view.data, state):
                continue
        plan[task_id] = Task(dict(state))
    return plan
