"""The view writer's thread yields the cores to the loop (storage/viewwriter.py)."""

from __future__ import annotations

import os
import threading

from teamexec.storage.viewwriter import NICENESS, ViewWriter


def test_the_writer_thread_runs_at_a_lower_priority_than_the_loop(tmp_path):
    lock = tmp_path / ".lock"
    seen: dict[str, int] = {}

    def write_one(task_id: str) -> None:
        seen[task_id] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    writer = ViewWriter(lambda: os.open(lock, os.O_RDWR | os.O_CREAT, 0o644), write_one)
    writer.submit(["A-1", "A-2"])
    writer.drain()
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == {"A-1": min(ours + NICENESS, 19), "A-2": min(ours + NICENESS, 19)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours  # ours unchanged
