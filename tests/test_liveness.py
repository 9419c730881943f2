"""Liveness facts about real processes, including the reused-pid case."""

from __future__ import annotations

import os
import subprocess
import sys

from sessionkit import wait_for

from teamexec.liveness import find_worker, pid_matches, process_start_time


def test_own_process_matches_its_start_time():
    started = process_start_time(os.getpid())
    assert pid_matches(os.getpid(), started)


def test_a_reused_pid_does_not_match():
    """Same pid, different start time: another program now owns the number."""
    started = process_start_time(os.getpid())
    assert not pid_matches(os.getpid(), started - 30)
    assert not pid_matches(os.getpid(), None)


def test_a_dead_pid_does_not_match():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(proc.pid)
    proc.wait()
    assert not pid_matches(proc.pid, started)


def test_find_worker_by_its_environment():
    code = (
        "import subprocess, sys; "
        "subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"
    )
    env = {**os.environ, "TEAMEXEC_WORKER_ID": "w-find-me"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        found = wait_for(lambda: find_worker("w-find-me"), what="worker process")
        assert found[0] == proc.pid  # the worker, not the agent it started
        assert find_worker("w-nobody") is None
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
