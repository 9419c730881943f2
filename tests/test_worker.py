"""The built-in worker as a real process, against a minimal session in tmp_path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from factories import make_task
from sessionkit import wait_for

from teamexec.store import TaskStore


def session_dir(tmp_path, *tasks):
    root = tmp_path / "s"
    (root / ".msg" / "inbox").mkdir(parents=True)
    (root / "team-session.json").write_text(json.dumps({"session_id": "S-1"}))
    spec = root / "spec.md"
    spec.write_text("---\nrole: a\n---\n## Phase 2\nthe role body\n")
    TaskStore(root / "tasks").write_many(tasks or [make_task("A-1", "in_progress", attempts=1)])
    return root


def env_for(root, agent, *, task="A-1", inner="0", attempt=1):
    return {
        **os.environ,
        "TEAMEXEC_SESSION": str(root),
        "TEAMEXEC_SESSION_ID": "S-1",
        "TEAMEXEC_TEAM_NAME": "team",
        "TEAMEXEC_REQUIREMENT": "the requirement",
        "TEAMEXEC_ROLE": "a",
        "TEAMEXEC_ROLE_SPEC": str(root / "spec.md"),
        "TEAMEXEC_TASK_ID": task,
        "TEAMEXEC_WORKER_ID": "w1",
        "TEAMEXEC_ATTEMPT": str(attempt),
        "TEAMEXEC_INBOX": str(root / ".msg" / "inbox"),
        "TEAMEXEC_TASK_LIST": str(root / "tasks"),
        "TEAMEXEC_INNER_LOOP": inner,
        "TEAMEXEC_ROLES": '["a"]',
        "TEAMEXEC_AGENT_ARGV": json.dumps(agent),
        "TEAMEXEC_CWD": str(root),
    }


def run_worker(env, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "teamexec.worker"],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def messages(root):
    inbox = root / ".msg" / "inbox"
    found = [json.loads(p.read_text()) for p in inbox.glob("*.json")]
    return sorted(found, key=lambda m: m["ts"])


AGENT_ECHO = [
    sys.executable,
    "-c",
    "import os, sys; p = sys.stdin.read(); print('GOT', os.environ['TEAMEXEC_TASK_ID']);"
    "open(os.environ['TEAMEXEC_SESSION'] + '/prompt.txt', 'w').write(p)",
]


def test_success_reports_task_complete_and_logs_output(tmp_path):
    root = session_dir(tmp_path)
    result = run_worker(env_for(root, AGENT_ECHO))
    assert result.returncode == 0, result.stderr
    [msg] = messages(root)
    assert msg["type"] == "task_complete" and msg["from"] == "a"
    assert msg["data"]["task_id"] == "A-1" and msg["data"]["attempt"] == 1
    assert msg["data"]["exit_code"] == 0 and msg["data"]["worker_id"] == "w1"
    assert "GOT A-1" in (root / "logs" / "A-1.1.log").read_text()
    prompt = (root / "prompt.txt").read_text()
    assert "role: a" in prompt and "the requirement" in prompt and "the role body" in prompt


def test_failure_reports_error_with_exit_code_and_log_tail(tmp_path):
    root = session_dir(tmp_path)
    agent = [sys.executable, "-c", "import sys; print('line1'); print('it broke'); sys.exit(3)"]
    result = run_worker(env_for(root, agent))
    assert result.returncode == 1
    [msg] = messages(root)
    assert msg["type"] == "error"
    assert msg["data"]["exit_code"] == 3
    assert msg["data"]["log_tail"].endswith("it broke")


def test_missing_agent_binary_is_error_127(tmp_path):
    root = session_dir(tmp_path)
    run_worker(env_for(root, ["/nonexistent/agent"]))
    [msg] = messages(root)
    assert msg["data"]["exit_code"] == 127
    assert "not found" in msg["summary"]


def test_inner_loop_takes_the_roles_ready_tasks_in_turn(tmp_path):
    root = session_dir(
        tmp_path,
        make_task("A-1", "in_progress", attempts=1, claimed_by="w1"),
        make_task("A-2"),
        make_task("A-3", deps=["A-2"]),
    )
    # A-3 becomes ready only once the executor marks A-2 completed; the worker stops before
    result = run_worker(env_for(root, AGENT_ECHO, inner="1"))
    assert result.returncode == 0
    kinds = [(m["type"], m["data"]["task_id"]) for m in messages(root)]
    assert ("task_complete", "A-1") in kinds
    assert ("progress", "A-2") in kinds
    assert ("task_complete", "A-2") in kinds
    assert all(t != "A-3" for _, t in kinds)
    assert TaskStore(root / "tasks").read("A-2").claimed_by == "w1"


def test_sigterm_to_the_group_reports_nothing(tmp_path):
    root = session_dir(tmp_path)
    agent = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "teamexec.worker"], env=env_for(root, agent), start_new_session=True
    )
    log = root / "logs" / "A-1.1.log"
    wait_for(lambda: log.exists() and "up" in log.read_text(), what="agent start")
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    assert messages(root) == []


@pytest.mark.parametrize("module", ["yaml", "jsonschema", "typer", "psutil", "watchdog", "rich"])
def test_worker_imports_stay_lean(module):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import teamexec.worker"],
        capture_output=True,
        text=True,
    ).stderr
    imported = {line.split("|")[-1].strip() for line in out.splitlines()}
    assert module not in imported
