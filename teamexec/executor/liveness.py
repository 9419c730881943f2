"""Is a recorded worker still alive?  Process facts for reconcile (PROTOCOL §8 step 2).

A pid matches only when the process exists, is not a zombie, and started
within one second of the recorded ``pid_started_at`` — so a pid the kernel
reused for another program is never adopted.  A worker recorded without a
pid (the executor died between recording it and spawning it), or one that
claimed a task on its own (inner loop), is found by its
``TEAMEXEC_WORKER_ID`` environment variable.

Executor side only (psutil).  The loop asks these through its ``Host``
(host.py), which tests replace with a fake instead of starting processes.
"""

from __future__ import annotations

import psutil

WORKER_ID_ENV = "TEAMEXEC_WORKER_ID"

# Every way psutil says "no longer, or not ours to look at".
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def process_start_time(pid: int) -> float | None:
    """Creation time of ``pid`` in epoch seconds, or None when there is no such process."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        return psutil.Process(pid).create_time()
    except _GONE:
        return None


def pid_matches(
    pid: int, started_at: float | None, *, tolerance: float = 1.0, worker_id: str | None = None
) -> bool:
    """Is ``pid`` the very process that started at ``started_at``, and still running?

    With ``worker_id``, the process must also carry it as ``TEAMEXEC_WORKER_ID``:
    a pid and start time written into active_workers by someone else must never
    make the executor adopt, and later signal, a foreign process group.
    """
    if started_at is None or isinstance(started_at, bool):
        return False  # without a start time a pid proves nothing: it may be reused
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False  # 0 and negatives name process groups, never a worker
    try:
        proc = psutil.Process(pid)
        # an exited child its parent has not reaped yet is a zombie: dead for us
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
        if abs(created - float(started_at)) > tolerance:
            return False
        return worker_id is None or proc.environ().get(WORKER_ID_ENV) == worker_id
    except (*_GONE, OSError):
        return False


def find_worker(worker_id: str) -> tuple[int, float] | None:
    """(pid, start time) of the process started as worker ``worker_id``, or None.

    The worker's agent (and its children) inherit ``TEAMEXEC_WORKER_ID``, so
    several processes match; the worker is the top-most one, whose parent does
    not match.  Should several such trees exist, the oldest is the worker.
    """
    matches: dict[int, tuple[int, float]] = {}  # pid -> (ppid, create_time)
    for proc in psutil.process_iter():
        try:
            # environ() first: it is what filters nearly every process out
            if proc.environ().get(WORKER_ID_ENV) != worker_id:
                continue
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            matches[proc.pid] = (proc.ppid(), proc.create_time())
        except (*_GONE, OSError):
            # other users' processes, and processes that exit while we look
            continue
    tops = [(created, pid) for pid, (ppid, created) in matches.items() if ppid not in matches]
    if not tops:
        return None
    created, pid = min(tops)
    return pid, created
