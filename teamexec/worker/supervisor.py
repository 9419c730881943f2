"""One long-lived process per run that starts plain agents and reports their exits.

``python -m teamexec.worker.supervisor <fd>`` is started once per run by the
executor (executor/host.py's ``Supervised`` backend), in its own session, with
one end of a ``SOCK_SEQPACKET`` socketpair as ``<fd>``.  It replaces the lean
shell worker for plain agents: a task costs one process start (the agent,
``posix_spawn``: a vfork and an exec) instead of three (``sh``, the agent,
``mv``), and the executor hears an exit on the socket instead of through an
inbox file.

The protocol, one JSON object per packet:

- executor -> supervisor
  ``{"op": "logs", "path": ...}`` with one descriptor (SCM_RIGHTS): the
  session's logs directory (opened ``O_DIRECTORY | O_NOFOLLOW`` by the
  executor after storage/safeopen's checks), sent before the first start and
  again whenever the executor finds it replaced; ``path`` names it in errors;
  ``{"op": "start", "id": <worker id>, "argv": [...], "env": {...}, "cwd": ...,
  "log": <file name in the logs directory>, "report": {"role", "task_id",
  "attempt", "inbox", "tmp"}}`` with one descriptor: the agent's stdin (a
  memfd holding the prompt).  The supervisor creates the log itself, and only
  once the agent writes something (see "Logs" below), so the executor's thread
  never pays for a file creation.  When the JSON is too large for one packet
  it travels in another descriptor (a memfd) and the packet says
  ``{"op": "start", "spec_fd": <its index among the descriptors>}``.
  ``"sync": <index>``: that descriptor is the executor's journal, written but
  not fdatasynced — the supervisor fdatasyncs it before the spawn, so the
  claim is durable before the agent starts while the executor's loop goes on
  (a failed fdatasync refuses the start).  ``"ack": [...]``: as the ack
  packet below, carried by the start;
  ``{"op": "ack", "ids": [...]}``: these exits are applied and committed;
  ``{"op": "forget", "ids": [...]}``: never report these (the executor stopped them).
- supervisor -> executor
  ``{"op": "started", "id", "pid", "started_at"}`` (the agent's pid and start
  time, as psutil computes it) or ``{"op": "refused", "id", "error"}`` (one
  line: the command not found, the cwd missing, the log's name unusable);
  ``{"op": "exit", "id", "code", "ts"}``: the agent ended (``code`` as a shell
  reports it: 128+n for a signal; ``ts`` epoch seconds);
  ``"pumping": true`` in an exit: a descendant still holds the agent's output
  pipe, then ``{"op": "output_closed", "id"}`` once it reached EOF (the
  executor, done, reaps us on a thread meanwhile instead of waiting);
  ``{"op": "log_refused", "id", "task_id", "error"}``: the agent wrote, but its
  log could not be created or written (one line naming the path); what it
  writes from then on is read and discarded.

Each agent runs in its own session and process group (signals for timeouts
and stops go to that group), with the prompt on stdin.  The supervisor reaps
with pidfds and keeps every exit until the executor acks it.

**Logs.**  An agent's stdout and stderr are one pipe (stderr a dup of stdout,
so their order is kept), whose read end the supervisor pumps in its loop
(non-blocking, 64 KiB a read) into ``logs/<TASK-ID>.<attempt>.log``.  The log
is created at the first bytes, not at the start: on a journal-less ext4 each
file creation scans the inodes deleted in the last minutes (0.2-0.9 ms of
kernel CPU), and an agent that prints nothing (a no-op task) then costs no
creation at all — its log does not exist, which every reader takes as empty.
The start still checks the name (one ``fstatat``, no creation): a symlink,
FIFO or directory there refuses the start as before; the creation itself is
an ``openat`` on the logs directory's descriptor with ``O_NOFOLLOW``, a
regular file only.  Before it reports an exit the supervisor drains what the
pipe holds at that moment (FIONREAD), so the error report's log tail has the
agent's last words; a grandchild still holding the pipe does not delay the
report, its output is pumped on until EOF.

**Orphan mode**: on EOF (the executor was SIGKILLed, or left with
``--detach``) it writes every unacked exit, and every later one, into the
inbox exactly as lean_worker.sh does (a temporary file, then a rename), and
exits when no agent is left and every pipe has reached its end.  Standard
library only.
"""

from __future__ import annotations

import array
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import stat
import sys
import termios
import time
from dataclasses import dataclass
from typing import Any

from teamexec.core.timestamps import iso
from teamexec.worker.crashpoints import crash_point

MAX_PACKET = 256 * 1024  # a start spec larger than this travels in a memfd
CHUNK = 64 * 1024  # one read of an agent's output: no agent holds the loop longer
_FDS = array.array("i").itemsize
# a log: appended to, created when missing; never through a symlink; a FIFO cannot hang
# the open (O_NONBLOCK, cleared once it is known to be a regular file)
_LOG = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UNSAFE = {
    errno.ELOOP: "is a symbolic link; not followed",
    errno.EISDIR: "is a directory, not a file",
    errno.ENXIO: "is not a regular file (FIFO or socket)",
}


@dataclass(eq=False)
class Output:
    """An agent's stdout+stderr: its pipe's read end, and its log once it wrote."""

    worker_id: str
    task_id: str
    fd: int  # the pipe's read end (non-blocking); -1 once closed
    logs: int  # the logs directory's descriptor given when the agent started
    name: str  # the log's file name in it
    path: str  # the log's path, for errors
    log: int | None = None  # the log, open for appending once the first bytes came
    refused: bool = False  # the log could not be created or written: output discarded
    pumping: bool = False  # its exit was reported with the pipe still open


@dataclass
class Agent:
    """One started agent: what its report needs, until the executor acks its exit."""

    worker_id: str
    pid: int
    pidfd: int
    report: dict[str, Any]
    code: int | None = None  # set once it ended
    ts: float | None = None
    forgotten: bool = False
    output: Output | None = None  # its pipe, drained before its exit is reported


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def report_message(agent: Agent) -> dict[str, Any]:
    """The message lean_worker.sh writes for this exit (the executor builds the same)."""
    return build_report(agent.worker_id, agent.report, agent.code or 0, agent.ts or time.time())


def build_report(worker_id: str, report: dict[str, Any], code: int, ts: float) -> dict[str, Any]:
    """task_complete for exit 0, else error with the exit code (PROTOCOL §7)."""
    kind = "task_complete" if code == 0 else "error"
    task_id = str(report["task_id"])
    return {
        "id": f"{worker_id}.{kind}",
        "ts": iso(ts),
        "from": report["role"],
        "to": "executor",
        "type": kind,
        "summary": f"{task_id} done" if code == 0 else f"agent exited {code}",
        "data": {
            "task_id": task_id,
            "attempt": report["attempt"],
            "worker_id": worker_id,
            "exit_code": code,
        },
    }


def write_report(agent: Agent) -> None:
    """Into the inbox as a whole file: a temporary beside it, then a rename."""
    message = report_message(agent)
    name = f"{message['id']}.json"
    tmp = os.path.join(str(agent.report["tmp"]), name)
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(str(agent.report["inbox"]), name))


class _Clock:
    """A process's start time as psutil computes it: boot time + /proc/<pid>/stat's field 22.

    Field 22 is the fork's instant on CLOCK_BOOTTIME in clock ticks (10 ms).
    Reading it right after ``posix_spawn`` waited for the new process to finish
    its exec (~0.25 ms a start, on the supervisor's one thread), so the
    supervisor reads CLOCK_BOOTTIME itself just before and after the spawn:
    when both fall in the same tick, the fork's tick is known without asking
    the kernel; only a spawn that straddles a tick boundary (~3 % of them)
    reads /proc.
    """

    def __init__(self) -> None:
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.tick_ns = 1_000_000_000 // self.ticks
        self.boot = 0.0
        try:
            with open("/proc/stat", "rb") as stat:
                for line in stat:
                    if line.startswith(b"btime"):
                        self.boot = float(line.split()[1])
        except OSError:
            pass

    @staticmethod
    def now_ns() -> int:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def started_at(self, pid: int, window: tuple[int, int] | None = None) -> float | None:
        """``window``: CLOCK_BOOTTIME (ns) read just before and just after the spawn."""
        if window is not None:
            first, last = (t // self.tick_ns for t in window)
            if first == last:
                return self.boot + first / self.ticks
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            return None
        fields = raw[raw.rfind(b")") + 2 :].split()
        return self.boot + int(fields[19]) / self.ticks


class Supervisor:
    """The loop: packets from the executor, exits of agents; see the module docstring."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.agents: dict[str, Agent] = {}  # by worker id: running, or ended and unacked
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ, None)
        self.clock = _Clock()
        self.paths: dict[tuple[str, str], str] = {}  # (argv[0], PATH) -> executable
        self.logs: int | None = None  # the logs directory's descriptor ("logs" op)
        self.logs_path = ""  # its path, for errors
        # replaced logs directories stay open: an agent started before creates its log there
        self.old_logs: list[int] = []
        self.outputs: dict[int, Output] = {}  # by the pipe's read end: pipes not at EOF yet

    # ------------------------------------------------------------- the loop
    def run(self) -> int:
        while (
            self.sock is not None
            or self.outputs
            or any(a.code is None for a in self.agents.values())
        ):
            for key, _mask in self.selector.select():
                if key.data is None:
                    if self.sock is not None:  # a failed send may have closed it meanwhile
                        self._receive()
                elif isinstance(key.data, Output):
                    if key.data.fd >= 0:  # drained to its end by a reap in this batch
                        self._pump(key.data)
                else:
                    self._reap(key.data)
        return 0

    def _receive(self) -> None:
        assert self.sock is not None
        try:
            data, ancdata, _flags, _addr = self.sock.recvmsg(
                MAX_PACKET, socket.CMSG_SPACE(3 * _FDS), socket.MSG_CMSG_CLOEXEC
            )
        except ConnectionResetError:
            return  # the executor died with our packets unread: what it sent before comes next
        except OSError:
            data, ancdata = b"", []
        fds: list[int] = []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % _FDS
                fds.extend(array.array("i", payload[:usable]))
        if not data:
            self._orphaned()
            return
        try:
            self._handle(json.loads(data), fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _handle(self, request: dict[str, Any], fds: list[int]) -> None:
        op = request.get("op")
        if op == "start":
            spec = request.get("spec_fd")
            if spec is True:  # the older form: the last descriptor
                spec = len(fds) - 1
            if isinstance(spec, int) and 0 < spec < len(fds):
                request = json.loads(_read_all(fds[spec]))
            self._forget_acked(request.get("ack", ()))
            self._start(request, fds)
        elif op == "logs" and len(fds) == 1:
            if self.logs is not None:
                self.old_logs.append(self.logs)
            self.logs = fds.pop()  # kept: the caller closes only what is left in fds
            self.logs_path = str(request.get("path") or "logs")
        elif op == "ack":
            self._forget_acked(request.get("ids", ()))
        elif op == "forget":
            for wid in request.get("ids", ()):
                agent = self.agents.get(wid)
                if agent is None:
                    continue
                agent.forgotten = True
                if agent.code is not None:
                    del self.agents[wid]

    def _forget_acked(self, worker_ids: Any) -> None:
        """Exits the executor applied and committed: never reported again."""
        for wid in worker_ids:
            agent = self.agents.get(wid)
            if agent is not None and agent.code is not None:
                del self.agents[wid]

    def _orphaned(self) -> None:
        """The executor is gone: from now on every exit is reported through the inbox."""
        assert self.sock is not None
        self.selector.unregister(self.sock)
        self.sock.close()
        self.sock = None
        for wid, agent in list(self.agents.items()):
            if agent.code is not None:
                self._report(agent)
                del self.agents[wid]

    # -------------------------------------------------------------- agents
    def _start(self, request: dict[str, Any], fds: list[int]) -> None:
        crash_point("supervisor-start")
        wid = str(request["id"])
        try:
            if not fds:
                raise OSError(errno.EBADF, "the stdin descriptor is missing")
            sync = request.get("sync")
            if sync is not None:  # the claim durable before its agent starts (PROTOCOL §8)
                if isinstance(sync, bool) or not 0 < sync < len(fds):
                    raise OSError(errno.EBADF, "the journal's descriptor is missing")
                try:
                    os.fdatasync(fds[sync])
                except OSError as exc:
                    raise OSError(exc.errno, exc.strerror, "the journal (fdatasync)") from None
            name = str(request.get("log") or "")
            path = self._check_log(name)
            assert self.logs is not None
            read, write = os.pipe2(os.O_CLOEXEC)
            try:
                before = self.clock.now_ns()
                pid = self._spawn(request, stdin=fds[0], out=write)
                window = (before, self.clock.now_ns())
            except OSError:
                os.close(read)
                raise
            finally:
                os.close(write)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            name = exc.filename or (request.get("argv") or ["?"])[0]
            self._send({"op": "refused", "id": wid, "error": f"{name}: {reason}"})
            return
        os.set_blocking(read, False)
        report = dict(request["report"])
        output = Output(wid, str(report.get("task_id", "")), read, self.logs, name, path)
        self.outputs[read] = output
        self.selector.register(read, selectors.EVENT_READ, output)
        pidfd = os.pidfd_open(pid)
        agent = Agent(wid, pid, pidfd, report, output=output)
        self.agents[wid] = agent
        self.selector.register(pidfd, selectors.EVENT_READ, agent)
        started = self.clock.started_at(pid, window)
        self._send({"op": "started", "id": wid, "pid": pid, "started_at": started})

    def _check_log(self, name: str) -> str:
        """The log's path, once its name is checked (no creation: the first output creates it).

        A name that is no file name, or names a symlink, a FIFO, a socket or a
        directory, refuses the start (OSError naming the path), as storage/safeopen's
        ``open_append`` would; a regular file is appended to; a missing one is fine.
        """
        path = os.path.join(self.logs_path, name)
        if self.logs is None:
            raise OSError(errno.EBADF, "no logs directory was given", path)
        if not name or "/" in name or name in (".", ".."):
            raise OSError(errno.EINVAL, "not a file name in the logs directory", path)
        try:
            mode = os.stat(name, dir_fd=self.logs, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return path
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror or str(exc), path) from None
        if stat.S_ISREG(mode):
            return path
        if stat.S_ISLNK(mode):
            code = errno.ELOOP
        elif stat.S_ISDIR(mode):
            code = errno.EISDIR
        elif stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            code = errno.ENXIO
        else:
            raise OSError(errno.EPERM, "is not a regular file", path)
        raise OSError(code, _UNSAFE[code], path)

    @staticmethod
    def _open_log(output: Output) -> int:
        """The agent's log, created in its logs directory when missing (a regular file only).

        The same checks as storage/safeopen's ``open_append``: a symlink, a FIFO
        or a directory at the name is refused (OSError naming the path).
        """
        try:
            fd = os.open(output.name, _LOG, 0o644, dir_fd=output.logs)
        except OSError as exc:
            reason = _UNSAFE.get(exc.errno or 0) or exc.strerror or str(exc)
            raise OSError(exc.errno, reason, output.path) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EPERM, "is not a regular file", output.path)
            os.set_blocking(fd, True)
        except OSError:
            os.close(fd)
            raise
        return fd

    # -------------------------------------------------------------- output
    def _pump(self, output: Output, size: int = CHUNK) -> int:
        """One read of at most ``size`` bytes of an agent's pipe into its log; EOF
        closes both.  How many bytes came: 0 at EOF or when none are there now."""
        try:
            data = os.read(output.fd, size)
        except BlockingIOError:
            return 0
        except OSError:
            data = b""
        if data:
            self._write(output, data)
        else:
            self._close_output(output)
        return len(data)

    def _drain(self, output: Output) -> None:
        """What the pipe holds now, into the log: everything the agent wrote before it
        exited.  Bounded by FIONREAD, so a grandchild that keeps writing cannot hold
        the exit report back."""
        if output.fd < 0:
            return
        count = array.array("i", [0])
        try:
            fcntl.ioctl(output.fd, termios.FIONREAD, count, True)
        except OSError:
            return
        left = count[0]
        # past what FIONREAD counted, one more read: it meets the EOF of an agent
        # that left no descendant (a silent one at once), or a grandchild's newer
        # bytes (then it is pumped on, and the exit says so)
        while output.fd >= 0:
            got = self._pump(output, min(left, CHUNK) if left > 0 else CHUNK)
            if not got or left <= 0:
                return
            left -= got

    def _write(self, output: Output, data: bytes) -> None:
        """Append to the log, created at the first bytes; a refusal is said once."""
        if output.refused:
            return
        try:
            if output.log is None:
                output.log = self._open_log(output)
            view = memoryview(data)
            while view:
                view = view[os.write(output.log, view) :]
        except OSError as exc:
            output.refused = True
            reason = exc.strerror or str(exc)
            error = f"{exc.filename or output.path}: {reason}"
            message = {"op": "log_refused", "id": output.worker_id, "task_id": output.task_id}
            if not self._send(message | {"error": error}):
                print(f"teamexec supervisor: {output.worker_id}: {error}", file=sys.stderr)

    def _close_output(self, output: Output) -> None:
        self.selector.unregister(output.fd)
        del self.outputs[output.fd]
        os.close(output.fd)
        output.fd = -1
        if output.log is not None:
            os.close(output.log)
            output.log = None
        if output.pumping:  # its exit said "pumping": the executor need not wait for us now
            self._send({"op": "output_closed", "id": output.worker_id})

    def _spawn(self, request: dict[str, Any], *, stdin: int, out: int) -> int:
        argv = [str(a) for a in request["argv"]]
        env = {str(k): str(v) for k, v in request["env"].items()}
        # posix_spawn has no chdir: the agent inherits ours.  Every time, not once: the
        # directory may have been removed (or replaced) since the last agent started
        os.chdir(str(request.get("cwd") or "."))
        return os.posix_spawn(
            self._which(argv[0], env.get("PATH", os.defpath)),
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),  # one pipe: stdout and stderr in order
                (os.POSIX_SPAWN_DUP2, out, 2),
            ],
            setsid=True,  # its own session and process group: signals reach its children
            # Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive an exec
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )

    def _which(self, command: str, path: str) -> str:
        """The executable as a shell would find it in the agent's own PATH (cached)."""
        if "/" in command:
            return command
        key = (command, path)
        found = self.paths.get(key)
        if found is None:
            for directory in path.split(os.pathsep):
                candidate = os.path.join(directory or ".", command)
                if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                    found = candidate
                    break
            else:
                raise OSError(errno.ENOENT, "command not found", command)
            self.paths[key] = found
        return found

    def _reap(self, agent: Agent) -> None:
        self.selector.unregister(agent.pidfd)
        os.close(agent.pidfd)
        try:
            _pid, status = os.waitpid(agent.pid, 0)
            agent.code = exit_code(status)
        except ChildProcessError:
            agent.code = 255
        agent.ts = time.time()
        output, agent.output = agent.output, None
        if output is not None:  # its last words in the log before its report
            self._drain(output)
        if agent.forgotten:
            self.agents.pop(agent.worker_id, None)
            return
        crash_point("supervisor-report")
        message = {"op": "exit", "id": agent.worker_id, "code": agent.code, "ts": agent.ts}
        if output is not None and output.fd >= 0:  # a descendant holds its pipe: pumped on
            message["pumping"] = output.pumping = True
        sent = self._send(message)
        if not sent and self.agents.pop(agent.worker_id, None) is not None:
            self._report(agent)  # orphan mode (a failed send has reported it already)
        if not any(a.code is None for a in self.agents.values()):
            crash_point("worker-report")  # reported, no agent running: "not exited yet"

    def _report(self, agent: Agent) -> None:
        if agent.forgotten:
            return
        try:
            write_report(agent)
        except OSError as exc:  # nowhere else to say it: the resume finds the claim dead
            print(f"teamexec supervisor: {agent.worker_id}: {exc}", file=sys.stderr)

    def _send(self, message: dict[str, Any]) -> bool:
        """False when the executor is gone (the caller reports through the inbox)."""
        if self.sock is None:
            return False
        try:
            self.sock.sendmsg([json.dumps(message).encode()])
        except OSError:
            self._orphaned()
            return False
        return True


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m teamexec.worker.supervisor <socket fd>", file=sys.stderr)
        return 2
    fd = int(argv[0])
    os.set_inheritable(fd, False)  # agents must not hold it: our death must be an EOF
    sock = socket.socket(fileno=fd)
    return Supervisor(sock).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
