"""Every OS effect and clock the executor's loop uses, behind one object.

``Host`` is what the engine, the worker pool and the runner ask for the time,
to start a worker, to signal its process group and whether a process still
runs.  ``LocalHost`` is the real one (psutil, os, subprocess through the
local process backend); tests pass ``tests/fakehost.py``'s ``FakeHost``,
whose clock they move by hand and whose processes exit when told — so
timeouts, stalls and kill escalation are tested in milliseconds, without
sleeping (Supervisor's ``options`` object and its ``DummyOptions`` are the
model).

Starting a worker goes through a ``Backend`` shaped like a cluster
executor's (Snakemake's executor plugins, Nextflow's ``TaskHandler``):
``submit`` a job, ``poll`` it, ``cancel`` it.  ``LocalProcesses`` is the only
backend; a cluster one would implement the same three calls and the loop
would not change.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from teamexec.executor import liveness, spawn


@dataclass(frozen=True)
class Job:
    """One worker to start: what a backend needs, nothing of the loop's state."""

    worker_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path
    root: Path | None = None  # the session directory: the log is opened inside it only


@dataclass
class Handle:
    """A submitted job: its process group leader's pid and start time (for liveness)."""

    worker_id: str
    pid: int
    started_at: float | None
    native: object = field(default=None, repr=False)  # the backend's own record (a Popen)


class Backend(Protocol):
    """Where workers run (a cluster executor's shape: submit, poll, cancel)."""

    def submit(self, job: Job) -> Handle:
        """Start the job; raises OSError when it cannot start."""
        ...

    def poll(self, handle: Handle) -> int | None:
        """The job's exit code once it has ended, else None (never blocks)."""
        ...

    def wait(self, handle: Handle) -> int:
        """Block until the job ends; its exit code (an exit-watching thread calls this)."""
        ...

    def cancel(self, handle: Handle, sig: signal.Signals) -> bool:
        """Signal the job's whole process group; False when it is already gone."""
        ...


class LocalProcesses:
    """Workers as local processes, each in its own session and process group."""

    def submit(self, job: Job) -> Handle:
        proc = spawn.start(job.argv, env=job.env, log_path=job.log_path, cwd=job.cwd, root=job.root)
        return Handle(job.worker_id, proc.pid, liveness.process_start_time(proc.pid), proc)

    def poll(self, handle: Handle) -> int | None:
        proc = handle.native
        return proc.poll() if isinstance(proc, subprocess.Popen) else None

    def wait(self, handle: Handle) -> int:
        proc = handle.native
        assert isinstance(proc, subprocess.Popen), "only submitted jobs can be waited for"
        return proc.wait()

    def cancel(self, handle: Handle, sig: signal.Signals) -> bool:
        return spawn.signal_group(handle.pid, sig)


class Host(Protocol):
    """The OS as the loop sees it; ``LocalHost`` in production, ``FakeHost`` in tests."""

    hostname: str  # recorded in claims: which claims are this machine's to judge
    pid: int  # the executor's own pid
    backend: Backend

    def time(self) -> float:
        """Wall-clock epoch seconds: what state files record and deadlines compare with."""
        ...

    def monotonic(self) -> float:
        """A clock for bounded waits that wall-clock jumps do not disturb."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def signal_group(self, pid: int, sig: signal.Signals) -> bool:
        """Signal a recorded worker's process group (one adopted after a restart too)."""
        ...

    def process_start_time(self, pid: int) -> float | None: ...

    def pid_matches(self, pid: int, started_at: float | None, worker_id: str | None = None) -> bool:
        """Is ``pid`` still the very process that started at ``started_at`` (and, when
        ``worker_id`` is given, the one carrying that worker id)?"""
        ...

    def find_worker(self, worker_id: str) -> tuple[int, float] | None:
        """(pid, start time) of the process carrying ``TEAMEXEC_WORKER_ID=worker_id``."""
        ...


class LocalHost:
    """This machine: the real clock, processes and psutil."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.backend: Backend = backend or LocalProcesses()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def signal_group(self, pid: int, sig: signal.Signals) -> bool:
        return spawn.signal_group(pid, sig)

    def process_start_time(self, pid: int) -> float | None:
        return liveness.process_start_time(pid)

    def pid_matches(self, pid: int, started_at: float | None, worker_id: str | None = None) -> bool:
        return liveness.pid_matches(pid, started_at, worker_id=worker_id)

    def find_worker(self, worker_id: str) -> tuple[int, float] | None:
        return liveness.find_worker(worker_id)
