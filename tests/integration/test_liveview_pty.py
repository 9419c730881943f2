"""The live view on a real pseudo-terminal; plain lines when stdout is a pipe."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from sessionkit import REPO, teamexec, write_session


def run_in_pty(args: list[str], timeout: float = 90) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "TEAMEXEC_AGENT"}
    env.update(COLUMNS="120", LINES="40", TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "teamexec", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
    finally:
        code = proc.wait(timeout=30)
        os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_the_live_view_shows_running_tasks_on_a_terminal(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": ["A-001"]},
        behaviour={"A-001": {"sleep": 1.5, "progress": 40}},
    )
    code, out = run_in_pty(["run", str(root)])
    assert code == 0, out
    assert "TASK COMPLETE" in out
    assert "▶" in out and "A-001" in out and "#1" in out  # a running row: task, role, attempt
    assert "halfway" in out  # its last progress message
    assert "pipeline" in out and "0/2" in out
    assert "[bold]" not in out  # no markup leaks


def test_plain_lines_when_piped(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    result = teamexec("run", str(root))
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout and "▶" not in result.stdout
    assert "[a] A-001 complete" in result.stdout
