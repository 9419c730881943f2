"""--version, --json in every outcome, the current directory as the session, teamexec demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sessionkit import REPO, example, teamexec, write_session


def test_version():
    result = teamexec("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("teamexec ")


def test_the_current_directory_is_the_session(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    result = teamexec("check", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Progress: 0/1" in result.stdout


@pytest.mark.parametrize("command", ["check", "run", "resume", "report"])
def test_json_errors_are_json_on_stdout(tmp_path, command):
    missing = tmp_path / "nowhere"
    result = teamexec(command, str(missing), "--json")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["exit_code"] == 1
    assert str(missing) in out["errors"][0]
    assert out["errors"][0] in result.stderr  # the one-line form stays on stderr


def test_json_usage_errors_are_json_too(tmp_path):
    result = teamexec("check", "--json", "--no-such-option")
    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False


def test_json_of_an_invalid_session_lists_every_error(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": ["B-001"], "B-001": ["A-001"]})
    result = teamexec("check", str(root), "--json")
    assert result.returncode == 1
    errors = json.loads(result.stdout)["errors"]
    assert any("dependency cycle" in e for e in errors)


def test_json_of_a_run_is_json(tmp_path):
    root = write_session(tmp_path / "s", {"A-001": []})
    result = teamexec("run", str(root), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"


def git_state() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "sessions"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def test_demo_runs_a_copy_and_leaves_the_tree_alone(tmp_path):
    before = git_state()
    target = tmp_path / "demo"
    result = teamexec("demo", str(target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TASK COMPLETE" in result.stdout
    assert f"teamexec report {target} --html" in result.stdout
    assert len(list((target / "artifacts").glob("*.md"))) == 6
    assert git_state() == before


def test_demo_refuses_a_directory_with_files(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("mine")
    result = teamexec("demo", str(tmp_path / "busy"))
    assert result.returncode == 2
    assert "not an empty directory" in result.stderr


def test_example_copies_carry_no_run_state(tmp_path):
    root = example("demo", tmp_path)
    assert not (root / "tasks").exists() and (root / "agents" / "demo_agent.py").exists()


def test_an_agent_that_cannot_start_is_a_warning_for_check_and_an_error_for_run(tmp_path):
    script = tmp_path / "agent.sh"
    script.write_text("echo no interpreter line\n")
    script.chmod(0o755)
    root = write_session(tmp_path / "s", {"A-001": []}, executor={"agent": [str(script)]})
    check = teamexec("check", str(root))
    assert check.returncode == 0
    assert "has no `#!` line and is no binary" in check.stdout
    assert "`run` will refuse" in check.stdout
    run = teamexec("run", str(root))
    assert run.returncode == 1
    assert f"{root}/role-specs/a.md: role a: agent `{script}` has no `#!` line" in run.stderr
    assert not (root / "tasks").exists()  # refused before anything was written


def test_msg_imports_no_typer_rich_or_executor(tmp_path):
    code = (
        "import sys\n"
        "from teamexec.cli.entry import main\n"
        "try:\n"
        "    main(['msg', 'progress', '--summary', 'half'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = [m for m in ('typer', 'rich', 'pydantic', 'teamexec.executor.engine', 'yaml')\n"
        "         if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    env = {
        **os.environ,
        "TEAMEXEC_INBOX": str(tmp_path / ".msg" / "inbox"),
        "TEAMEXEC_ROLE": "a",
        "TEAMEXEC_TASK_ID": "A-001",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout
    assert len(list((tmp_path / ".msg" / "inbox").glob("*.json"))) == 1


def test_a_session_with_the_newcomer_mistakes_gets_each_explained_with_its_fix(tmp_path):
    root = write_session(
        tmp_path / "s",
        {"A-001": [], "B-001": ["A-001"]},
        specs={"a": {"timout_s": 5, "agent": ["no-such-agent-xyz"]}},
    )
    check = teamexec("check", str(root))
    assert check.returncode == 0, check.stderr
    assert "unknown key 'timout_s': did you mean 'timeout_s'?" in check.stdout
    assert "agent `no-such-agent-xyz` is not on PATH; install it, or give its full path" in (
        check.stdout
    )
    run = teamexec("run", str(root), "--json")
    assert run.returncode == 1
    errors = json.loads(run.stdout)["errors"]
    assert any("no-such-agent-xyz" in e for e in errors)
