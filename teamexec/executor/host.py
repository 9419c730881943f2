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
``submit`` a job, ``poll`` it, ``cancel`` it, ``watch`` for its end.
``LocalProcesses`` starts each job as a process of the executor's own;
``Supervised`` (the one ``LocalHost`` uses) hands jobs that carry a prompt —
plain agents, started directly — to one supervisor process per run
(worker/supervisor.py), which reports their exits on a socket and outlives a
SIGKILLed executor, and everything else to ``LocalProcesses``.  A cluster
backend would implement the same calls and the loop would not change.
"""

from __future__ import annotations

import array
import contextlib
import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from teamexec.executor import liveness, spawn
from teamexec.storage import safeopen
from teamexec.worker.crashpoints import ENV as CRASH_ENV


@dataclass(frozen=True)
class Job:
    """One worker to start: what a backend needs, nothing of the loop's state."""

    worker_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path
    root: Path | None = None  # the session directory: the log is opened inside it only
    # A plain agent started directly (no worker process around it): its prompt on
    # stdin, and what its exit report names (role, task_id, attempt, inbox, tmp).
    stdin: bytes | None = None
    report: Mapping[str, Any] | None = None
    # The journal, when the supervisor must fdatasync it before the spawn (the
    # claim's durability delegated: issue 15), and exits applied since the last
    # start, acknowledged with this one instead of in a packet of their own.
    sync_fd: int | None = None
    ack: Sequence[str] = ()


@dataclass
class Handle:
    """A submitted job: its process group leader's pid and start time (for liveness)."""

    worker_id: str
    pid: int
    started_at: float | None
    native: object = field(default=None, repr=False)  # the backend's own record (a Popen)
    # the process that reports the job's exit (its supervisor: pid, start time), if not itself
    anchor: tuple[int, float | None] | None = None


# Called once a job ended, from any thread: (worker id, exit code or None, the
# instant its supervisor saw the exit — None when no report comes with it —, why
# the job is lost when it is: its supervisor died).  A worker id "" ends no job:
# the backend asks for a pass (a start failed, or must go to a new supervisor).
ExitSink = Callable[[str, int | None, float | None, str], None]


class Backend(Protocol):
    """Where workers run (a cluster executor's shape: submit, poll, cancel)."""

    def submit(self, job: Job) -> Handle:
        """Start the job; raises OSError when it cannot start.  The handle's pid may
        be 0 until the start is answered (a start sent to a supervisor): the
        backend fills it in, from its own thread, when the answer comes."""
        ...

    def settle(self, wait: bool = False) -> dict[str, OSError]:
        """The starts found failed since the last call (worker id -> why); never
        blocks unless ``wait``: then every start submitted so far is answered
        (its pid known) or failed on return."""
        ...

    def notices(self) -> list[tuple[str, str]]:
        """(task id, text) to warn about since the last call: a running job's log
        that could not be written (its output is discarded); never blocks."""
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

    def watch(self, handle: Handle, sink: ExitSink) -> None:
        """Call ``sink`` once the job ends (the loop's exit wake-up)."""
        ...

    def supervisor(self, cwd: Path, env: Mapping[str, str]) -> tuple[int, float | None] | None:
        """The process that will report plain agents' exits (pid, start time), started
        now if none runs; None when each job's own process reports.  OSError: cannot start."""
        ...

    def ack(self, worker_ids: Sequence[str]) -> None:
        """These exits are applied and committed: their reporter may forget them."""
        ...

    def forget(self, worker_ids: Sequence[str]) -> None:
        """The executor stopped these jobs: never report their exits."""
        ...

    def close(self) -> None:
        """The run is over (or detached): reporters carry on without the executor."""
        ...


class LocalProcesses:
    """Workers as local processes, each in its own session and process group."""

    def submit(self, job: Job) -> Handle:
        proc = spawn.start(job.argv, env=job.env, log_path=job.log_path, cwd=job.cwd, root=job.root)
        return Handle(job.worker_id, proc.pid, liveness.process_start_time(proc.pid), proc)

    def settle(self, wait: bool = False) -> dict[str, OSError]:
        return {}  # every submit has waited for its process

    def notices(self) -> list[tuple[str, str]]:
        return []  # a worker process writes its own log

    def poll(self, handle: Handle) -> int | None:
        proc = handle.native
        return proc.poll() if isinstance(proc, subprocess.Popen) else None

    def wait(self, handle: Handle) -> int:
        proc = handle.native
        assert isinstance(proc, subprocess.Popen), "only submitted jobs can be waited for"
        return proc.wait()

    def cancel(self, handle: Handle, sig: signal.Signals) -> bool:
        return spawn.signal_group(handle.pid, sig)

    def watch(self, handle: Handle, sink: ExitSink) -> None:
        """A thread that waits for the process and reports its exit."""

        def waiter() -> None:
            sink(handle.worker_id, self.wait(handle), None, "")

        thread = threading.Thread(target=waiter, name=f"wait-{handle.worker_id}", daemon=True)
        thread.start()

    def supervisor(self, cwd: Path, env: Mapping[str, str]) -> tuple[int, float | None] | None:
        return None

    def ack(self, worker_ids: Sequence[str]) -> None:
        return None

    def forget(self, worker_ids: Sequence[str]) -> None:
        return None

    def close(self) -> None:
        return None


REPLY_TIMEOUT_S = 30.0  # a supervisor that does not answer a start this long is broken
_SUPERVISOR = (sys.executable, "-m", "teamexec.worker.supervisor")


@dataclass
class _Link:
    """One supervisor process and the executor's end of its socket."""

    proc: subprocess.Popen[bytes]
    sock: socket.socket
    anchor: tuple[int, float | None]
    cwd: Path
    env: Mapping[str, str]  # what it was started with (a replacement starts the same way)
    jobs: dict[str, Handle] = field(default_factory=dict)  # started, exit not yet heard
    starts: dict[str, _Start] = field(default_factory=dict)  # sent, not answered yet
    logs: _Logs | None = None  # the logs directory it was given (its descriptor)
    # ended agents whose output pipe a descendant still holds: it pumps on until EOF
    pumping: set[str] = field(default_factory=set)
    closing: bool = False
    eof: bool = False  # its reader met the end of the socket: nothing more comes on it


@dataclass
class _Logs:
    """The session's logs directory, opened once: supervisors create the logs in it."""

    path: Path
    fd: int
    key: tuple[int, int]  # (st_dev, st_ino): a directory replaced since is opened again


@dataclass
class _Start:
    """A start request sent (or to be sent) to a supervisor, until its reply is read."""

    worker_id: str
    data: bytes
    fds: list[int]  # kept open until the reply: a retry sends them again
    link: _Link
    logs: _Logs  # where the supervisor creates the agent's log
    handle: Handle  # the one submit returned: the reader fills in its pid
    prompt: bytes  # the agent's stdin, made again for a retried start
    sent: bool = False
    sent_at: float = 0.0  # monotonic: a start unanswered REPLY_TIMEOUT_S has failed
    retried: bool = False  # sent to a second supervisor (the first died unanswering)
    reply: dict[str, Any] | None = None  # "started" or "refused", set by the reader


class Supervised(LocalProcesses):
    """Plain agents under one supervisor process per run; other jobs as LocalProcesses.

    The supervisor is started at the first plain agent, in its own session, so
    that it outlives the executor (SIGKILL, --detach) and reports the exits
    through the inbox then.  ``submit`` sends a start and returns: nothing
    waits for the answer.  One reader thread takes the supervisor's packets:
    a "started" fills in the handle's pid, a "refused" is kept for the next
    ``settle`` (and wakes the loop: no exit will), an exit goes to the sink.
    The supervisor answers a start before it can report its exit, on the same
    socket, so a pid is known before its job's exit is delivered.  A
    supervisor that dies takes its agents with it: their groups are killed
    and their exits reported lost, and the next plain agent starts a new
    supervisor; a start it had not answered goes to a new one, once, at the
    next ``settle``.
    """

    def __init__(self) -> None:
        self.link: _Link | None = None
        self.sink: ExitSink | None = None
        self.early: list[tuple[str, int | None, float | None, str]] = []  # before a sink
        self.lock = threading.Lock()
        self.generation = 0  # supervisors started so far in this run
        self.inflight: list[_Start] = []  # submitted, outcome not taken by ``settle`` yet
        self.answered = threading.Condition(self.lock)  # a start answered, or a reader's EOF
        self.logs: _Logs | None = None
        self.old_logs: list[_Logs] = []  # replaced: kept open for a retried start
        self.said: list[tuple[str, str]] = []  # (task id, text) for ``notices``

    # ---------------------------------------------------------------- jobs
    def submit(self, job: Job) -> Handle:
        if job.stdin is None:
            return super().submit(job)
        request: dict[str, Any] = {
            "op": "start",
            "id": job.worker_id,
            "argv": list(job.argv),
            "env": dict(job.env),
            "cwd": str(job.cwd),
            "log": job.log_path.name,  # created by the supervisor (no O_CREAT here)
            "report": dict(job.report or {}),
        }
        if job.ack:
            request["ack"] = list(job.ack)
        logs = self._logs(job)
        fds = [_stdin(job.stdin)]
        try:
            if job.sync_fd is not None:  # its own descriptor: a retried start sends it again
                fds.append(os.dup(job.sync_fd))
                request["sync"] = len(fds) - 1
            data = json.dumps(request).encode()
            if len(data) > 200 * 1024:  # too large for one packet: the spec in a memfd
                fds.append(_memfd("spec", data))
                data = json.dumps({"op": "start", "spec_fd": len(fds) - 1}).encode()
            link = self._link(job.cwd, job.env)
            handle = Handle(job.worker_id, 0, None, anchor=link.anchor)  # pid 0: no reply yet
            start = _Start(job.worker_id, data, fds, link, logs, handle, job.stdin)
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        self.inflight.append(start)
        self._send_start(start)
        return start.handle

    def settle(self, wait: bool = False) -> dict[str, OSError]:
        """The starts answered "refused", unanswered too long, or lost twice.

        Non-blocking: a start still unanswered stays for the next call (its
        pid is filled in when the answer comes).  A supervisor that died
        before it answered started nothing that survives (``_lost``): the
        start goes to a new one, once.  ``wait``: every start is answered or
        failed on return (whoever signals or records pids needs them all).
        """
        failed: dict[str, OSError] = {}
        pending: list[_Start] = []
        for start in self.inflight:
            outcome = self._outcome(start, wait)
            if outcome is _PENDING:
                pending.append(start)
                continue
            for fd in start.fds:
                os.close(fd)
            if isinstance(outcome, OSError):
                failed[start.worker_id] = outcome
        self.inflight = pending
        return failed

    def notices(self) -> list[tuple[str, str]]:
        with self.lock:
            said, self.said = self.said, []
        return said

    def _outcome(self, start: _Start, wait: bool) -> OSError | object | None:
        """None: started; an OSError: failed; ``_PENDING``: not answered yet."""
        while True:
            with self.lock:
                while wait and start.reply is None and start.sent and not start.link.eof:
                    left = start.sent_at + REPLY_TIMEOUT_S - time.monotonic()
                    if left <= 0:
                        break
                    self.answered.wait(left)
                reply, dead = start.reply, not start.sent or start.link.eof
                if reply is None and dead:  # its supervisor is gone: forget it there
                    start.link.jobs.pop(start.worker_id, None)
                    start.link.starts.pop(start.worker_id, None)
            if reply is not None:
                if reply.get("op") == "started":
                    return None
                return OSError(errno.ENOEXEC, str(reply.get("error")))
            if dead:
                self._lost(start.worker_id)
                if start.retried:
                    return OSError(errno.EPIPE, "the agent supervisor died")
                start.retried = True
                if self.link is start.link:  # a failed send may come before its EOF
                    self.link = None
                try:
                    start.link = self._link(start.link.cwd, start.link.env)
                except OSError as exc:
                    return exc
                try:  # the prompt from its start again (a pipe is read once)
                    stdin = _stdin(start.prompt)
                except OSError as exc:
                    return exc
                os.close(start.fds[0])
                start.fds[0] = stdin
                self._send_start(start)
                continue
            if time.monotonic() - start.sent_at >= REPLY_TIMEOUT_S:
                with self.lock:
                    start.link.jobs.pop(start.worker_id, None)
                    start.link.starts.pop(start.worker_id, None)
                return OSError(errno.ETIMEDOUT, "no answer from the agent supervisor")
            if not wait:
                return _PENDING

    def _send_start(self, start: _Start) -> None:
        """Register, then send (its exit may be heard before its reply is read)."""
        link = start.link
        start.handle.anchor = link.anchor  # a retry: the new supervisor reports it
        start.sent_at = time.monotonic()
        with self.lock:
            link.jobs[start.worker_id] = start.handle
            link.starts[start.worker_id] = start
        try:
            if link.logs is not start.logs:  # its logs directory first (once per supervisor)
                message = json.dumps({"op": "logs", "path": str(start.logs.path)}).encode()
                dirfd = (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [start.logs.fd]))
                link.sock.sendmsg([message], [dirfd])
                link.logs = start.logs
            rights = (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", start.fds))
            link.sock.sendmsg([start.data], [rights])
            start.sent = True
        except OSError:  # EPIPE, ECONNRESET: it is gone (its reader says so too)
            start.sent = False

    def _logs(self, job: Job) -> _Logs:
        """The logs directory's descriptor: opened once, checked by one lstat a start.

        Opened as storage/safeopen opens a file: every directory from the session
        root down checked (no symlink), the directory itself not followed.  Should
        it be replaced since (another inode at its path), it is checked and
        opened again, so a log is never created outside the session.
        """
        directory = job.log_path.parent
        current = self.logs
        if current is not None and current.path == directory:
            with contextlib.suppress(OSError):
                info = os.lstat(directory)
                if stat.S_ISDIR(info.st_mode) and (info.st_dev, info.st_ino) == current.key:
                    return current
        safeopen.check_dirs(job.log_path, job.root)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            if os.path.islink(directory):
                raise safeopen.UnsafeFile(directory, "is a symbolic link; not followed") from None
            raise
        info = os.fstat(fd)
        if current is not None:
            self.old_logs.append(current)
        self.logs = _Logs(directory, fd, (info.st_dev, info.st_ino))
        return self.logs

    def poll(self, handle: Handle) -> int | None:
        if handle.anchor is None:
            return super().poll(handle)
        return None  # its end is heard on the socket (watch), not polled

    def wait(self, handle: Handle) -> int:
        assert handle.anchor is None, "a supervised job's end is reported, not waited for"
        return super().wait(handle)

    def watch(self, handle: Handle, sink: ExitSink) -> None:
        if handle.anchor is None:
            super().watch(handle, sink)
            return
        with self.lock:
            self.sink = sink
            early, self.early = self.early, []
        for args in early:
            sink(*args)

    def supervisor(self, cwd: Path, env: Mapping[str, str]) -> tuple[int, float | None] | None:
        return self._link(cwd, env).anchor

    def ack(self, worker_ids: Sequence[str]) -> None:
        self._send({"op": "ack", "ids": list(worker_ids)})

    def forget(self, worker_ids: Sequence[str]) -> None:
        link = self.link
        if link is not None:
            with self.lock:
                for wid in worker_ids:
                    link.jobs.pop(wid, None)
        self._send({"op": "forget", "ids": list(worker_ids)})

    def close(self) -> None:
        for logs in [*self.old_logs, *([self.logs] if self.logs else [])]:
            os.close(logs.fd)
        self.logs, self.old_logs = None, []
        for start in self.inflight:  # answered or not, nobody takes them now
            for fd in start.fds:
                os.close(fd)
        self.inflight = []
        link, self.link = self.link, None
        if link is None:
            return
        link.closing = True
        with contextlib.suppress(OSError):
            link.sock.shutdown(socket.SHUT_RDWR)
        link.sock.close()
        with self.lock:
            idle, pumping = not link.jobs, bool(link.pumping)
        if idle and not pumping:  # nothing left to report: it exits at once; reap it
            with contextlib.suppress(subprocess.TimeoutExpired):
                link.proc.wait(timeout=2)
        elif idle:  # it stays until a grandchild lets go of a pipe: reaped when it goes
            reaper = threading.Thread(target=link.proc.wait, name="supervisor-reaper", daemon=True)
            reaper.start()

    # ----------------------------------------------------------- supervisor
    def _send(self, message: dict[str, Any]) -> None:
        link = self.link
        if link is None:
            return
        with contextlib.suppress(OSError):  # a dead supervisor: its reader saw it
            link.sock.sendmsg([json.dumps(message).encode()])

    def _link(self, cwd: Path, env: Mapping[str, str]) -> _Link:
        if self.link is not None:
            return self.link
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child_env = dict(env)
        if self.generation and child_env.get(CRASH_ENV, "").startswith("supervisor-"):
            del child_env[CRASH_ENV]  # a test's crash point fires in the run's first one only
        try:
            proc = subprocess.Popen(
                [*_SUPERVISOR, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=child_env,
                cwd=cwd,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # outlives us; no terminal's SIGINT reaches it
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.generation += 1
        anchor = (proc.pid, liveness.process_start_time(proc.pid))
        link = _Link(proc, ours, anchor, cwd, dict(env))
        self.link = link
        threading.Thread(
            target=self._read, args=(link,), name=f"supervisor-{proc.pid}", daemon=True
        ).start()
        return link

    def _read(self, link: _Link) -> None:
        """The reader thread: start replies to settle, exits to the sink, until EOF."""
        while True:
            try:
                data = link.sock.recv(64 * 1024)
            except ConnectionResetError:
                # it died with our packets (acks) unread: the kernel says so first, and
                # still holds what it sent before dying — its last exits: read on to EOF
                continue
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            if message.get("op") in ("started", "refused"):
                self._answered(link, message)
            elif message.get("op") == "exit":
                with self.lock:
                    known = link.jobs.pop(str(message["id"]), None) is not None
                    if message.get("pumping"):
                        link.pumping.add(str(message["id"]))
                if known:
                    self._deliver(str(message["id"]), int(message["code"]), message["ts"], "")
            elif message.get("op") == "output_closed":
                with self.lock:
                    link.pumping.discard(str(message.get("id")))
            elif message.get("op") == "log_refused":  # the agent runs on, unlogged: say so
                text = f"its log cannot be written: {message.get('error')}; output discarded"
                with self.lock:
                    self.said.append((str(message.get("task_id") or ""), text))
                self._deliver("", None, None, "")  # a pass says it now
        if self.link is link:
            self.link = None  # the next plain agent starts a new one
        with self.lock:  # after: a start retried on this link's EOF finds a new one
            link.eof = True
            unanswered = bool(link.starts)
            self.answered.notify_all()
        if unanswered and not link.closing:
            self._deliver("", None, None, "")  # a pass sends them to a new supervisor
        with contextlib.suppress(subprocess.TimeoutExpired):
            link.proc.wait(timeout=0 if link.closing else 5)
        if link.closing:
            return
        with self.lock:  # not the start in flight (pid 0): its submit retries it
            lost = [h for h in link.jobs.values() if h.pid]
            link.jobs = {w: h for w, h in link.jobs.items() if not h.pid}
        why = f"its supervisor (pid {link.proc.pid}) died"
        for handle in lost:
            if handle.pid and liveness.pid_matches(handle.pid, handle.started_at):
                spawn.signal_group(handle.pid, signal.SIGKILL)
            self._deliver(handle.worker_id, None, None, why)

    def _answered(self, link: _Link, message: dict[str, Any]) -> None:
        """A start's answer (reader thread): its pid, or why it failed (and a wake-up)."""
        wid = str(message["id"])
        refused = message.get("op") != "started"
        with self.lock:
            start = link.starts.pop(wid, None)
            if start is None:
                return
            if refused:
                link.jobs.pop(wid, None)
            else:
                started = message.get("started_at")
                start.handle.started_at = float(started) if started is not None else None
                start.handle.pid = int(message["pid"])  # last: a pid is read with its time
            start.reply = message
            self.answered.notify_all()
        if refused:  # no exit will come: the loop applies it at once, not at a rescan
            self._deliver("", None, None, "")

    def _lost(self, worker_id: str) -> None:
        """A start the supervisor may have made before it died: no agent of it survives."""
        found = liveness.find_worker(worker_id)
        if found is not None:
            spawn.signal_group(found[0], signal.SIGKILL)

    def _deliver(self, worker_id: str, code: int | None, ts: float | None, why: str) -> None:
        with self.lock:
            sink = self.sink
            if sink is None:
                self.early.append((worker_id, code, ts, why))
                return
        sink(worker_id, code, ts, why)


_PENDING = object()  # a start not answered yet
PIPE_PROMPT_BYTES = 60 * 1024  # within a pipe's default buffer (64 KiB): written at once


def _stdin(prompt: bytes) -> int:
    """The read end of a pipe holding ``prompt``, closed for writing (EOF after it).

    A pipe costs a quarter of a memfd to make here; a prompt larger than the
    pipe's buffer goes in a memfd (nothing reads the pipe before the agent).
    """
    if len(prompt) <= PIPE_PROMPT_BYTES:
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            written = os.write(write_end, prompt) if prompt else 0
        except OSError:
            written = -1
        os.close(write_end)
        if written == len(prompt):
            os.set_blocking(read_end, True)  # the agent's stdin is an ordinary blocking pipe
            return read_end
        os.close(read_end)
    return _memfd("prompt", prompt)


def _memfd(name: str, data: bytes) -> int:
    """An anonymous file holding ``data``, read from its start (a prompt, a spec)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


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
        self.backend: Backend = backend or Supervised()

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
