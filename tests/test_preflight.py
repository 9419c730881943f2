"""Agents preflighted without running them: found, executable, runnable (issue 12)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from teamexec.executor.preflight import agent_problem


def make(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    make(d / "good", "#!/bin/sh\nexit 0\n")
    make(d / "noexec", "#!/bin/sh\nexit 0\n", 0o644)
    make(d / "noshebang", "echo hi\n")
    return d


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["good"], None, id="on-path"),
        pytest.param(
            ["missing-agent"], "is not on PATH; install it, or give its full path", id="nf"
        ),
        pytest.param(["noexec"], "is not executable", id="not-executable"),
        pytest.param(["noshebang"], "has no `#!` line and is no binary", id="no-shebang"),
        pytest.param(["./rel/missing"], "not found (looked in", id="relative-missing"),
        pytest.param([sys.executable, "agents/none.py"], "agent script `agents/none.py`", id="py"),
        pytest.param([sys.executable, "-c", "pass"], None, id="interpreter-flags"),
    ],
)
def test_agent_problems(tmp_path, bindir, argv, expected):
    problem = agent_problem(argv, cwd=tmp_path, path_env=str(bindir))
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_the_fix_is_in_the_message(tmp_path, bindir):
    assert f"chmod +x {bindir / 'noexec'}" in agent_problem(
        ["noexec"], cwd=tmp_path, path_env=str(bindir)
    )
    assert 'agent: ["python3", "noshebang"]' in agent_problem(
        ["noshebang"], cwd=tmp_path, path_env=str(bindir)
    )


def test_a_binary_and_a_relative_script_pass(tmp_path):
    true = shutil.which("true")
    assert true is not None
    assert agent_problem([true], cwd=tmp_path, path_env=os.defpath) is None
    (tmp_path / "agents").mkdir()
    make(tmp_path / "agents" / "a.py", "print(1)\n", 0o644)
    assert agent_problem(["python3", "agents/a.py"], cwd=tmp_path, path_env=os.defpath) is None
