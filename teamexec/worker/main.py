"""The built-in worker: ``python -m teamexec.worker`` (PROTOCOL §7).

Spawned by the executor (executor/spawn.py, executor/pool.py) once per ready task —
once per role for inner-loop roles — in its own process group, and also run
by ``teamexec worker``.  For each task it builds the prompt, runs the role's
agent (an argv, never a shell) with the prompt on stdin, appends the agent's
output to ``logs/<TASK-ID>.<attempt>.log`` and posts exactly one terminal
message through the inbox: ``task_complete`` (exit 0) or ``error`` (exit code
and log tail).  Because it reports through a file, a worker that outlives a
SIGKILLed executor loses nothing: ``resume`` reads its report.

Inputs are environment variables (the executor's contract, see DESIGN.md):
TEAMEXEC_SESSION, TEAMEXEC_ROLE, TEAMEXEC_TASK_ID, TEAMEXEC_WORKER_ID and
TEAMEXEC_INBOX are required; TEAMEXEC_SESSION_ID, TEAMEXEC_ROLE_SPEC,
TEAMEXEC_ATTEMPT, TEAMEXEC_AGENT_ARGV, TEAMEXEC_CWD, TEAMEXEC_TASK_LIST,
TEAMEXEC_INNER_LOOP, TEAMEXEC_ROLES, TEAMEXEC_LOG_TAIL_LINES,
TEAMEXEC_TEAM_NAME, TEAMEXEC_REQUIREMENT, TEAMEXEC_AGENT_KIND and
TEAMEXEC_RESUME_SESSION (the conversation to continue) are optional.

Standard library only (``teamexec.storage.store`` is imported by the inner loop
alone): the worker starts once per task, so its start-up is overhead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from teamexec.storage import safeopen
from teamexec.storage.logtail import DEFAULT_LINES, read_tail
from teamexec.worker.crashpoints import crash_point
from teamexec.worker.outbox import make_message, post
from teamexec.worker.prompt import build_prompt, split_frontmatter_body

REQUIRED = (
    "TEAMEXEC_SESSION",
    "TEAMEXEC_ROLE",
    "TEAMEXEC_TASK_ID",
    "TEAMEXEC_WORKER_ID",
    "TEAMEXEC_INBOX",
)


class CannotStart(Exception):
    """The agent never ran (bad argv, missing binary, unreadable task): the reason and code."""

    def __init__(self, reason: str, exit_code: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() else default


def _agent_argv(text: str | None) -> list[str]:
    try:
        argv = json.loads(text or "")
    except ValueError:
        argv = None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise CannotStart(
            "no agent command: TEAMEXEC_AGENT_ARGV is not a JSON list of strings", 127
        )
    return argv


class Worker:
    """One worker process: its settings, the agent it is running, and how it was stopped."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.session = Path(env["TEAMEXEC_SESSION"])
        self.role = env["TEAMEXEC_ROLE"]
        self.worker_id = env["TEAMEXEC_WORKER_ID"]
        self.inbox = Path(env["TEAMEXEC_INBOX"])
        self.tasks_dir = Path(env.get("TEAMEXEC_TASK_LIST") or self.session / "tasks")
        self.cwd = env.get("TEAMEXEC_CWD") or os.getcwd()
        self.inner_loop = env.get("TEAMEXEC_INNER_LOOP") == "1"
        self.tail_lines = _int(env.get("TEAMEXEC_LOG_TAIL_LINES"), DEFAULT_LINES)
        self.kind = env.get("TEAMEXEC_AGENT_KIND") or "plain"
        # the conversation the next agent run continues (PROTOCOL §7, §10): the executor's
        # choice for a retry, then, in an inner loop, the previous task's conversation
        self.resume = env.get("TEAMEXEC_RESUME_SESSION") or None
        self.child: subprocess.Popen[bytes] | None = None
        self.stopped_by: int | None = None

    # ------------------------------------------------------------- signals
    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Pass the signal on to the agent; the run loop then stops without a report."""
        self.stopped_by = signum
        self._forward()

    def _forward(self) -> None:
        # the executor signals the whole group, but `kill <worker pid>` reaches us alone
        if self.stopped_by is not None and self.child is not None and self.child.poll() is None:
            self.child.send_signal(self.stopped_by)

    # ---------------------------------------------------------------- a task
    def _session_text(self) -> tuple[str, str]:
        """(team_name, requirement) from team-session.json, else from the environment.

        The file is the source (the environment copy of the requirement is
        truncated to fit); the environment covers a file damaged by hand mid-run.
        """
        try:
            data = json.loads(safeopen.read_bytes(self.session / "team-session.json"))
        except (OSError, ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            data = {}
        team = data.get("team_name")
        requirement = data.get("task_description")
        return (
            team if isinstance(team, str) else self.env.get("TEAMEXEC_TEAM_NAME", ""),
            requirement
            if isinstance(requirement, str)
            else self.env.get("TEAMEXEC_REQUIREMENT", ""),
        )

    def _read_task(self, task_id: str) -> Any:
        """``<TASK-ID>.json``, else the entry of a Claude task list (``--task-list``, §5)."""
        try:
            return json.loads(safeopen.read_bytes(self.tasks_dir / f"{task_id}.json"))
        except FileNotFoundError:
            # imported here: only a Claude list needs the store on this path
            from teamexec.storage.claudelist import ClaudeList, is_claude_list

            if not is_claude_list(self.tasks_dir):
                raise
            found = ClaudeList(self.tasks_dir).read(task_id)
            if found is None:
                raise
            return dict(found.data)

    def prompt_for(self, task_id: str) -> str:
        try:
            task = self._read_task(task_id)
        except (OSError, ValueError, RecursionError) as exc:
            raise CannotStart(f"cannot read task {task_id}: {exc}", None) from None
        if not isinstance(task, dict):
            raise CannotStart(f"cannot read task {task_id}: not a JSON object", None)
        spec_path = self.env.get("TEAMEXEC_ROLE_SPEC", "")
        try:
            body = split_frontmatter_body(safeopen.read_bytes(Path(spec_path)).decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise CannotStart(
                f"cannot read role-spec {spec_path or '(unset)'}: {exc}", None
            ) from None
        team_name, requirement = self._session_text()
        return build_prompt(
            role=self.role,
            role_spec=spec_path,
            session=str(self.session),
            session_id=self.env.get("TEAMEXEC_SESSION_ID", ""),
            team_name=team_name,
            requirement=requirement,
            inner_loop=self.inner_loop,
            task_id=task_id,
            task_subject=str(task.get("subject") or task_id),
            task_description=str(task.get("description") or ""),
            role_body=body,
        )

    def run_agent(self, task_id: str, attempt: int, log: BinaryIO) -> int:
        """Run the agent once with its output into ``log``; its exit code.

        Raises ``CannotStart`` when the agent never ran.  Returns at once,
        without starting it, when the worker is already being stopped.
        """
        argv = self.agent_argv()
        prompt = self.prompt_for(task_id).encode("utf-8")
        env = dict(self.env, TEAMEXEC_TASK_ID=task_id, TEAMEXEC_ATTEMPT=str(attempt))
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        try:
            self.child = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=env,
            )
        except FileNotFoundError as exc:
            raise CannotStart(f"agent not found: {argv[0]} ({exc.strerror})", 127) from None
        except PermissionError as exc:
            raise CannotStart(f"agent not executable: {argv[0]} ({exc.strerror})", 126) from None
        except OSError as exc:  # e.g. TEAMEXEC_CWD missing, exec format error
            raise CannotStart(f"cannot start agent {argv[0]}: {exc}", 126) from None
        self._forward()  # a signal that came while Popen ran found no child to pass to
        # communicate() ignores an agent that exits without reading its prompt (EPIPE),
        # and a signal handler that returns lets its wait resume (PEP 475)
        self.child.communicate(prompt)
        code = self.child.returncode
        self.child = None
        return code

    def agent_argv(self) -> list[str]:
        argv = _agent_argv(self.env.get("TEAMEXEC_AGENT_ARGV"))
        if self.resume and self.kind in ("claude", "codex"):
            # imported only here: a plain agent's worker never pays for the parser
            from teamexec.core.agentout import AgentKind, continue_argv

            return list(continue_argv(AgentKind(self.kind), argv, self.resume) or argv)
        return argv

    def conversation_of(self, log_path: Path) -> str | None:
        """The conversation an agent run left in its log, unless it overflowed its context."""
        if self.kind not in ("claude", "codex"):
            return None
        from teamexec.core.agentout import AgentKind, parse

        try:  # the result is at the end (a codex thread longer than this starts afresh)
            text = safeopen.read_tail(log_path, 8 << 20, root=self.session).decode(
                "utf-8", "replace"
            )
        except OSError:
            return None
        run = parse(AgentKind(self.kind), text)
        return None if run.context_overflow else run.session_id

    def do_task(self, task_id: str, attempt: int) -> bool | None:
        """Run and report one task: True ok, False failed, None when stopped by a signal."""
        log_path = self.session / "logs" / f"{task_id}.{attempt}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:  # never through a symlink placed at the log's name (PROTOCOL §1)
            log_fd = safeopen.open_append(log_path, root=self.session)
        except OSError as exc:
            unopened = {"attempt": attempt, "exit_code": None, "log_tail": ""}
            self.report("error", task_id, f"cannot open the log: {exc}", unopened)
            return False
        with os.fdopen(log_fd, "ab") as log:
            code: int | None
            try:
                exited = self.run_agent(task_id, attempt, log)
                # Popen reports death by a signal as a negative exit code
                reason = (
                    f"agent exited {exited}" if exited >= 0 else f"agent killed by signal {-exited}"
                )
                code = exited
            except CannotStart as exc:
                log.write(f"teamexec worker: {exc.reason}\n".encode())
                code, reason = exc.exit_code, exc.reason
        duration = round(time.monotonic() - started, 3)
        if self.stopped_by is not None:
            return None  # the executor accounts for the attempts it terminates
        data: dict[str, object] = {"attempt": attempt, "exit_code": code, "duration_s": duration}
        if code == 0:
            self.report("task_complete", task_id, f"{task_id} done", data)
            return True
        data["log_tail"] = read_tail(log_path, self.tail_lines, root=self.session)
        self.report("error", task_id, reason, data)
        return False

    def report(self, kind: str, task_id: str, summary: str, data: Mapping[str, Any]) -> None:
        payload = {"task_id": task_id, "worker_id": self.worker_id, **data}
        post(self.inbox, make_message(type=kind, sender=self.role, summary=summary, data=payload))
        crash_point("worker-report")

    # ----------------------------------------------------------------- loop
    def claim_next(self) -> tuple[str, int] | None:
        """The role's next ready task, claimed through the store (inner loop only)."""
        # imported here: the store pulls in teamexec.core.model, which a one-task worker never needs
        from teamexec.storage.claudelist import open_task_store

        try:
            roles = json.loads(self.env.get("TEAMEXEC_ROLES") or "[]")
        except ValueError:
            roles = []
        if not isinstance(roles, list) or not roles:
            roles = [self.role]
        try:
            # the claimer record (PROTOCOL §8): this process carries the worker id, so
            # liveness proves the claim dead once it is gone; no start time needed
            claimer = {
                "worker_id": self.worker_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "pid_started_at": None,
            }
            task = open_task_store(self.tasks_dir).claim_next(
                self.role, roles, self.worker_id, now=time.time(), claimer=claimer
            )
        except OSError as exc:
            # nothing claimed: the executor starts another worker for what is left
            print(f"teamexec worker: cannot claim the next task: {exc}", file=sys.stderr)
            return None
        if task is None:
            return None
        # tells the executor at once which task this worker is on (timeouts, stalls)
        self.report(
            "progress",
            task.id,
            f"claimed {task.id}",
            {"attempt": task.attempts, "phase": "claimed"},
        )
        return task.id, task.attempts

    def run(self) -> int:
        """Run the first task and, in an inner loop, each next one; the process exit code."""
        task_id = self.env["TEAMEXEC_TASK_ID"]
        attempt = _int(self.env.get("TEAMEXEC_ATTEMPT"), 1)
        all_ok = True
        while True:
            outcome = self.do_task(task_id, attempt)
            all_ok = all_ok and bool(outcome)
            if self.stopped_by is not None or not self.inner_loop:
                break
            # the next task continues this one's conversation: context accumulates
            self.resume = self.conversation_of(self.session / "logs" / f"{task_id}.{attempt}.log")
            following = self.claim_next()
            if following is None:
                break
            task_id, attempt = following
        if self.stopped_by is not None:
            return 128 + self.stopped_by  # 143 for SIGTERM, 130 for SIGINT
        return 0 if all_ok else 1


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m teamexec.worker`` and ``teamexec worker``."""
    if argv:  # `teamexec worker` calls main() with none
        print(
            "usage: python -m teamexec.worker  (all input from TEAMEXEC_* variables)",
            file=sys.stderr,
        )
        return 2
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        # nowhere to report to: say so on stderr (the executor's spawn log)
        print(f"teamexec worker: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    worker = Worker(env)
    signal.signal(signal.SIGTERM, worker.on_signal)
    signal.signal(signal.SIGINT, worker.on_signal)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
