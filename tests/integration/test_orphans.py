"""In-progress tasks no worker holds (PROTOCOL §8): young orphans and own dead claims.

A young orphan (a foreign claim younger than ``orphan_after_s``) must be
judged again when it comes of age — the loop wakes for it — and an own claim
of a dead executor of this host is reset at once, without the timer.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from sessionkit import runs, tasks, teamexec, write_session
from teamexec.core.model import iso


def _claimed_task(root: Path, task_id: str, **metadata: object) -> None:
    (root / "tasks").mkdir(exist_ok=True)
    task = {
        "id": task_id,
        "subject": task_id,
        "description": "",
        "status": "in_progress",
        "owner": task_id.rsplit("-", 1)[0].lower(),
        "blocks": [],
        "blockedBy": [],
        "metadata": {"attempts": 1, "updated_at": iso(time.time()), **metadata},
    }
    (root / "tasks" / f"{task_id}.json").write_text(json.dumps(task, indent=2))


def test_a_young_orphan_is_rerun_when_it_comes_of_age(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, executor={"orphan_after_s": 2}
    )
    _claimed_task(root, "A-001", claimed_by="coordinator")  # a foreign claim, no worker
    started = time.monotonic()
    result = teamexec("resume", str(root), timeout=30)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "orphaned" in result.stdout
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
    assert len(runs(root, "A-001")) == 1
    assert 1.5 <= took < 20, took  # waited for its age, not for ever


def test_an_own_dead_claim_is_reset_at_once_without_the_timer(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"orphan_after_s": 300})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    claimer = {
        "worker_id": "a.A-001.a1.dead00",
        "host": socket.gethostname(),
        "pid": gone.pid,
        "pid_started_at": time.time() - 5,
    }
    _claimed_task(root, "A-001", claimed_by="a.A-001.a1.dead00", claimer=claimer)
    started = time.monotonic()
    result = teamexec("resume", str(root), timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 15
    assert tasks(root)["A-001"]["status"] == "completed"
    assert len(runs(root, "A-001")) == 1
    meta = tasks(root)["A-001"]["metadata"]
    assert "claimer" not in meta or meta["claimer"]["worker_id"] != "a.A-001.a1.dead00"
