"""The supervisor's protocol, spoken to a real supervisor process over its socketpair.

No executor: the test is the executor's end of the socket — it gives the
logs directory (a descriptor, SCM_RIGHTS), sends starts (a prompt memfd and
the log's name: the supervisor creates the log), reads replies and exits,
acks, forgets, and closes the socket to put the supervisor in orphan mode.
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from sessionkit import wait_for
from teamexec.worker.supervisor import Supervisor, _Clock, build_report, exit_code


@pytest.fixture
def supervisor(tmp_path):
    """Start supervisors; whatever a failing test leaves is killed and closed."""
    links: list[Link] = []

    def start(env: dict[str, str] | None = None, *, logs: bool = True) -> Link:
        links.append(Link(tmp_path, env, logs=logs))
        return links[-1]

    yield start
    for link in links:
        link.close()
        if link.proc.poll() is None:
            link.proc.kill()
        link.proc.wait(timeout=20)


class Link:
    """A supervisor process and our end of its socket."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None, logs: bool = True):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "teamexec.worker.supervisor", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
        )
        theirs.close()
        self.sock.settimeout(20)
        self.inbox = tmp_path / "inbox"
        self.tmp = tmp_path / "tmp"
        self.inbox.mkdir()
        self.tmp.mkdir()
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        if logs:
            self.give_logs(self.logs)

    def give_logs(self, directory: Path) -> None:
        """The logs directory, as the executor gives it: a descriptor, not followed."""
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            self.sock.sendmsg(
                [json.dumps({"op": "logs", "path": str(directory)}).encode()],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))],
            )
        finally:
            os.close(fd)

    def start(
        self,
        wid: str,
        argv: list[str],
        prompt: bytes = b"the prompt\n",
        log: str = "",
        extra: tuple[int, ...] = (),
        **keys: Any,
    ) -> dict[str, Any]:
        """A start request; ``extra``: more descriptors after stdin, ``keys``: more keys."""
        request = {
            "op": "start",
            "id": wid,
            "argv": argv,
            "env": {"PATH": os.environ["PATH"], "TEAMEXEC_WORKER_ID": wid},
            "cwd": str(self.logs.parent),
            "log": log or f"{wid}.log",
            "report": {
                "role": "a",
                "task_id": "A-001",
                "attempt": 1,
                "inbox": str(self.inbox),
                "tmp": str(self.tmp),
            },
            **keys,
        }
        stdin = os.memfd_create("prompt")
        os.write(stdin, prompt)
        os.lseek(stdin, 0, os.SEEK_SET)
        try:
            self.sock.sendmsg(
                [json.dumps(request).encode()],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [stdin, *extra]))],
            )
        finally:
            os.close(stdin)
        return self.receive()

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendmsg([json.dumps(message).encode()])

    def receive(self) -> dict[str, Any]:
        data = self.sock.recv(65536)
        assert data, "the supervisor closed its socket"
        message: dict[str, Any] = json.loads(data)
        return message

    def close(self) -> None:
        self.sock.close()  # idempotent

    def gone(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout=timeout)


def test_an_agent_gets_its_prompt_its_log_its_group_and_its_exit_is_reported(tmp_path, supervisor):
    link = supervisor()
    script = 'cat; echo "pgid $(ps -o pgid= $$) pid $$" >&2; exit 3'
    started = link.start("w1", ["sh", "-c", script], prompt=b"hello agent\n")
    assert started["op"] == "started" and started["id"] == "w1"
    assert abs(started["started_at"] - time.time()) < 5  # as psutil computes it
    ended = link.receive()
    assert ended == {"op": "exit", "id": "w1", "code": 3, "ts": ended["ts"]}
    log = (link.logs / "w1.log").read_text()
    assert log.startswith("hello agent\n")  # stdin was the prompt, stdout the log
    words = log.splitlines()[-1].split()
    pgid, pid = words[1], words[3]
    assert pgid == pid == str(started["pid"])  # its own process group (stderr too)
    link.send({"op": "ack", "ids": ["w1"]})
    link.close()
    assert link.gone() == 0
    assert list(link.inbox.iterdir()) == []  # acked: never written to the inbox


def test_a_command_not_found_is_refused_with_the_reason(tmp_path, supervisor):
    link = supervisor()
    refused = link.start("w1", ["no-such-agent-command"])
    assert refused == {
        "op": "refused",
        "id": "w1",
        "error": "no-such-agent-command: command not found",
    }
    link.close()
    assert link.gone() == 0


def test_orphaned_it_reports_unacked_and_later_exits_through_the_inbox(tmp_path, supervisor):
    link = supervisor()
    gate = tmp_path / "go"
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done"
    assert link.start("done", ["true"])["op"] == "started"
    assert link.receive()["code"] == 0  # heard, never acked
    assert link.start("late", ["sh", "-c", wait + "; exit 5"])["op"] == "started"
    assert link.start("quiet", ["sh", "-c", wait])["op"] == "started"
    link.send({"op": "forget", "ids": ["quiet"]})  # the executor stopped it: no report
    link.close()  # the executor is gone
    done = link.inbox / "done.task_complete.json"
    wait_for(done.exists, what="the unacked exit in the inbox")
    assert link.proc.poll() is None  # agents still run: it waits for them
    gate.write_text("")
    assert link.gone() == 0  # no agent left: it exits
    names = sorted(p.name for p in link.inbox.iterdir())
    assert names == ["done.task_complete.json", "late.error.json"]
    late = json.loads((link.inbox / "late.error.json").read_text())
    assert late == build_report("late", {"role": "a", "task_id": "A-001", "attempt": 1}, 5, 0) | {
        "ts": late["ts"]
    }
    assert late["data"]["exit_code"] == 5 and late["summary"] == "agent exited 5"
    assert list(link.tmp.iterdir()) == []  # whole files only: written, then renamed


def test_a_killed_agent_is_reported_as_a_shell_would(tmp_path, supervisor):
    link = supervisor()
    started = link.start("w1", ["sleep", "30"])
    os.killpg(started["pid"], signal.SIGTERM)
    assert link.receive()["code"] == 128 + signal.SIGTERM
    link.close()
    link.gone()


def test_the_supervisor_report_crash_point_kills_it_before_the_report(tmp_path, supervisor):
    link = supervisor({"TEAMEXEC_CRASH_AT": "supervisor-report"})
    assert link.start("w1", ["true"])["op"] == "started"
    assert link.sock.recv(65536) == b""  # died without a word
    assert link.gone() == -signal.SIGKILL
    assert list(link.inbox.iterdir()) == []


def test_the_supervisor_start_crash_point_kills_it_before_it_starts_or_answers(
    tmp_path, supervisor
):
    link = supervisor({"TEAMEXEC_CRASH_AT": "supervisor-start"})
    marker = tmp_path / "ran"
    request = {"op": "start", "id": "w1", "argv": ["touch", str(marker)], "env": {}}
    stdin = os.memfd_create("prompt")
    link.sock.sendmsg(
        [json.dumps(request).encode()],
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [stdin]))],
    )
    os.close(stdin)
    assert link.sock.recv(65536) == b""  # died without a word
    assert link.gone() == -signal.SIGKILL
    assert not marker.exists()


def test_the_start_spec_may_travel_in_a_memfd(tmp_path, supervisor):
    """A spec too large for one packet (the requirement can take 64 KiB of env)."""
    link = supervisor()
    request = {
        "op": "start",
        "id": "big",
        "argv": ["sh", "-c", 'printf %s "$B0$B1$B2$B3" | wc -c'],
        "env": {"PATH": os.environ["PATH"], **{f"B{n}": "x" * 75_000 for n in range(4)}},
        "cwd": str(tmp_path),
        "log": "big.log",
        "report": {"role": "a", "task_id": "A-001", "attempt": 1, "inbox": "", "tmp": ""},
    }
    spec = os.memfd_create("spec")
    os.write(spec, json.dumps(request).encode())
    stdin = os.open(os.devnull, os.O_RDONLY)
    link.sock.sendmsg(
        [b'{"op": "start", "spec_fd": true}'],
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [stdin, spec]))],
    )
    for fd in (stdin, spec):
        os.close(fd)
    assert link.receive()["op"] == "started"
    assert link.receive()["code"] == 0
    assert (link.logs / "big.log").read_text().strip() == "300000"  # the whole spec arrived
    link.close()
    link.gone()


@pytest.mark.parametrize(("status", "code"), [(0, 0), (3 << 8, 3), (signal.SIGKILL, 137)])
def test_exit_codes_read_as_a_shell_reports_them(status, code):
    assert exit_code(status) == code


def test_the_last_exit_of_a_supervisor_that_died_with_our_acks_unread_is_not_lost(tmp_path):
    """The kernel answers ECONNRESET before the packets the peer sent before dying
    (it had our ack unread): the reader reads on, and the exit is delivered."""
    from teamexec.executor.host import Handle, Supervised, _Link

    backend = Supervised()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(["true"])
    proc.wait()
    link = _Link(proc, ours, (proc.pid, None), tmp_path, {})
    link.jobs["w1"] = Handle("w1", 4_000_000, 1.0, anchor=link.anchor)
    delivered: list[tuple] = []
    backend.sink = lambda *args: delivered.append(args)
    ours.sendmsg([b'{"op": "ack", "ids": []}'])  # never read: it dies first
    theirs.sendmsg([json.dumps({"op": "exit", "id": "w1", "code": 0, "ts": 5.0}).encode()])
    theirs.close()
    backend._read(link)  # to EOF
    ours.close()
    assert delivered == [("w1", 0, 5.0, "")]  # its exit, not "its supervisor died"


def test_the_supervisor_creates_the_log_and_appends_to_one_that_exists(tmp_path, supervisor):
    link = supervisor()
    (link.logs / "again.log").write_text("the first attempt's words\n")
    assert link.start("again", ["echo", "more"])["op"] == "started"
    assert link.receive()["code"] == 0
    assert (link.logs / "again.log").read_text() == "the first attempt's words\nmore\n"
    assert link.start("new", ["echo", "hi"])["op"] == "started"
    assert link.receive()["code"] == 0
    created = link.logs / "new.log"
    assert created.read_text() == "hi\n" and created.stat().st_mode & 0o777 == 0o644 & ~_umask()
    link.close()
    link.gone()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "slash"])
def test_a_log_that_is_no_regular_file_in_the_logs_directory_is_refused(tmp_path, supervisor, kind):
    """A symlink leading out is not followed, a FIFO cannot hang the supervisor, a
    directory is no log, and a name is a name (the agent never starts)."""
    link = supervisor()
    outside = tmp_path / "outside.log"
    name = "w1.log"
    if kind == "symlink":
        (link.logs / name).symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(link.logs / name)
    elif kind == "directory":
        (link.logs / name).mkdir()
    else:
        name = "../w1.log"
    marker = tmp_path / "ran"
    refused = link.start("w1", ["touch", str(marker)], log=name)
    assert refused["op"] == "refused" and refused["id"] == "w1"
    reason = {
        "symlink": "is a symbolic link; not followed",
        "fifo": "is not a regular file (FIFO or socket)",
        "directory": "is a directory, not a file",
        "slash": "not a file name in the logs directory",
    }[kind]
    assert refused["error"] == f"{link.logs / name}: {reason}"
    assert not outside.exists() and not marker.exists()
    assert link.start("w2", ["true"])["op"] == "started"  # it carries on
    link.close()
    link.gone()


def test_a_start_before_any_logs_directory_is_refused(tmp_path, supervisor):
    link = supervisor(logs=False)
    refused = link.start("w1", ["true"])
    assert refused["op"] == "refused" and "no logs directory was given" in refused["error"]
    link.close()
    assert link.gone() == 0


def test_a_start_time_known_from_the_spawns_clock_window_is_the_one_proc_gives():
    """The supervisor's start time without /proc equals psutil's for the same process."""
    clock = _Clock()
    for _ in range(20):
        before = clock.now_ns()
        proc = subprocess.Popen(["sleep", "5"])
        window = (before, clock.now_ns())
        try:
            if window[0] // clock.tick_ns != window[1] // clock.tick_ns:
                continue  # straddles a tick: /proc is read, as before
            assert clock.started_at(proc.pid, window) == clock.started_at(proc.pid)
            assert clock.started_at(proc.pid, window) == psutil.Process(proc.pid).create_time()
            return
        finally:
            proc.kill()
            proc.wait()
    pytest.fail("every spawn straddled a clock tick")


# ------------------------------------------------- logs: created at the first output
def test_an_agent_that_prints_nothing_leaves_no_log(tmp_path, supervisor):
    link = supervisor()
    assert link.start("quiet", ["true"])["op"] == "started"
    assert link.receive() == {"op": "exit", "id": "quiet", "code": 0, "ts": ANY_TS}
    assert link.start("failed", ["sh", "-c", "exit 4"])["op"] == "started"
    assert link.receive()["code"] == 4
    assert list(link.logs.iterdir()) == []  # no file created for either
    link.close()
    assert link.gone() == 0


def test_stdout_and_stderr_go_to_one_log_in_the_order_written(tmp_path, supervisor):
    link = supervisor()
    script = "echo one; echo two >&2; echo three; echo four >&2"
    assert link.start("w1", ["sh", "-c", script])["op"] == "started"
    assert link.receive()["code"] == 0
    assert (link.logs / "w1.log").read_text() == "one\ntwo\nthree\nfour\n"
    link.close()
    link.gone()


def test_the_last_line_before_a_failed_exit_is_in_the_log_when_the_exit_is_reported(
    tmp_path, monkeypatch
):
    """The pipe is drained before the report, not left to the loop.  A Supervisor
    driven by hand: the agent widens its pipe to 1 MiB and exits with 600 KB in it,
    the last words at the end; no pump runs, only the reap — and the log holds it
    all when the exit is sent."""
    monkeypatch.chdir(tmp_path)  # the supervisor chdirs to the agent's cwd to spawn
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.settimeout(20)
    sup = Supervisor(theirs)
    logs = tmp_path / "logs"
    logs.mkdir()
    sup.logs, sup.logs_path = os.open(logs, os.O_RDONLY | os.O_DIRECTORY), str(logs)
    agent = (
        "import fcntl, os, sys\n"
        "fcntl.fcntl(1, fcntl.F_SETPIPE_SZ, 1 << 20)\n"
        "os.write(1, b'x' * 600000 + b'\\nlast words\\n')\n"
        "sys.exit(3)\n"
    )
    request = {
        "id": "w1",
        "argv": [sys.executable, "-c", agent],
        "env": {"PATH": os.environ["PATH"]},
        "cwd": str(tmp_path),
        "log": "w1.log",
        "report": {"role": "a", "task_id": "A-001", "attempt": 1, "inbox": "", "tmp": ""},
    }
    stdin = os.open(os.devnull, os.O_RDONLY)
    try:
        sup._start(request, [stdin])
    finally:
        os.close(stdin)
    assert json.loads(ours.recv(65536))["op"] == "started"
    started = sup.agents["w1"]
    assert select.select([started.pidfd], [], [], 20)[0]  # it has exited
    assert not (logs / "w1.log").exists()  # nothing read yet: the loop never ran
    sup._reap(started)
    assert json.loads(ours.recv(65536))["code"] == 3
    log = (logs / "w1.log").read_bytes()
    assert len(log) == 600000 + 12 and log.endswith(b"\nlast words\n")
    for output in list(sup.outputs.values()):
        sup._pump(output)  # the EOF: pipe and log closed
    assert sup.outputs == {}
    ours.close()
    theirs.close()
    os.close(sup.logs)


def test_a_grandchild_holding_the_pipe_does_not_delay_the_exit_report(tmp_path, supervisor):
    link = supervisor()
    gate = tmp_path / "go"
    grandchild = f"(while [ ! -e {gate} ]; do sleep 0.01; done; echo grandchild) &"
    assert link.start("w1", ["sh", "-c", f"{grandchild} echo parent; exit 2"])["op"] == "started"
    ended = link.receive()  # the grandchild still runs, holding the pipe: said so
    assert ended == {"op": "exit", "id": "w1", "code": 2, "ts": ANY_TS, "pumping": True}
    log = link.logs / "w1.log"
    assert log.read_text() == "parent\n"
    link.send({"op": "ack", "ids": ["w1"]})
    gate.write_text("")
    assert link.receive() == {"op": "output_closed", "id": "w1"}  # the pipe's end
    assert log.read_text() == "parent\ngrandchild\n"
    link.close()
    assert link.gone() == 0


def test_an_orphaned_supervisor_pumps_a_grandchilds_output_to_its_end(tmp_path, supervisor):
    link = supervisor()
    gate = tmp_path / "go"
    grandchild = f"(while [ ! -e {gate} ]; do sleep 0.01; done; echo grandchild) &"
    assert link.start("w1", ["sh", "-c", f"{grandchild} echo parent"])["op"] == "started"
    assert link.receive()["code"] == 0
    link.close()  # the executor is gone: the unacked exit goes to the inbox
    wait_for((link.inbox / "w1.task_complete.json").exists, what="the report in the inbox")
    assert link.proc.poll() is None  # the pipe is still open: it pumps on
    gate.write_text("")
    assert link.gone() == 0
    assert (link.logs / "w1.log").read_text() == "parent\ngrandchild\n"


def test_a_large_output_arrives_whole(tmp_path, supervisor):
    link = supervisor()
    expected = subprocess.run(["seq", "1", "300000"], capture_output=True, check=True).stdout
    assert len(expected) > 1_000_000
    assert link.start("w1", ["seq", "1", "300000"])["op"] == "started"
    assert link.receive()["code"] == 0
    assert (link.logs / "w1.log").read_bytes() == expected
    link.close()
    link.gone()


def test_a_symlink_put_at_the_logs_name_after_the_start_is_refused_at_the_first_output(
    tmp_path, supervisor
):
    """Checked at the start (refused there, see above) and again at the creation:
    never written through; said once; the agent is not blocked and its exit reported."""
    link = supervisor()
    outside = tmp_path / "outside.log"
    gate = tmp_path / "go"
    script = f"while [ ! -e {gate} ]; do sleep 0.01; done; seq 1 100000; exit 5"
    assert link.start("w1", ["sh", "-c", script])["op"] == "started"
    (link.logs / "w1.log").symlink_to(outside)
    gate.write_text("")
    refused = link.receive()
    assert refused == {
        "op": "log_refused",
        "id": "w1",
        "task_id": "A-001",
        "error": f"{link.logs / 'w1.log'}: is a symbolic link; not followed",
    }
    assert link.receive()["code"] == 5  # its 600 KB were read (and dropped): it never blocked
    assert not outside.exists()
    link.close()
    assert link.gone() == 0


class _AnyTs:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, float)


ANY_TS = _AnyTs()


def test_an_agent_that_left_no_descendant_is_reported_done_with_its_output(tmp_path, supervisor):
    """Its pipe's EOF is met when its exit is: no "pumping", no output_closed to follow."""
    link = supervisor()
    for wid, argv in (("silent", ["true"]), ("talker", ["echo", "words"])):
        assert link.start(wid, argv)["op"] == "started"
        ended = link.receive()
        assert ended == {"op": "exit", "id": wid, "code": 0, "ts": ended["ts"]}
    assert not (link.logs / "silent.log").exists()
    assert (link.logs / "talker.log").read_text() == "words\n"
    link.send({"op": "ack", "ids": ["silent", "talker"]})
    link.close()
    assert link.gone() == 0


# A start that carries the journal: the executor writes a pass's claims and leaves
# the fdatasync to the supervisor, made before it starts the agent (issue 15).  A
# descriptor that cannot be fdatasynced (a pipe) proves the order: the start is
# refused and the agent never runs.


def test_the_journal_is_fdatasynced_before_the_spawn_or_nothing_starts(tmp_path, supervisor):
    link = supervisor()
    marker = tmp_path / "ran"
    read_end, write_end = os.pipe()
    try:
        refused = link.start("w1", ["touch", str(marker)], extra=(read_end,), sync=1)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert refused["op"] == "refused" and "the journal (fdatasync)" in refused["error"]
    journal = os.open(tmp_path / "journal", os.O_RDWR | os.O_CREAT)
    try:
        os.write(journal, b'{"id":"A-001"}\n')
        started = link.start("w2", ["touch", str(marker)], extra=(journal,), sync=1)
    finally:
        os.close(journal)
    assert started["op"] == "started"
    assert link.receive()["op"] == "exit"
    assert marker.exists()  # the second one ran; the refused one could not have made it
    link.close()
    assert link.gone() == 0


def test_a_start_carries_the_acks_of_earlier_exits(tmp_path, supervisor):
    link = supervisor()
    assert link.start("w1", ["true"])["op"] == "started"
    ended = link.receive()
    assert (ended["op"], ended["id"], ended["code"]) == ("exit", "w1", 0)
    assert link.start("w2", ["true"], ack=["w1"])["op"] == "started"
    assert link.receive()["id"] == "w2"
    link.send({"op": "ack", "ids": ["w2"]})
    link.close()  # orphaned: an unacked exit would be written to the inbox now
    assert link.gone() == 0
    assert list(link.inbox.iterdir()) == []  # w1 was acked by w2's start
