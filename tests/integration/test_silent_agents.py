"""A plain agent's log is created at its first output (issue 15, round 3), real runs.

Under the supervisor an agent that prints nothing has no log file; everyone who
reads logs takes a missing one as empty: the error report, ``check``, the
report and its page.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil

from sessionkit import start_teamexec, tasks, teamexec, wait_for, write_session


def test_a_silent_agent_leaves_no_log_and_a_talking_one_gets_everything_in_order(tmp_path):
    talk = (
        'if [ "$TEAMEXEC_TASK_ID" = B-001 ]; then '
        "head -c 200000 /dev/zero | tr '\\0' x; echo; echo to-stdout; echo to-stderr >&2; "
        "echo 'last words'; exit 3; fi"
    )
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": []},
        specs={"b": {"max_retries": 0}},
        executor={"agent": ["sh", "-c", talk]},
    )
    result = teamexec("run", str(root))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert tasks(root)["A-001"]["status"] == "completed"
    assert sorted(p.name for p in (root / "logs").iterdir()) == ["B-001.1.log"]  # A: silent
    log = (root / "logs" / "B-001.1.log").read_text()
    assert log.endswith("x\nto-stdout\nto-stderr\nlast words\n") and len(log) == 200000 + 32
    error = tasks(root)["B-001"]["metadata"]["last_error"]
    assert error["log_tail"].endswith("to-stdout\nto-stderr\nlast words\nagent exited 3")


def test_a_silent_failure_is_reported_with_no_log_output_not_a_missing_file(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": []},
        specs={"a": {"max_retries": 0}},
        executor={"agent": ["sh", "-c", "exit 4"]},
    )
    result = teamexec("run", str(root))
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (root / "logs" / "A-001.1.log").exists()
    summary = result.stdout[result.stdout.index("PIPELINE FAILED") :]
    assert "no log output" in summary
    assert "A-001.1.log" not in summary  # no path to a file that is not there
    error = tasks(root)["A-001"]["metadata"]["last_error"]
    assert error["log_tail"].strip() == "agent exited 4"  # no log lines, only the summary
    check = teamexec("check", str(root))
    assert "A-001" in check.stdout and "no log output" in check.stdout, check.stdout
    assert "A-001.1.log" not in check.stdout
    report = teamexec("report", str(root))
    assert "no log output" in report.stdout and "A-001.1.log" not in report.stdout
    page = tmp_path / "page.html"
    html = teamexec("report", str(root), "--html", str(page))
    assert html.returncode in (0, 1), html.stdout + html.stderr
    assert "(no log output)" in page.read_text() and "A-001.1.log" not in page.read_text()
    stuck = json.loads((root / "report.json").read_text())["stuck"]
    assert [(row["id"], row["log"]) for row in stuck] == [("A-001", None)]


def test_a_symlink_planted_at_the_log_before_the_first_output_is_refused_and_said(tmp_path):
    """The start checked the name; the creation at the first output checks it again:
    nothing is written through, the run says so and goes on (the agent is not blocked)."""
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    agent = (
        'touch "$TEAMEXEC_SESSION/started"; '
        'while [ ! -e "$TEAMEXEC_SESSION/go" ]; do sleep 0.01; done; seq 1 100000'
    )
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"agent": ["sh", "-c", agent]})
    proc = start_teamexec("run", str(root))
    wait_for((root / "started").exists, what="the agent's start")
    (root / "logs" / "A-001.1.log").symlink_to(outside)
    (root / "go").write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert outside.read_text() == "precious\n"
    line = f"A-001: its log cannot be written: {root / 'logs' / 'A-001.1.log'}: is a symbolic link"
    assert line in out, out
    assert tasks(root)["A-001"]["status"] == "completed"


def test_a_grandchild_that_outlives_the_run_still_gets_its_output_logged(tmp_path):
    """The run ends without waiting for it; the supervisor stays, pumping (the log
    open), until the grandchild lets go of the pipe, then exits."""
    gate = tmp_path / "go"
    agent = f"(while [ ! -e {gate} ]; do sleep 0.01; done; echo grandchild) & echo parent"
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"agent": ["sh", "-c", agent]})
    try:
        result = teamexec("run", str(root))
        assert result.returncode == 0, result.stdout + result.stderr
        log = root / "logs" / "A-001.1.log"
        assert log.read_text() == "parent\n"
        pumping = [p for p in psutil.process_iter(["cmdline"]) if _holds(p, log)]
        assert len(pumping) == 1  # its supervisor, still there with the log open
    finally:
        gate.write_text("")  # the grandchild ends whatever happened
    wait_for(lambda: log.read_text() == "parent\ngrandchild\n", what="the grandchild's line")
    wait_for(lambda: not pumping[0].is_running(), what="the supervisor's exit")


def _holds(proc: psutil.Process, log: Path) -> bool:
    """Is ``proc`` an agent supervisor with ``log`` open?"""
    if "teamexec.worker.supervisor" not in " ".join(proc.info["cmdline"] or ()):
        return False
    try:
        return any(f.path == str(log) for f in proc.open_files())
    except psutil.Error:
        return False
