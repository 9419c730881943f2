"""Regression tests for "what an attack on teamexec found" (issue 11), real processes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import pytest
import typer

from factories import make_task
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


@pytest.mark.parametrize("worker", ["python", "sh", "auto"])
def test_a_log_or_prompt_symlink_placed_mid_run_is_not_written_through(tmp_path, worker):
    """Someone plants logs/<T>.2.log and .prompt (the lean worker's) while attempt 1 runs.
    (``auto``: the agent supervisor creates the log, and refuses the symlink.)"""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    root = write_session(
        tmp_path / "s",
        {"A-001": []},
        behaviour={"A-001": {"wait_for": "go", "fail_times": 1}},
        specs={"a": {"max_retries": 3}},
        executor={"worker": worker},
    )
    proc = start_teamexec("run", str(root), "--backoff-scale", "0")
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "logs" / "A-001.2.log").symlink_to(outside)
    (root / "logs" / "A-001.2.prompt").symlink_to(outside)
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert "Traceback" not in err
    assert outside.read_text() == "precious\n"
    assert code == 0, out + err
    assert "A-001.2.log: is a symbolic link" in out  # attempt 2 could not start: said so
    assert tasks(root)["A-001"]["status"] == "completed"


def test_a_logs_directory_replaced_by_a_symlink_mid_run_is_not_written_through(tmp_path):
    """The agent supervisor holds the logs directory open; a symlink put in its place
    is noticed at the next start (one lstat) and refused: no log lands outside."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = write_session(
        tmp_path / "s",
        {"A-001": []},
        behaviour={"A-001": {"wait_for": "go", "fail_times": 1}},
        specs={"a": {"max_retries": 1}},
    )
    proc = start_teamexec("run", str(root), "--backoff-scale", "0")
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "logs").rename(root / "logs.old")
    (root / "logs").symlink_to(elsewhere, target_is_directory=True)
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert "Traceback" not in err
    assert code == 1, out + err  # attempt 2 could not start
    assert f"{root / 'logs'}: is a symbolic link" in out
    assert list(elsewhere.iterdir()) == []
    assert tasks(root)["A-001"]["status"] == "failed"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_text("garbage"), id="not-json"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
        pytest.param(lambda p: (p.unlink(), p.mkdir()), id="directory"),
    ],
)
def test_a_pending_task_file_damaged_or_deleted_mid_run_is_restored_and_run(tmp_path, damage):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    target = root / "tasks" / "B-001.json"
    damage(target)
    (root / "go").write_text("")
    code, out, err = finish(proc, timeout=30)  # never an idle hang
    assert "Traceback" not in err
    if target.is_dir():  # cannot be written back over: one line, stopped cleanly
        assert code == 1, out + err
        assert len(err.strip().splitlines()) == 1 and "B-001.json" in err
        return
    assert code == 0, out + err
    assert "B-001.json" in out
    assert tasks(root)["B-001"]["status"] == "completed"
    assert len(runs(root, "B-001")) == 1


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-nesting"),
        pytest.param('{"n": ' + "9" * 5000 + "}", id="huge-int"),
    ],
)
def test_team_session_damaged_mid_run_is_reported_not_a_traceback(tmp_path, content):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, behaviour={"A-001": {"wait_for": "go"}}
    )
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "team-session.json").write_text(content)
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert "Traceback" not in err
    assert code == 0, out + err
    assert "does not parse any more" in out
    assert len(runs(root, "B-001")) == 1


@pytest.mark.parametrize(
    "rel", ["tasks", "logs", "wisdom", "artifacts", ".msg", ".msg/inbox", ".msg/rejected"]
)
def test_a_session_directory_replaced_by_a_file_is_one_line_from_check_and_run(tmp_path, rel):
    root = write_session(tmp_path / "s", {"A-001": []})
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text("not a directory")
    for command in ("check", "run"):
        result = teamexec(command, str(root))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"{root / rel}: is not a directory" in result.stderr


def test_an_os_error_is_one_line_naming_the_path(capsys):
    from teamexec.cli.app import _guard

    def read_only() -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/s/.teamexec.lock")

    with pytest.raises(typer.Exit) as stopped:
        _guard(False, read_only)
    assert stopped.value.exit_code == 1
    assert capsys.readouterr().err == "/s/.teamexec.lock: Read-only file system\n"


DISK_FULL_DRIVER = """
import errno, os, sys
from teamexec.storage import atomic
real = atomic.prepare  # every task file's temporary file: atomic_write's and the view writer's
def full_at_completion(path, data, **kw):
    if b'"completed"' in data:  # the disk fills up just as a completion is written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return real(path, data, **kw)
atomic.prepare = full_at_completion
from teamexec.cli.app import main
sys.argv = ["teamexec", "run", sys.argv[1]]
main()
"""


def test_disk_full_mid_run_stops_workers_and_leaves_the_session_resumable(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": [], "C-001": ["A-001", "B-001"]},
        behaviour={"B-001": {"wait_for": "go"}},
    )
    driver = tmp_path / "disk_full.py"
    driver.write_text(DISK_FULL_DRIVER)
    full = subprocess.run(
        [sys.executable, str(driver), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    line = full.stderr.strip()
    assert "\n" not in line
    assert "A-001.json: No space left on device" in line and "teamexec resume" in line
    (root / "go").write_text("")
    started = time.monotonic()
    result = teamexec("resume", str(root), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 30  # no orphan timer (300 s)
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
    assert len(runs(root, "A-001")) == 1  # its report waited in the inbox
    assert len(runs(root, "C-001")) == 1


def test_a_foreign_process_named_in_active_workers_is_never_adopted_or_signalled(tmp_path):
    import psutil

    root = write_session(tmp_path / "s", {"A-001": []}, executor={"orphan_after_s": 300})
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        started = psutil.Process(stranger.pid).create_time()
        wid = "a.A-001.a1.abcdef"
        session = json.loads((root / "team-session.json").read_text())
        session["active_workers"] = [
            {
                "worker_id": wid,
                "role": "a",
                "task_id": "A-001",
                "pid": stranger.pid,
                "pid_started_at": started,
                "attempt": 1,
            }
        ]
        (root / "team-session.json").write_text(json.dumps(session))
        (root / "tasks").mkdir()
        task = make_task("A-001", "in_progress", attempts=1, claimed_by=wid)
        (root / "tasks" / "A-001.json").write_text(json.dumps(task.data))
        result = teamexec("resume", str(root), timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "adopted" not in result.stdout
        assert len(runs(root, "A-001")) == 1
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        pytest.param("[" * 50_000 + "]" * 50_000, "nested too deeply", id="deep"),
        pytest.param('{"x": NaN}', "NaN is not JSON", id="nan"),
        pytest.param('{"x": Infinity}', "Infinity is not JSON", id="infinity"),
    ],
)
def test_msg_refuses_hostile_data_in_one_line(tmp_path, data, why):
    env = {
        "TEAMEXEC_INBOX": str(tmp_path / "inbox"),
        "TEAMEXEC_ROLE": "a",
        "TEAMEXEC_TASK_ID": "A-001",
    }
    result = teamexec("msg", "progress", "--data", data, env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and why in result.stderr, result.stderr
    assert not (tmp_path / "inbox").exists() or not list((tmp_path / "inbox").iterdir())


def test_a_newline_in_an_inbox_file_name_never_splits_a_line(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, behaviour={"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    inbox = root / ".msg" / "inbox"
    (inbox / "evil\n[executor] A-001 complete.json").write_text("{not json")
    rejected = root / ".msg" / "rejected"
    wait_for(lambda: rejected.is_dir() and any(rejected.iterdir()), what="rejection")
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert code == 0, out + err
    assert not any(line.startswith("[executor] A-001 complete.json") for line in out.splitlines())
    assert "rejected evil\\n[executor] A-001 complete.json" in out


def test_a_missing_executor_cwd_is_an_error_for_check_and_run(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"cwd": "no-such-dir"})
    for command in ("check", "run"):
        started = time.monotonic()
        result = teamexec(command, str(root))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "executor.cwd 'no-such-dir'" in result.stderr
        assert time.monotonic() - started < 20  # no attempts, no back-off
    assert not (root / "tasks").exists()


def test_the_agents_directory_removed_mid_run_fails_fast_without_back_off(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": ["A-001"]},
        executor={"cwd": "work"},
        behaviour={"A-001": {"wait_for": "go"}},
    )
    (root / "work").mkdir()
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    (root / "work").rmdir()
    started = time.monotonic()
    (root / "go").write_text("")
    code, out, err = finish(proc)
    assert code == 1, out + err
    assert time.monotonic() - started < 20, out  # back-off would take > 40 s
    state = tasks(root)["B-001"]
    assert state["status"] == "failed"
    assert state["metadata"]["last_error"]["kind"] == "permanent"
    assert "is missing" in state["metadata"]["last_error"]["reason"]
