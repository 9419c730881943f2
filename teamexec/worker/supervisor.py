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
  memfd holding the prompt).  The supervisor creates the log itself
  (``openat`` on the directory's descriptor, never following a symlink, a
  regular file only), so the executor's thread never pays for a file
  creation.  When the JSON is too large for one packet it travels in another
  descriptor (a memfd) and the packet says ``{"op": "start", "spec_fd": <its
  index among the descriptors>}``.  ``"sync": <index>``: that descriptor is
  the executor's journal, written but not fdatasynced — the supervisor
  fdatasyncs it before the spawn, so the claim is durable before the agent
  starts while the executor's loop goes on (a failed fdatasync refuses the
  start).  ``"ack": [...]``: as the ack packet below, carried by the start;
  ``{"op": "ack", "ids": [...]}``: these exits are applied and committed;
  ``{"op": "forget", "ids": [...]}``: never report these (the executor stopped them).
- supervisor -> executor
  ``{"op": "started", "id", "pid", "started_at"}`` (the agent's pid and start
  time, as psutil computes it) or ``{"op": "refused", "id", "error"}`` (one
  line: the command not found, the cwd missing, the log not creatable);
  ``{"op": "exit", "id", "code", "ts"}``: the agent ended (``code`` as a shell
  reports it: 128+n for a signal; ``ts`` epoch seconds).

Each agent runs in its own session and process group (signals for timeouts
and stops go to that group), with the prompt on stdin and stdout and stderr
appended to the log.  The supervisor reaps with pidfds and keeps every exit
until the executor acks it.  **Orphan mode**: on EOF (the executor was
SIGKILLed, or left with ``--detach``) it writes every unacked exit, and every
later one, into the inbox exactly as lean_worker.sh does (a temporary file,
then a rename), and exits when no agent is left.  Standard library only.
"""

from __future__ import annotations

import array
import errno
import json
import os
import selectors
import signal
import socket
import stat
import sys
import time
from dataclasses import dataclass
from typing import Any

from teamexec.core.timestamps import iso
from teamexec.worker.crashpoints import crash_point

MAX_PACKET = 256 * 1024  # a start spec larger than this travels in a memfd
_FDS = array.array("i").itemsize
# a log: appended to, created when missing; never through a symlink; a FIFO cannot hang
# the open (O_NONBLOCK, cleared once it is known to be a regular file)
_LOG = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UNSAFE = {
    errno.ELOOP: "is a symbolic link; not followed",
    errno.EISDIR: "is a directory, not a file",
    errno.ENXIO: "is not a regular file (FIFO or socket)",
}


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

    # ------------------------------------------------------------- the loop
    def run(self) -> int:
        while self.sock is not None or any(a.code is None for a in self.agents.values()):
            for key, _mask in self.selector.select():
                if key.data is None:
                    if self.sock is not None:  # a failed send may have closed it meanwhile
                        self._receive()
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
                os.close(self.logs)
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
            log = self._open_log(str(request.get("log") or ""))
            try:
                before = self.clock.now_ns()
                pid = self._spawn(request, stdin=fds[0], log=log)
                window = (before, self.clock.now_ns())
            finally:
                os.close(log)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            name = exc.filename or (request.get("argv") or ["?"])[0]
            self._send({"op": "refused", "id": wid, "error": f"{name}: {reason}"})
            return
        pidfd = os.pidfd_open(pid)
        agent = Agent(wid, pid, pidfd, dict(request["report"]))
        self.agents[wid] = agent
        self.selector.register(pidfd, selectors.EVENT_READ, agent)
        started = self.clock.started_at(pid, window)
        self._send({"op": "started", "id": wid, "pid": pid, "started_at": started})

    def _open_log(self, name: str) -> int:
        """The agent's log, created in the logs directory when missing (a regular file only).

        The same checks as storage/safeopen's ``open_append``: a symlink, a FIFO
        or a directory at the name is refused (OSError naming the path).
        """
        path = os.path.join(self.logs_path, name)
        if self.logs is None:
            raise OSError(errno.EBADF, "no logs directory was given", path)
        if not name or "/" in name or name in (".", ".."):
            raise OSError(errno.EINVAL, "not a file name in the logs directory", path)
        try:
            fd = os.open(name, _LOG, 0o644, dir_fd=self.logs)
        except OSError as exc:
            reason = _UNSAFE.get(exc.errno or 0) or exc.strerror or str(exc)
            raise OSError(exc.errno, reason, path) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EPERM, "is not a regular file", path)
            os.set_blocking(fd, True)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _spawn(self, request: dict[str, Any], *, stdin: int, log: int) -> int:
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
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
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
        if agent.forgotten:
            del self.agents[agent.worker_id]
            return
        crash_point("supervisor-report")
        sent = self._send({"op": "exit", "id": agent.worker_id, "code": agent.code, "ts": agent.ts})
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
