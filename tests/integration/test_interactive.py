"""The interactive completion menu, driven through a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from sessionkit import REPO, write_session


def read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def run_in_pty(args, answers):
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "TEAMEXEC_AGENT"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "teamexec", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    transcript = b""
    try:
        for marker, answer in answers:
            transcript += read_until(master, marker)
            os.write(master, answer)
        transcript += read_until(master, b"\x00", timeout=30) if proc.poll() is None else b""
    finally:
        code = proc.wait(timeout=30)
        os.close(master)
    return code, transcript.decode("utf-8", "replace")


def test_interactive_archive(tmp_path):
    root = write_session(
        tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, completion_action="interactive"
    )
    code, out = run_in_pty(["run", str(root)], [(b"Choice [2]: ", b"1\n")])
    assert code == 0, out
    assert "TASK COMPLETE" in out
    assert "Archived" in out
    assert json.loads((root / "team-session.json").read_text())["status"] == "completed"


def test_interactive_export_asks_for_a_directory(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, completion_action="interactive")
    target = tmp_path / "exported"
    code, out = run_in_pty(
        ["run", str(root)],
        [(b"Choice [2]: ", b"3\n"), (b"Export artifacts to directory: ", f"{target}\n".encode())],
    )
    assert code == 0, out
    assert (target / "a-001.md").exists()
    assert json.loads((root / "team-session.json").read_text())["status"] == "completed"


def test_without_a_terminal_interactive_falls_back_to_keep(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []}, completion_action="interactive")
    result = subprocess.run(
        [sys.executable, "-m", "teamexec", "run", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 0
    assert "no terminal to ask; keeping the session active" in result.stdout
    assert json.loads((root / "team-session.json").read_text())["status"] == "paused"
