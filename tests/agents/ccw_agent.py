"""A stand-in for a CCW team-worker agent (no LLM, no network).

Run by teamexec's built-in worker with the prompt on stdin, in the agents'
working directory.  It writes its artifact, records its run in
``<session>/runs/`` (so tests can count runs), and reports the one way
``<session>/ccw-agent.json`` names — ``{"mode": ..., "exit": N}``:

- ``team_msg``: as team-worker.md's Progress Milestone Protocol and Phase 5 do,
  through team_msg (tests/agents/team_msg.py, which writes what team-msg.ts
  writes, into ``$CCW_PROJECT_ROOT/.workflow/.team/<session_id>/``): a
  ``progress`` and a ``task_complete`` from the task id, then a ``state_update``
  from the role;
- ``claude_list``: as team-worker.md's Phase 5 ``TaskUpdate`` does, sets its
  entry ``completed`` in the Claude Code task list
  ``${CLAUDE_CONFIG_DIR}/tasks/${CLAUDE_CODE_TASK_LIST_ID}/``;
- ``teamexec_msg``: ``teamexec msg task_complete``;
- ``exit``: nothing; the exit code says it (the built-in worker reports it).

then exits with ``exit`` (default 3 for every mode but ``exit``: the worker's
own report is then an error, so only the chosen channel can complete the task).
Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import team_msg


def set_completed_in_claude_list(task_id: str) -> None:
    config = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    directory = config / "tasks" / os.environ["CLAUDE_CODE_TASK_LIST_ID"]
    assert os.environ.get("CLAUDE_CODE_ENABLE_TODO_TOOLS") == "1"
    for path in directory.glob("*.json"):
        entry = json.loads(path.read_text())
        if entry.get("subject") == task_id:
            entry["status"] = "completed"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(entry, indent=2))
            os.replace(tmp, path)
            return
    raise SystemExit(f"no entry with subject {task_id} in {directory}")


def main() -> int:
    prompt = sys.stdin.read()
    session = Path(os.environ["TEAMEXEC_SESSION"])
    session_id = os.environ["TEAMEXEC_SESSION_ID"]
    task = os.environ["TEAMEXEC_TASK_ID"]
    role = os.environ["TEAMEXEC_ROLE"]
    attempt = os.environ.get("TEAMEXEC_ATTEMPT", "1")
    config = json.loads((session / "ccw-agent.json").read_text())
    mode = config["mode"]
    runs = session / "runs"
    runs.mkdir(exist_ok=True)
    (runs / f"{task}.{attempt}.{os.getpid()}").write_text(
        json.dumps({"cwd": os.getcwd(), "ccw_root": os.environ.get("CCW_PROJECT_ROOT")})
    )
    time.sleep(float(config.get("sleep", 0)))
    if config.get("wait_for") and task in config.get("wait_tasks", [task]):
        gate = session / config["wait_for"]  # the test lets it go (bounded)
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    artifact = session / "artifacts" / f"{task.lower()}.md"
    artifact.parent.mkdir(exist_ok=True)
    artifact.write_text(f"# {task}\n\n{prompt[:80]}\n")
    # team-worker.md names artifacts from the project root: .workflow/.team/<id>/artifacts/...
    ref = f".workflow/.team/{session_id}/artifacts/{artifact.name}"
    if mode == "team_msg":
        data = {
            "task_id": task,
            "role": role,
            "status": "in_progress",
            "progress_pct": 50,
            "phase": "Phase 3",
        }
        team_msg.log(
            session_id,
            sender=task,
            type_="progress",
            summary=f"[{task}] work done (50%)",
            data=data,
        )
        done = {
            "task_id": task,
            "role": role,
            "status": "completed",
            "progress_pct": 100,
            "artifact": ref,
        }
        team_msg.log(
            session_id,
            sender=task,
            type_="task_complete",
            summary=f"[{task}] Complete: stand-in",
            data=done,
        )
        team_msg.log(
            session_id,
            sender=role,
            type_="state_update",
            data={
                "status": "task_complete",
                "task_id": task,
                "ref": ref,
                "key_findings": [f"{task} found"],
            },
        )
    elif mode == "claude_list":
        set_completed_in_claude_list(task)
    elif mode == "teamexec_msg":
        for pct in config.get("progress", []):  # teamexec msg progress, as often as asked
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "teamexec",
                    "msg",
                    "progress",
                    "--summary",
                    f"{pct}%",
                    "--data",
                    json.dumps({"progress_pct": pct, "phase": "Phase 3"}),
                ],
                check=True,
            )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "teamexec",
                "msg",
                "task_complete",
                "--summary",
                "done",
                "--data",
                json.dumps({"artifact": str(artifact)}),
            ],
            check=True,
        )
    return int(config.get("exit", 0 if mode == "exit" else 3))


if __name__ == "__main__":
    sys.exit(main())
