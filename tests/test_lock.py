"""The executor lock: exclusive across processes, released by the kernel on death."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types

import pytest

from sessionkit import wait_for
from teamexec.core.errors import Locked, StateCorrupt
from teamexec.executor.liveness import process_start_time
from teamexec.storage import lock as lock_module
from teamexec.storage.lock import ExecutorLock, lock_holder

# Holds the lock until its stdin closes: no sleeping, and the test decides when it ends.
HOLDER = """
import sys
from pathlib import Path
from teamexec.storage.lock import ExecutorLock
with ExecutorLock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""

# Tries once; reports how long the attempt took, whether it waited, and what it said.
CONTENDER = """
import json, sys, time
from pathlib import Path
from teamexec.core.errors import Locked, StateCorrupt
from teamexec.storage.lock import ExecutorLock
naps = []
time.sleep = naps.append  # a holder with details is reported without any retry nap
started = time.monotonic()
try:
    ExecutorLock(Path(sys.argv[1])).acquire()
except Locked as exc:
    print(json.dumps({"error": str(exc), "seconds": time.monotonic() - started, "naps": naps}))
    sys.exit(exc.exit_code)
print(json.dumps({"error": None}))
"""


def hold(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def let_go(proc):
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def forbid_naps(monkeypatch):
    """ "At once" without a wall clock: the lock code may not sleep at all (a blocking
    flock would hang past the generous bound below, which only catches that)."""

    def nap(seconds):
        raise AssertionError(f"the lock waited ({seconds} s) for a holder it could name")

    # the lock module's clock only: subprocess and the test's own waits keep theirs
    clock = types.SimpleNamespace(monotonic=time.monotonic, time=time.time, sleep=nap)
    monkeypatch.setattr(lock_module, "time", clock)


def test_second_acquirer_fails_at_once_naming_the_holder(tmp_path, monkeypatch):
    path = tmp_path / ".teamexec.lock"
    proc = hold(path)
    try:
        forbid_naps(monkeypatch)
        started = time.monotonic()
        with pytest.raises(Locked) as caught:
            ExecutorLock(path).acquire()
        assert time.monotonic() - started < 5  # not blocked on the holder's flock
        assert f"pid {proc.pid} (started 20" in str(caught.value)
        assert str(path) in str(caught.value)
        assert caught.value.exit_code == 3
    finally:
        let_go(proc)


def test_another_process_cannot_take_our_lock(tmp_path):
    path = tmp_path / ".teamexec.lock"
    with ExecutorLock(path):
        result = subprocess.run(
            [sys.executable, "-c", CONTENDER, str(path)], capture_output=True, text=True
        )
        assert result.returncode == 3, result.stderr
        report = json.loads(result.stdout)
        assert f"pid {os.getpid()} (started 20" in report["error"]
        assert report["naps"] == [] and report["seconds"] < 5  # no retry, never blocked
    # released: the same contender now succeeds
    result = subprocess.run([sys.executable, "-c", CONTENDER, str(path)], capture_output=True)
    assert result.returncode == 0, result.stderr


def test_holder_details_are_recorded_and_read_without_blocking(tmp_path, monkeypatch):
    path = tmp_path / ".teamexec.lock"
    proc = hold(path)
    try:
        forbid_naps(monkeypatch)
        started = time.monotonic()
        holder = lock_holder(path)
        assert time.monotonic() - started < 5  # not blocked on the holder's flock
        assert holder["pid"] == proc.pid
        assert abs(holder["pid_started_at"] - process_start_time(proc.pid)) < 1
        assert holder["started_at"].endswith("Z")
        assert "teamexec" in holder["command"] or "-c" in holder["command"]
    finally:
        let_go(proc)
    assert lock_holder(path) is None
    assert path.read_text() == ""  # a clean release leaves no stale details


def test_sigkill_of_the_holder_releases_the_lock(tmp_path):
    path = tmp_path / ".teamexec.lock"
    proc = hold(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    assert json.loads(path.read_text())["pid"] == proc.pid  # the dead holder's details remain
    wait_for(lambda: lock_holder(path) is None, what="lock release")
    with ExecutorLock(path) as lock:
        assert lock.held
        assert lock_holder(path)["pid"] == os.getpid()  # we hold it now
    assert not lock.held


def test_lock_holder_needs_no_file(tmp_path):
    assert lock_holder(tmp_path / "none") is None
    assert not (tmp_path / "none").exists()


def test_a_momentary_probe_does_not_make_acquire_fail(tmp_path):
    """`check` probes with a shared flock; `run` starting at that instant must still win."""
    path = tmp_path / ".teamexec.lock"
    path.write_text("")
    probe = os.open(path, os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    releaser = threading.Timer(0.05, os.close, [probe])
    releaser.start()
    try:
        with ExecutorLock(path):
            pass
    finally:
        releaser.join()


def test_a_holder_that_never_writes_details_is_still_a_holder(tmp_path):
    path = tmp_path / ".teamexec.lock"
    path.write_text("")
    other = os.open(path, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        with pytest.raises(Locked, match="another process"):
            ExecutorLock(path).acquire()
        assert lock_holder(path)["pid"] is None
    finally:
        os.close(other)


def test_one_object_cannot_acquire_twice(tmp_path):
    lock = ExecutorLock(tmp_path / ".teamexec.lock")
    with lock, pytest.raises(RuntimeError, match="already held"):
        lock.acquire()
    lock.release()  # releasing a released lock is harmless


def test_a_symlinked_lock_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / ".teamexec.lock").symlink_to(target)
    with pytest.raises(StateCorrupt, match="symbolic link"):
        ExecutorLock(tmp_path / ".teamexec.lock").acquire()
    assert not target.exists()
