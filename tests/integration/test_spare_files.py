"""The executor's spare files (storage/spares.py) as a user sees them: a run
leaves none, and those a killed run left are never reported by `check`,
never read as tasks, and taken over and removed by the next run."""

from __future__ import annotations

import json

from sessionkit import tasks, teamexec, write_session


def test_a_run_leaves_no_spare_and_no_temporary_file(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"], "C-001": ["B-001"]})
    assert teamexec("run", str(root)).returncode == 0
    assert not (root / ".teamexec.spare").exists()
    assert sorted(p.name for p in (root / "tasks").iterdir()) == [
        ".lock",
        "A-001.json",
        "B-001.json",
        "C-001.json",
    ]
    assert {t["status"] for t in tasks(root).values()} == {"completed"}


def test_spares_a_killed_run_left_are_not_tasks(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    spare_dir = root / ".teamexec.spare"
    spare_dir.mkdir()
    stale = {"id": "A-001", "subject": "A-001", "status": "completed", "owner": "a"}
    (spare_dir / "0").write_text(json.dumps(stale))  # an old view, swapped out
    (spare_dir / "1").write_text("")
    checked = teamexec("check", str(root), "--json")
    assert checked.returncode == 0, checked.stderr
    view = json.loads(checked.stdout)
    assert view["progress"]["done"] == 0 and not view["warnings"]
    assert ".teamexec.spare" not in checked.stdout + checked.stderr
    assert teamexec("run", str(root)).returncode == 0
    assert not spare_dir.exists()
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
