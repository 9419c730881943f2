"""The task-state writes of a 1000-task run, replayed through TaskStore + Journal alone.

What the executor does per task (reconcile's creation written through, then a
claim and a completion whose views lag and are flushed in batches), without
the processes around it: the store's own CPU (encoding, comparisons, syscalls)
measured apart from the run's noise.  Compare two trees in alternation:

    PYTHONPATH=/path/to/tree python bench/storewrites.py /tmp/storewrites [--tasks 1000]

Prints user and system CPU seconds of the replay; the views and the journal's
lines it leaves are the same bytes whichever tree wrote them.
"""

from __future__ import annotations

import argparse
import resource
import shutil
from pathlib import Path
from typing import Any

from teamexec.core.model import Task, TaskStatus
from teamexec.core.transitions import Reason, move
from teamexec.storage.journal import Journal
from teamexec.storage.store import TaskStore

CLAIMER = {
    "worker_id": "t.w",
    "host": "vm",
    "pid": 25743,
    "pid_started_at": 1795718202.17,
    "supervisor": {"pid": 25750, "pid_started_at": 1795718202.86},
}


def pending(number: int, session: str = "/tmp/prof/session") -> Task:
    """A task as bench/dags.py's layered session makes it (reconcile's creation)."""
    task_id = f"T-{number:06d}"
    data: dict[str, Any] = {
        "id": task_id,
        "subject": task_id,
        "description": f"PURPOSE: Carry out {task_id}\nCONTEXT:\n  - Session: {session}\n"
        '  - Shared state: team_msg(operation="get_state", session_id=BENCH-session)\n'
        f"---\nInnerLoop: false\nRoleSpec: {session}/role-specs/t.md",
        "activeForm": f"Working on {task_id}",
        "status": "pending",
        "owner": "t",
        "blocks": [f"T-{number + 30:06d}", f"T-{number + 31:06d}"],
        "blockedBy": [f"T-{number - 31:06d}", f"T-{number - 30:06d}"],
        "metadata": {
            "created_at": "2026-11-26T18:36:42.931Z",
            "updated_at": "2026-11-26T18:36:42.931Z",
            "attempts": 0,
        },
    }
    return Task(data)


def replay(root: Path, count: int) -> tuple[float, float]:
    shutil.rmtree(root, ignore_errors=True)
    (root / "tasks").mkdir(parents=True)
    tasks = [pending(n) for n in range(count)]
    store = TaskStore(root / "tasks")
    store.journal = journal = Journal(root / "journal.jsonl", boot="bench")
    before = resource.getrusage(resource.RUSAGE_SELF)
    store.write_many(tasks)  # reconcile's creations: written through
    journal.commit()
    store.lag = lambda _task_id: True
    now = 1795718206.0
    for n, task in enumerate(tasks):
        claimed = store.claim(task.id, f"t.{task.id}.a1", now=now, claimer=CLAIMER, slot=1)
        assert claimed is not None
        done = move(claimed, TaskStatus.COMPLETED, Reason.REPORTED_DONE, now=now + 0.014)
        store.write_many([done])
        if n % 30 == 29:  # about one flush a second in the real run
            journal.commit()
            store.flush_views()
    journal.commit()
    store.flush_views()
    after = resource.getrusage(resource.RUSAGE_SELF)
    journal.close()
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    user, system = replay(args.directory, args.tasks)
    print(f"{args.tasks} tasks: user {user:.3f} s, sys {system:.3f} s")


if __name__ == "__main__":
    main()
