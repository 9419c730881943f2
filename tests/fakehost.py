"""A Host for in-process tests: a clock moved by hand, processes that exist on paper.

``FakeHost`` stands where ``executor.host.LocalHost`` does (Supervisor's
``DummyOptions`` idea): the loop asks it the time, starts workers through its
backend and signals their groups, and nothing real happens — no process, no
sleep.  A test moves the clock with ``advance``, lets a worker end with
``exit``, and hands the loop the exit wake-ups a monitor would have queued
with ``exits``.  A worker's process dies on SIGKILL, and on SIGTERM unless it
was started with ``stubborn`` (it ignores SIGTERM, as a hung agent may).

``FakeHost(supervised=True)`` has a supervisor for plain agents (the real
``Supervised`` backend's part): jobs that carry a prompt are started "by it",
their exits come with the report's ``ts``, acks are recorded, and
``kill_supervisor`` loses its agents as a dying supervisor does.  With
``backend.defer`` its starts are answered only when a test says so
(``backend.answer``): the pid is unknown until then, or the start is refused.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from teamexec.executor.host import ExitSink, Handle, Job
from teamexec.executor.monitor import Wake, WakeKind


@dataclass
class FakeProcess:
    job: Job
    pid: int
    started_at: float
    code: int | None = None  # set when it ended
    signals: list[signal.Signals] = field(default_factory=list)
    stubborn: bool = False  # ignores SIGTERM
    reported_exit: bool = False
    supervised: bool = False  # a plain agent the supervisor started: its exit is a report
    lost: str = ""  # why its exit is lost (its supervisor died)


class FakeBackend:
    """submit / poll / wait / cancel on paper."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.fail_next: OSError | None = None  # the next submit raises this
        self.defer = False  # supervised starts wait for ``answer`` (their pid unknown)
        self.unanswered: dict[str, tuple[Handle, FakeProcess]] = {}  # by task id
        self.refused: dict[str, OSError] = {}  # by worker id, until the next settle
        self.said: list[tuple[str, str]] = []  # (task id, text): the next pass warns

    def submit(self, job: Job) -> Handle:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.host.acked.extend(job.ack)  # a start carries the acks of the exits applied before it
        proc = FakeProcess(job, next(self.host.pids), self.host.now)
        proc.stubborn = job.env.get("TEAMEXEC_TASK_ID") in self.host.stubborn
        self.host.procs[proc.pid] = proc
        anchor = None
        if job.stdin is not None:
            assert self.host.supervisor_pid is not None, "a prompt job without a supervisor"
            proc.supervised = True
            supervisor = self.host.procs[self.host.supervisor_pid]
            anchor = (supervisor.pid, supervisor.started_at)
            if self.defer:
                handle = Handle(job.worker_id, 0, None, proc, anchor=anchor)
                self.unanswered[job.env["TEAMEXEC_TASK_ID"]] = (handle, proc)
                return handle
        return Handle(job.worker_id, proc.pid, proc.started_at, proc, anchor=anchor)

    def answer(self, task_id: str, error: OSError | None = None) -> None:
        """The supervisor answers the start for ``task_id``: its pid, or ``error``."""
        handle, proc = self.unanswered.pop(task_id)
        if error is None:
            handle.started_at = proc.started_at
            handle.pid = proc.pid
            return
        del self.host.procs[proc.pid]  # it never ran
        self.refused[handle.worker_id] = error

    def settle(self, wait: bool = False) -> dict[str, OSError]:
        """The refusals answered so far; ``wait``: every start answered (started)."""
        if wait:
            for task_id in list(self.unanswered):
                self.answer(task_id)
        refused, self.refused = self.refused, {}
        return refused

    def notices(self) -> list[tuple[str, str]]:
        said, self.said = self.said, []
        return said

    def poll(self, handle: Handle) -> int | None:
        return self.host.procs[handle.pid].code if handle.pid else None

    def wait(self, handle: Handle) -> int:
        raise AssertionError("in-process tests have no monitor: use FakeHost.exits()")

    def cancel(self, handle: Handle, sig: signal.Signals) -> bool:
        return self.host.signal_group(handle.pid, sig)

    def watch(self, handle: Handle, sink: ExitSink) -> None:
        return None  # tests hand the loop its exits: FakeHost.exits()

    def supervisor(self, cwd: Path, env: Mapping[str, str]) -> tuple[int, float | None] | None:
        if not self.host.supervised:
            return None
        pid = self.host.supervisor_pid
        if pid is None or self.host.procs[pid].code is not None:
            pid = next(self.host.pids)
            job = Job("supervisor", ("supervisor",), dict(env), Path("/dev/null"), cwd)
            self.host.procs[pid] = FakeProcess(job, pid, self.host.now, reported_exit=True)
            self.host.supervisor_pid = pid
            self.host.supervisors += 1
        return pid, self.host.procs[pid].started_at

    def ack(self, worker_ids: Sequence[str]) -> None:
        self.host.acked.extend(worker_ids)

    def forget(self, worker_ids: Sequence[str]) -> None:
        self.host.forgotten.extend(worker_ids)

    def close(self) -> None:
        self.host.closed += 1


class FakeHost:
    hostname = "fakehost"
    pid = 999_999  # the executor's own pid: alive, never a worker

    def __init__(self, now: float = 1_800_000_000.0, *, supervised: bool = False) -> None:
        self.supervised = supervised
        self.supervisor_pid: int | None = None
        self.supervisors = 0  # started so far
        self.acked: list[str] = []
        self.forgotten: list[str] = []
        self.closed = 0
        self.now = now
        self.mono = 0.0
        self.pids = itertools.count(50_000)
        self.procs: dict[int, FakeProcess] = {}
        self.stubborn: set[str] = set()  # task ids whose workers ignore SIGTERM
        self.backend = FakeBackend(self)

    # --- the Host interface
    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def signal_group(self, pid: int, sig: signal.Signals) -> bool:
        proc = self.procs.get(pid)
        if proc is None or proc.code is not None:
            return False
        proc.signals.append(sig)
        if sig is signal.SIGKILL or (sig is signal.SIGTERM and not proc.stubborn):
            proc.code = -int(sig)
        return True

    def process_start_time(self, pid: int) -> float | None:
        if pid == self.pid:
            return 0.0
        proc = self.procs.get(pid)
        return proc.started_at if proc is not None and proc.code is None else None

    def pid_matches(self, pid: int, started_at: float | None, worker_id: str | None = None) -> bool:
        if started_at is None or self.process_start_time(pid) != started_at:
            return False
        proc = self.procs.get(pid)
        return worker_id is None or proc is None or proc.job.worker_id == worker_id

    def find_worker(self, worker_id: str) -> tuple[int, float] | None:
        for proc in self.procs.values():
            if proc.code is None and proc.job.worker_id == worker_id:
                return proc.pid, proc.started_at
        return None

    # --- what tests do
    def advance(self, seconds: float) -> float:
        self.now += seconds
        self.mono += seconds
        return self.now

    def worker(self, task_id: str) -> FakeProcess:
        """The latest process started for ``task_id``."""
        found = [p for p in self.procs.values() if p.job.env.get("TEAMEXEC_TASK_ID") == task_id]
        assert found, f"no worker was started for {task_id}"
        return found[-1]

    def exit(self, task_id: str, code: int = 0) -> None:
        proc = self.worker(task_id)
        assert proc.code is None, f"{task_id}'s worker has already ended"
        proc.code = code

    def exits(self) -> list[Wake]:
        """The exit wake-ups a monitor would have queued since the last call."""
        wakes = []
        for proc in self.procs.values():
            if proc.code is not None and not proc.reported_exit:
                proc.reported_exit = True
                if proc.lost:
                    wakes.append(Wake(WakeKind.EXIT, proc.job.worker_id, None, why=proc.lost))
                    continue
                ts = self.now if proc.supervised else None
                wakes.append(Wake(WakeKind.EXIT, proc.job.worker_id, proc.code, ts))
        return wakes

    def kill_supervisor(self) -> None:
        """The supervisor dies: its agents' groups are killed, their exits lost."""
        assert self.supervisor_pid is not None
        self.procs[self.supervisor_pid].code = -int(signal.SIGKILL)
        for proc in self.procs.values():
            if proc.supervised and proc.code is None:
                proc.code = -int(signal.SIGKILL)
                proc.lost = f"its supervisor (pid {self.supervisor_pid}) died"
