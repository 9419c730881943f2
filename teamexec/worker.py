"""The built-in worker: ``python -m teamexec.worker`` (PROTOCOL §7).

Spawned by the executor once per ready task (once per role for inner-loop
roles), in its own process group.  It builds the prompt, runs the role's
agent with it on stdin, appends the agent's output to
``logs/<TASK-ID>.<attempt>.log`` and reports ``task_complete`` (exit 0) or
``error`` (exit code and log tail) through the inbox.  Because it outlives a
SIGKILLed executor and reports through a file, no finished work is ever lost
or run twice.

Standard library only — it starts once per task, so its start-up time is the
executor's overhead.  Inputs are environment variables (see spawn.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from teamexec.mailbox import make_message, post
from teamexec.prompt import build_prompt, split_frontmatter_body


class Worker:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.session = Path(env["TEAMEXEC_SESSION"])
        self.role = env["TEAMEXEC_ROLE"]
        self.worker_id = env["TEAMEXEC_WORKER_ID"]
        self.inbox = Path(env["TEAMEXEC_INBOX"])
        self.tasks_dir = Path(env.get("TEAMEXEC_TASK_LIST") or self.session / "tasks")
        self.agent: list[str] = json.loads(env.get("TEAMEXEC_AGENT_ARGV") or "[]")
        self.cwd = env.get("TEAMEXEC_CWD") or os.getcwd()
        self.tail_lines = int(env.get("TEAMEXEC_LOG_TAIL_LINES") or 20)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopped_by: int | None = None

    # ------------------------------------------------------------- signals
    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Stop: pass the signal on to the agent and report nothing (the executor knows)."""
        self.stopped_by = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    # ---------------------------------------------------------------- a task
    def prompt_for(self, task_id: str) -> str:
        task: dict[str, Any] = json.loads((self.tasks_dir / f"{task_id}.json").read_bytes())
        spec_path = self.env.get("TEAMEXEC_ROLE_SPEC", "")
        try:
            body = split_frontmatter_body(Path(spec_path).read_text(encoding="utf-8"))
        except OSError:
            body = ""
        return build_prompt(
            role=self.role,
            role_spec=spec_path,
            session=str(self.session),
            session_id=self.env.get("TEAMEXEC_SESSION_ID", ""),
            team_name=self.env.get("TEAMEXEC_TEAM_NAME", ""),
            requirement=self.env.get("TEAMEXEC_REQUIREMENT", ""),
            inner_loop=self.env.get("TEAMEXEC_INNER_LOOP") == "1",
            task_id=task_id,
            task_subject=str(task.get("subject", task_id)),
            task_description=str(task.get("description", "")),
            role_body=body,
        )

    def run_agent(self, task_id: str, attempt: int, log_path: Path) -> tuple[int, str]:
        """Run the agent once; (exit code, reason) — 126/127 when it cannot start."""
        env = dict(self.env, TEAMEXEC_TASK_ID=task_id, TEAMEXEC_ATTEMPT=str(attempt))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            try:
                prompt = self.prompt_for(task_id).encode("utf-8")
            except (OSError, ValueError) as exc:  # e.g. the task file damaged by hand
                log.write(f"teamexec worker: cannot build the prompt: {exc}\n".encode())
                return 1, f"cannot build the prompt: {exc}"
            if not self.agent:
                return 127, "no agent command (TEAMEXEC_AGENT_ARGV is empty)"
            try:
                self.child = subprocess.Popen(
                    self.agent,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=env,
                )
            except FileNotFoundError as exc:
                log.write(f"teamexec worker: cannot run {self.agent[0]}: {exc}\n".encode())
                return 127, f"agent not found: {self.agent[0]}"
            except PermissionError as exc:
                log.write(f"teamexec worker: cannot run {self.agent[0]}: {exc}\n".encode())
                return 126, f"agent not executable: {self.agent[0]}"
            try:
                self.child.communicate(prompt)
            except BrokenPipeError:  # the agent did not read its prompt: fine
                self.child.wait()
            code = self.child.wait()
            self.child = None
        return code, f"agent exited {code}"

    def log_tail(self, log_path: Path) -> str:
        try:
            with open(log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(log_path) - 16384))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-self.tail_lines :])

    def report(self, kind: str, task_id: str, summary: str, **data: Any) -> None:
        data.update(task_id=task_id, worker_id=self.worker_id)
        post(self.inbox, make_message(type=kind, sender=self.role, summary=summary, data=data))

    def do_task(self, task_id: str, attempt: int) -> bool | None:
        """Run and report one task: True ok, False failed, None when stopped by a signal."""
        log_path = self.session / "logs" / f"{task_id}.{attempt}.log"
        started = time.monotonic()
        code, reason = self.run_agent(task_id, attempt, log_path)
        duration = round(time.monotonic() - started, 3)
        if self.stopped_by is not None:
            return None
        if code == 0:
            self.report(
                "task_complete",
                task_id,
                f"{task_id} done",
                attempt=attempt,
                exit_code=0,
                duration_s=duration,
            )
            return True
        self.report(
            "error",
            task_id,
            reason,
            attempt=attempt,
            exit_code=code,
            duration_s=duration,
            log_tail=self.log_tail(log_path),
        )
        return False

    # ----------------------------------------------------------------- loop
    def next_task(self) -> tuple[str, int] | None:
        from teamexec.store import TaskStore

        roles = json.loads(self.env.get("TEAMEXEC_ROLES") or "[]") or [self.role]
        task = TaskStore(self.tasks_dir).claim_next(
            self.role, roles, self.worker_id, now=time.time()
        )
        if task is None:
            return None
        self.report(
            "progress", task.id, "claimed (inner loop)", attempt=task.attempts, phase="claimed"
        )
        return task.id, task.attempts

    def run(self) -> int:
        task_id = self.env["TEAMEXEC_TASK_ID"]
        attempt = int(self.env.get("TEAMEXEC_ATTEMPT") or 1)
        all_ok = True
        while True:
            outcome = self.do_task(task_id, attempt)
            if outcome is None:
                return 128 + int(self.stopped_by or signal.SIGTERM)
            all_ok = all_ok and outcome
            if self.env.get("TEAMEXEC_INNER_LOOP") != "1" or self.stopped_by is not None:
                break
            following = self.next_task()
            if following is None:
                break
            task_id, attempt = following
        return 0 if all_ok else 1


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    worker = Worker(os.environ if env is None else env)
    signal.signal(signal.SIGTERM, worker.on_signal)
    signal.signal(signal.SIGINT, worker.on_signal)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
