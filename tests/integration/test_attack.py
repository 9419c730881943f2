"""Regression tests for "what an attack on teamexec found" (issue 11), real processes."""

from __future__ import annotations

import json
import os

from sessionkit import runs, start_teamexec, tasks, teamexec, wait_for, write_session


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_hostile_inbox_files_are_rejected_with_a_reason_and_the_run_goes_on(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(
        json.dumps({"id": "o1", "from": "b", "type": "task_complete", "data": {"task_id": "B-001"}})
    )
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    inbox = root / ".msg" / "inbox"
    os.mkfifo(inbox / "fifo.json")
    (inbox / "dir.json").mkdir()
    (inbox / "zero.json").symlink_to("/dev/zero")
    (inbox / "outside.json").symlink_to(outside)
    (inbox / "hugeint.json").write_text('{"id": "h", "n": ' + "9" * 5000 + "}")
    (inbox / "nan.json").write_text('{"id": "n", "x": NaN}')
    rejected = root / ".msg" / "rejected"
    names = {"fifo.json", "dir.json", "zero.json", "outside.json", "hugeint.json", "nan.json"}
    wait_for(
        lambda: names <= {p.name for p in rejected.iterdir()} if rejected.is_dir() else False,
        what="rejections",
    )
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert code == 0, out + err
    assert "Traceback" not in err
    reasons = {p.name: p.read_text() for p in rejected.glob("*.reason")}
    assert "not a regular file" in reasons["fifo.json.reason"]
    assert "directory" in reasons["dir.json.reason"]
    assert "symbolic link" in reasons["zero.json.reason"]
    assert "symbolic link" in reasons["outside.json.reason"]
    assert "not JSON" in reasons["hugeint.json.reason"]
    assert "not JSON" in reasons["nan.json.reason"]
    assert len(runs(root, "B-001")) == 1  # the outside completion was not applied


def test_symlinks_leading_out_stop_check_and_run_and_nothing_is_written_outside(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"worker": "sh"})
    (root / "logs").mkdir()
    (root / "logs" / "A-001.1.prompt").symlink_to(outside)
    (root / "wisdom").mkdir()
    (root / "wisdom" / "issues.md").symlink_to(outside)
    (root / ".msg" / "rejected").mkdir(parents=True)
    (root / ".msg" / "rejected").rmdir()
    (root / ".msg" / "rejected").symlink_to(elsewhere, target_is_directory=True)
    check = teamexec("check", str(root))
    assert check.returncode == 1
    for rel in ("logs/A-001.1.prompt", "wisdom/issues.md", ".msg/rejected"):
        assert f"{root / rel}: " in check.stderr, check.stderr
    run = teamexec("run", str(root))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert outside.read_text() == "precious\n"
    assert list(elsewhere.iterdir()) == []
    assert not (root / "tasks").exists()  # nothing written: the run stopped at validation


def test_a_log_symlink_placed_mid_run_is_not_written_through(tmp_path):
    """A worker (or anyone) plants logs/<T>.2.log while attempt 1 runs."""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    root = write_session(
        tmp_path / "s",
        {"A-001": []},
        behaviour={"A-001": {"wait_for": "go", "fail_times": 1}},
        specs={"a": {"max_retries": 2}},
    )
    proc = start_teamexec("run", str(root), "--backoff-scale", "0")
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "logs" / "A-001.2.log").symlink_to(outside)
    (root / "logs" / "A-001.2.prompt").symlink_to(outside)
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert "Traceback" not in err
    assert outside.read_text() == "precious\n"
    assert code in (0, 1), out + err
    assert tasks(root)["A-001"]["status"] in ("completed", "failed")
