"""Is a recorded worker still alive?  (PROTOCOL §8 step 2)

A pid matches only when the process exists, is not a zombie, and started
within one second of the recorded ``pid_started_at`` — so a pid the kernel
reused for another program is never adopted.  A worker recorded without a
pid (the executor died between recording it and starting it) is found by
its ``TEAMEXEC_WORKER_ID`` environment variable.  Executor side only.
"""

from __future__ import annotations

import time

import psutil


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def pid_matches(pid: int, started_at: float | None, *, tolerance: float = 1.0) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if started_at is None:
        return False  # without a start time a pid proves nothing
    return abs(created - float(started_at)) <= tolerance


def find_worker(worker_id: str) -> tuple[int, float] | None:
    """(pid, start time) of the process started as worker ``worker_id``, not its children."""
    matches: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["pid"]):
        try:
            if (
                proc.environ().get("TEAMEXEC_WORKER_ID") == worker_id
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                matches[proc.pid] = proc
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    for pid, proc in matches.items():
        try:
            if proc.ppid() not in matches:
                return pid, proc.create_time()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


class Liveness:
    """The OS facts the engine needs, in one injectable object (tests fake it)."""

    def now(self) -> float:
        return time.time()

    def process_start_time(self, pid: int) -> float | None:
        return process_start_time(pid)

    def pid_matches(self, pid: int, started_at: float | None) -> bool:
        return pid_matches(pid, started_at)

    def find_worker(self, worker_id: str) -> tuple[int, float] | None:
        return find_worker(worker_id)
