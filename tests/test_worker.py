"""The built-in worker as a real process, against a minimal session in tmp_path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sessionkit import wait_for
from teamexec.worker.prompt import build_prompt

WORKER = [sys.executable, "-m", "teamexec.worker"]
SPEC = "---\nrole: a\nprefix: A\ninner_loop: false\n---\n# A\n## Phase 2\nthe role body\n"


def task(task_id, status="pending", *, deps=(), owner="a", attempts=0, **meta):
    return {
        "id": task_id,
        "subject": f"subject of {task_id}",
        "description": f"do {task_id}",
        "activeForm": task_id,
        "status": status,
        "owner": owner,
        "blocks": [],
        "blockedBy": list(deps),
        "metadata": {"attempts": attempts, **meta},
    }


def session_dir(tmp_path: Path, *tasks: dict) -> Path:
    root = tmp_path / "s"
    (root / "tasks").mkdir(parents=True)
    (root / "role-specs").mkdir()
    (root / "role-specs" / "a.md").write_text(SPEC)
    team = {
        "session_id": "S-1",
        "team_name": "the team",
        "task_description": "the requirement",
        "status": "active",
        "roles": [{"name": "a", "prefix": "A", "role_spec": "role-specs/a.md"}],
    }
    (root / "team-session.json").write_text(json.dumps(team))
    for item in tasks or [task("A-1", "in_progress", attempts=1, claimed_by="w1")]:
        (root / "tasks" / f"{item['id']}.json").write_text(json.dumps(item))
    return root


def env_for(root: Path, agent: list[str] | str, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TEAMEXEC_")}
    return {
        **inherited,
        "TEAMEXEC_SESSION": str(root),
        "TEAMEXEC_SESSION_ID": "S-1",
        "TEAMEXEC_ROLE": "a",
        "TEAMEXEC_ROLE_SPEC": str(root / "role-specs" / "a.md"),
        "TEAMEXEC_TASK_ID": "A-1",
        "TEAMEXEC_WORKER_ID": "w1",
        "TEAMEXEC_ATTEMPT": "1",
        "TEAMEXEC_INBOX": str(root / ".msg" / "inbox"),
        "TEAMEXEC_TASK_LIST": str(root / "tasks"),
        "TEAMEXEC_INNER_LOOP": "0",
        "TEAMEXEC_ROLES": '["a"]',
        "TEAMEXEC_AGENT_ARGV": agent if isinstance(agent, str) else json.dumps(agent),
        "TEAMEXEC_CWD": str(root),
        **extra,
    }


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(WORKER, env=env, timeout=60, capture_output=True, text=True)


def messages(root: Path) -> list[dict]:
    inbox = root / ".msg" / "inbox"
    found = [json.loads(p.read_text()) for p in inbox.glob("*.json")] if inbox.exists() else []
    return sorted(found, key=lambda m: int(m["id"].rsplit(".", 2)[-2]))  # by the id's ns


def agent(code: str) -> list[str]:
    return [sys.executable, "-c", code]


# writes what the agent got — stdin, TEAMEXEC_* and cwd — to $RECORD
RECORDER = agent(
    "import json, os, sys; json.dump({'stdin': sys.stdin.read(), 'cwd': os.getcwd(), "
    "'env': {k: v for k, v in os.environ.items() if k.startswith('TEAMEXEC_')}}, "
    "open(os.environ['RECORD'], 'w')); print('agent output')"
)


def test_success_reports_task_complete_and_logs_output(tmp_path):
    root = session_dir(tmp_path)
    result = run_worker(env_for(root, RECORDER, RECORD=str(tmp_path / "rec.json")))
    assert result.returncode == 0, result.stderr
    [msg] = messages(root)
    assert (msg["type"], msg["from"], msg["to"]) == ("task_complete", "a", "executor")
    data = msg["data"]
    assert set(data) == {"task_id", "attempt", "worker_id", "exit_code", "duration_s"}
    assert (data["task_id"], data["attempt"], data["worker_id"]) == ("A-1", 1, "w1")
    assert data["exit_code"] == 0 and data["duration_s"] >= 0
    assert (root / "logs" / "A-1.1.log").read_text() == "agent output\n"
    assert list((root / ".msg" / "tmp").iterdir()) == []


def test_agent_gets_the_prompt_on_stdin_the_env_and_the_cwd(tmp_path):
    root = session_dir(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = env_for(
        root,
        RECORDER,
        RECORD=str(tmp_path / "rec.json"),
        TEAMEXEC_CWD=str(workdir),
        TEAMEXEC_ATTEMPT="2",
    )
    assert run_worker(env).returncode == 0
    seen = json.loads((tmp_path / "rec.json").read_text())
    assert seen["stdin"] == build_prompt(
        role="a",
        role_spec=env["TEAMEXEC_ROLE_SPEC"],
        session=str(root),
        session_id="S-1",
        team_name="the team",
        requirement="the requirement",
        inner_loop=False,
        task_id="A-1",
        task_subject="subject of A-1",
        task_description="do A-1",
        role_body="# A\n## Phase 2\nthe role body\n",
    )
    assert seen["cwd"] == str(workdir)
    assert seen["env"] == {k: v for k, v in env.items() if k.startswith("TEAMEXEC_")}
    assert (root / "logs" / "A-1.2.log").exists()
    assert messages(root)[0]["data"]["attempt"] == 2


def test_a_damaged_team_session_falls_back_to_the_environment(tmp_path):
    root = session_dir(tmp_path)
    (root / "team-session.json").write_text('{"session_id": ')
    env = env_for(
        root,
        RECORDER,
        RECORD=str(tmp_path / "rec.json"),
        TEAMEXEC_TEAM_NAME="env team",
        TEAMEXEC_REQUIREMENT="env requirement",
    )
    assert run_worker(env).returncode == 0
    prompt = json.loads((tmp_path / "rec.json").read_text())["stdin"]
    assert "team_name: env team\n" in prompt and "requirement: env requirement\n" in prompt


def test_failure_reports_error_with_exit_code_and_log_tail(tmp_path):
    root = session_dir(tmp_path)
    failing = agent("import sys\nfor n in range(5): print('line', n)\nsys.exit(3)")
    result = run_worker(env_for(root, failing, TEAMEXEC_LOG_TAIL_LINES="2"))
    assert result.returncode == 1
    [msg] = messages(root)
    assert msg["type"] == "error" and msg["summary"] == "agent exited 3"
    data = msg["data"]
    assert (data["task_id"], data["attempt"], data["worker_id"]) == ("A-1", 1, "w1")
    assert data["exit_code"] == 3 and data["log_tail"] == "line 3\nline 4"
    assert "duration_s" in data


def test_an_agent_killed_by_a_signal_is_an_error(tmp_path):
    root = session_dir(tmp_path)
    result = run_worker(env_for(root, agent("import os; os.kill(os.getpid(), 9)")))
    assert result.returncode == 1
    [msg] = messages(root)
    assert msg["type"] == "error" and msg["summary"] == "agent killed by signal 9"
    assert msg["data"]["exit_code"] == -9


def not_executable(tmp_path: Path) -> str:
    path = tmp_path / "agent.sh"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o644)
    return json.dumps([str(path)])


@pytest.mark.parametrize(
    ("make_argv", "code", "reason"),
    [
        pytest.param(lambda _: '["/nonexistent/agent"]', 127, "agent not found", id="missing"),
        pytest.param(not_executable, 126, "agent not executable", id="not-executable"),
        pytest.param(lambda _: "claude -p", 127, "not a JSON list", id="not-json"),
        pytest.param(lambda _: "[]", 127, "not a JSON list", id="empty"),
    ],
)
def test_an_agent_that_cannot_start_is_an_error(tmp_path, make_argv, code, reason):
    root = session_dir(tmp_path)
    result = run_worker(env_for(root, make_argv(tmp_path)))
    assert result.returncode == 1
    [msg] = messages(root)
    assert msg["type"] == "error" and reason in msg["summary"]
    assert msg["data"]["exit_code"] == code
    assert reason in msg["data"]["log_tail"]  # the log says why, too


def test_an_unreadable_task_is_an_error_without_running_the_agent(tmp_path):
    root = session_dir(tmp_path)
    (root / "tasks" / "A-1.json").write_text("{damaged")
    result = run_worker(env_for(root, RECORDER, RECORD=str(tmp_path / "rec.json")))
    assert result.returncode == 1
    [msg] = messages(root)
    assert msg["type"] == "error" and "cannot read task A-1" in msg["summary"]
    assert msg["data"]["exit_code"] is None
    assert not (tmp_path / "rec.json").exists()


def test_missing_environment_is_a_usage_error(tmp_path):
    root = session_dir(tmp_path)
    env = env_for(root, RECORDER)
    del env["TEAMEXEC_INBOX"]
    result = run_worker(env)
    assert result.returncode == 2
    assert result.stderr.strip() == "teamexec worker: TEAMEXEC_INBOX not set"
    assert messages(root) == []


def test_inner_loop_takes_the_roles_ready_tasks_in_turn(tmp_path):
    store = pytest.importorskip("teamexec.storage.store")
    root = session_dir(
        tmp_path,
        task("A-1", "in_progress", attempts=1, claimed_by="w1"),
        task("A-2"),
        task("A-3", deps=["A-2"]),  # ready only once the executor marks A-2 completed
        task("A-4", attempts=1),  # a retry: its second attempt
        task("B-1", owner="b"),  # another role's
    )
    fail_a2 = agent("import os, sys; sys.exit(os.environ['TEAMEXEC_TASK_ID'] == 'A-2')")
    result = run_worker(env_for(root, fail_a2, TEAMEXEC_INNER_LOOP="1", TEAMEXEC_ROLES='["a","b"]'))
    assert result.returncode == 1, result.stderr  # A-2 failed
    seen = [(m["type"], m["data"]["task_id"], m["data"]["attempt"]) for m in messages(root)]
    assert seen == [
        ("task_complete", "A-1", 1),
        ("progress", "A-2", 1),
        ("error", "A-2", 1),
        ("progress", "A-4", 2),
        ("task_complete", "A-4", 2),
    ]
    assert {m["data"]["phase"] for m in messages(root) if m["type"] == "progress"} == {"claimed"}
    tasks = store.TaskStore(root / "tasks")
    assert tasks.read("A-4").claimed_by == "w1" and tasks.read("A-4").attempts == 2
    assert tasks.read("B-1").status.value == "pending"
    assert (root / "logs" / "A-4.2.log").exists()


SLEEPER = agent(
    "import os, time; open(os.environ['RECORD'], 'w').write(str(os.getpid()));"
    "print('up', flush=True); time.sleep(120)"
)


def start_sleeping_worker(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    root = session_dir(tmp_path)
    record = tmp_path / "agent.pid"
    proc = subprocess.Popen(
        WORKER, env=env_for(root, SLEEPER, RECORD=str(record)), start_new_session=True
    )
    log = root / "logs" / "A-1.1.log"
    wait_for(lambda: log.exists() and "up" in log.read_text(), what="the agent to start")
    return proc, root, record


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_to_the_group_ends_worker_and_agent_without_a_report(tmp_path):
    proc, root, record = start_sleeping_worker(tmp_path)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert gone(int(record.read_text()))
    assert messages(root) == []


@pytest.mark.parametrize(
    ("signum", "code"),
    [pytest.param(signal.SIGTERM, 143, id="term"), pytest.param(signal.SIGINT, 130, id="int")],
)
def test_a_signal_to_the_worker_alone_is_passed_on_to_the_agent(tmp_path, signum, code):
    proc, root, record = start_sleeping_worker(tmp_path)
    agent_pid = int(record.read_text())
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == code  # returns only once the agent has ended
    wait_for(lambda: gone(agent_pid), what="the agent to be reaped")
    assert messages(root) == []


@pytest.mark.parametrize("module", ["yaml", "jsonschema", "typer", "psutil", "watchdog", "rich"])
def test_worker_imports_stay_lean(module):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import teamexec.worker.main"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    imported = {line.split("|")[-1].strip() for line in out.splitlines()}
    assert "teamexec.worker.main" in imported  # the parse below reads real output
    assert not {name for name in imported if name.split(".")[0] == module}
