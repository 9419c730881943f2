"""The executor lock: exclusive across processes, released by the kernel on death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sessionkit import wait_for

from teamexec.errors import Locked
from teamexec.lock import ExecutorLock, lock_holder

HOLDER = """
import sys, time
from pathlib import Path
from teamexec.lock import ExecutorLock
lock = ExecutorLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def hold(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_acquirer_fails_at_once_naming_the_holder(tmp_path):
    path = tmp_path / ".teamexec.lock"
    proc = hold(path)
    try:
        started = time.monotonic()
        with pytest.raises(Locked) as caught:
            ExecutorLock(path).acquire()
        assert time.monotonic() - started < 1
        assert f"pid {proc.pid} (started 20" in str(caught.value)
        assert caught.value.exit_code == 3
        assert lock_holder(path)["pid"] == proc.pid
    finally:
        proc.kill()
        proc.communicate()


def test_sigkill_of_the_holder_releases_the_lock(tmp_path):
    path = tmp_path / ".teamexec.lock"
    proc = hold(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    wait_for(lambda: lock_holder(path) is None, what="lock release")
    with ExecutorLock(path):
        assert lock_holder(path) is not None  # we hold it now


def test_lock_holder_needs_no_file(tmp_path):
    assert lock_holder(tmp_path / "none") is None
    assert not (tmp_path / "none").exists()
