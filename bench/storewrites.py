"""The task-state writes of a 1000-task run, replayed through TaskStore + Journal alone.

What the executor does per task (reconcile's creation written through, then a
claim and a completion whose views lag and are flushed in batches), without
the processes around it: the store's own CPU (encoding, comparisons, syscalls)
measured apart from the run's noise.  Compare two trees in alternation:

    PYTHONPATH=/path/to/tree python bench/storewrites.py /tmp/storewrites [--tasks 1000]

Prints user and system CPU seconds of the replay (and of its two phases); the
views and the journal's lines it leaves are the same bytes whichever tree
wrote them.  ``--spares`` rewrites the views through spare files as the
executor does since issue 15 round 3 (storage/spares.py; a tree without them
ignores it).
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


def replay(root: Path, count: int, *, spares: bool = False) -> tuple[float, float, float, float]:
    """CPU seconds: user and system of the creations, then of the claims,
    completions and their views' rewrites."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "tasks").mkdir(parents=True)
    tasks = [pending(n) for n in range(count)]
    store = TaskStore(root / "tasks")
    store.journal = journal = Journal(root / "journal.jsonl", boot="bench")
    pool = None
    if spares:
        try:
            from teamexec.storage.spares import SparePool
        except ImportError:  # an older tree: temporary files
            pass
        else:
            pool = store.spares = SparePool(root / ".teamexec.spare")
    before = resource.getrusage(resource.RUSAGE_SELF)
    store.write_many(tasks)  # reconcile's creations: written through
    journal.commit()
    created = resource.getrusage(resource.RUSAGE_SELF)
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
    if pool is not None:
        pool.close()
    journal.close()
    return (
        created.ru_utime - before.ru_utime,
        created.ru_stime - before.ru_stime,
        after.ru_utime - created.ru_utime,
        after.ru_stime - created.ru_stime,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--spares", action="store_true", help="views through spare files")
    args = parser.parse_args()
    cu, cs, ru, rs = replay(args.directory, args.tasks, spares=args.spares)
    print(
        f"{args.tasks} tasks: user {cu + ru:.3f} s, sys {cs + rs:.3f} s"
        f" (creations: user {cu:.3f} s, sys {cs:.3f} s; then: user {ru:.3f} s, sys {rs:.3f} s)"
    )


if __name__ == "__main__":
    main()
