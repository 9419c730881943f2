"""Liveness facts about real processes, including the reused-pid case."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from sessionkit import wait_for
from teamexec.executor.host import LocalHost
from teamexec.executor.liveness import find_worker, pid_matches, process_start_time

# A worker that starts an "agent" child inheriting its environment, then waits
# for its stdin to close: the test ends it, nobody sleeps on a timer.
WORKER = """
import subprocess, sys
agent = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                         stdin=subprocess.PIPE)
print(agent.pid, flush=True)
sys.stdin.read()
agent.stdin.close()
agent.wait()
"""


def test_own_process_matches_its_start_time():
    started = process_start_time(os.getpid())
    assert started == psutil.Process().create_time()
    assert pid_matches(os.getpid(), started)
    assert pid_matches(os.getpid(), started + 0.9)  # start times are coarse (clock ticks)


def test_a_reused_pid_does_not_match():
    """Same pid, different start time: another program now owns the number."""
    started = process_start_time(os.getpid())
    assert not pid_matches(os.getpid(), started - 30)
    assert not pid_matches(os.getpid(), started + 1.5)
    assert not pid_matches(os.getpid(), None)  # no start time recorded: proves nothing


def test_a_dead_pid_does_not_match():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(proc.pid)
    proc.wait()
    assert not pid_matches(proc.pid, started)
    assert process_start_time(proc.pid) is None or not pid_matches(proc.pid, started)


def test_a_zombie_does_not_match():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(proc.pid)
    try:
        # not reaped yet: the pid exists, as a zombie, with its old start time
        wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, what="zombie")
        assert not pid_matches(proc.pid, started)
    finally:
        proc.wait()


@pytest.mark.parametrize("pid", [0, -1, 2**22 + 12345], ids=["zero", "negative", "unused"])
def test_impossible_pids_do_not_match(pid):
    assert not pid_matches(pid, 1_800_000_000.0)
    assert process_start_time(pid) is None


def test_find_worker_finds_the_worker_not_its_agent():
    env = {**os.environ, "TEAMEXEC_WORKER_ID": "w-find-me"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        agent_pid = int(proc.stdout.readline())
        # /proc/<pid>/environ can read empty while the agent is still exec'ing
        wait_for(
            lambda: psutil.Process(agent_pid).environ().get("TEAMEXEC_WORKER_ID") == "w-find-me",
            what="agent environment",
        )
        found = find_worker("w-find-me")
        assert found == (proc.pid, process_start_time(proc.pid))  # the worker, not the agent
        assert pid_matches(*found)
        assert find_worker("w-nobody") is None
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    # gone with its process (the agent may take a moment longer to exit)
    wait_for(lambda: find_worker("w-find-me") is None, what="worker and agent gone")


def test_the_local_host_bundles_the_facts():
    live = LocalHost()
    started = live.process_start_time(os.getpid())
    assert live.pid_matches(os.getpid(), started)
    assert live.find_worker("w-nobody") is None
    assert abs(live.time() - psutil.Process().create_time()) < 24 * 3600 * 365
