"""Real processes racing to claim the same 100 tasks never claim one twice.

Each racer imports the store, says ``ready``, and blocks reading its stdin;
the test releases them all together by writing ``go`` once every racer is
ready — a barrier with no sleeps.  Each reports what it won; the disk must
agree, with every task claimed exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from factories import make_task
from teamexec.storage.store import TaskStore

N_TASKS = 100

RACER = """
import json, sys, time
from pathlib import Path
from teamexec.storage.store import TaskStore
directory, name, mode, count = sys.argv[1:5]
store = TaskStore(Path(directory))
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
won = []
if mode == "next":
    while (task := store.claim_next("a", {"a"}, name, now=time.time())) is not None:
        won.append(task.id)
else:
    # each racer walks the list from a different point so that they collide everywhere
    ids = [f"A-{i}" for i in range(int(count))]
    start = int(name[1:]) * 37 % len(ids)
    for task_id in ids[start:] + ids[:start]:
        if store.claim(task_id, name, now=time.time()) is not None:
            won.append(task_id)
print(json.dumps(won))
"""


def race(tmp_path, modes):
    store = TaskStore(tmp_path / "tasks")
    assert store.write_many(make_task(f"A-{i}") for i in range(N_TASKS)) == N_TASKS
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(store.directory), f"w{n}", mode, str(N_TASKS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n, mode in enumerate(modes)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [proc.returncode for proc in procs] == [0] * len(procs)
    claimed = sorted(tid for won in results for tid in won)
    assert claimed == sorted(f"A-{i}" for i in range(N_TASKS))  # each exactly once
    tasks, issues = TaskStore(store.directory).read_all()
    assert issues == []
    for n, won in enumerate(results):
        for tid in won:
            assert tasks[tid].claimed_by == f"w{n}"
            assert tasks[tid].attempts == 1
    assert sorted(p.name for p in store.directory.iterdir() if p.name.startswith(".")) == [".lock"]
    return results


@pytest.mark.slow
def test_claim_race(tmp_path):
    race(tmp_path, ["each"] * 4)


@pytest.mark.slow
def test_claim_next_race(tmp_path):
    results = race(tmp_path, ["next"] * 4)
    for won in results:  # each racer took its tasks in start order (numbers as numbers)
        assert won == sorted(won, key=lambda t: int(t.split("-")[1]))


@pytest.mark.slow
def test_claim_and_claim_next_race_each_other(tmp_path):
    race(tmp_path, ["each", "next", "each", "next"])
