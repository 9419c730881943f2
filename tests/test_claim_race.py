"""Processes racing to claim the same 100 tasks never claim one twice."""

from __future__ import annotations

import json
import subprocess
import sys

from factories import make_task

from teamexec.store import TaskStore

RACER = """
import json, sys, time
from pathlib import Path
from teamexec.store import TaskStore
directory, name, gate, mode = sys.argv[1:5]
while not Path(gate).exists():
    time.sleep(0.001)
store = TaskStore(Path(directory))
won = []
if mode == "next":
    while (task := store.claim_next("a", {"a"}, name, now=time.time())) is not None:
        won.append(task.id)
else:
    for i in range(100):
        if store.claim(f"A-{i:03d}", name, now=time.time()) is not None:
            won.append(f"A-{i:03d}")
print(json.dumps(won))
"""


def race(tmp_path, mode):
    store = TaskStore(tmp_path / "tasks")
    store.write_many(make_task(f"A-{i:03d}") for i in range(100))
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(store.directory), f"w{n}", str(gate), mode],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    gate.write_text("")
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    claimed = [tid for won in results for tid in won]
    assert sorted(claimed) == [f"A-{i:03d}" for i in range(100)]  # each exactly once
    tasks, _ = TaskStore(store.directory).read_all()
    for n, won in enumerate(results):
        for tid in won:
            assert tasks[tid].claimed_by == f"w{n}"
            assert tasks[tid].attempts == 1


def test_claim_race(tmp_path):
    race(tmp_path, "each")


def test_claim_next_race(tmp_path):
    race(tmp_path, "next")
