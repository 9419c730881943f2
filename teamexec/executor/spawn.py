"""Starting and stopping worker processes (PROTOCOL §7).

Each worker runs in its own session and process group (so a timeout kills
the agent it started too, and a SIGKILLed executor leaves it running to
report), with argv lists only — never a shell — and its stdout and stderr
appended to ``logs/<TASK-ID>.<attempt>.log``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from teamexec.core.model import RoleSpec, Session
from teamexec.storage import safeopen
from teamexec.storage.paths import SessionPaths, real

BUILTIN_WORKER: tuple[str, ...] = (sys.executable, "-m", "teamexec.worker")
MAX_ENV_TEXT = 64 * 1024  # one environment string may not exceed 128 KiB on Linux


def new_worker_id(role: str, task_id: str, attempt: int) -> str:
    return f"{role}.{task_id}.a{attempt}.{os.urandom(3).hex()}"


def worker_env(
    *,
    base: Mapping[str, str],
    session: Session,
    paths: SessionPaths,
    spec: RoleSpec,
    spec_path: Path,
    task_id: str,
    worker_id: str,
    attempt: int,
    agent: Sequence[str] | None,
    cwd: Path,
) -> dict[str, str]:
    env = dict(base)
    # agents call `teamexec msg`: make the executor's own installation findable even
    # when it was started as .venv/bin/teamexec without activating the venv
    bindir = os.path.dirname(sys.executable)
    path = env.get("PATH", os.defpath)
    if bindir not in path.split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + path
    env.update(spec.env)
    env.update(
        TEAMEXEC_SESSION=real(paths.root),
        TEAMEXEC_SESSION_ID=session.session_id,
        TEAMEXEC_TEAM_NAME=session.team_name,
        TEAMEXEC_REQUIREMENT=session.task_description[:MAX_ENV_TEXT],
        TEAMEXEC_ROLE=spec.role,
        TEAMEXEC_ROLE_SPEC=real(spec_path),
        TEAMEXEC_TASK_ID=task_id,
        TEAMEXEC_WORKER_ID=worker_id,
        TEAMEXEC_ATTEMPT=str(attempt),
        TEAMEXEC_INBOX=real(paths.inbox),
        TEAMEXEC_TASK_LIST=real(paths.tasks),
        TEAMEXEC_INNER_LOOP="1" if spec.inner_loop else "0",
        TEAMEXEC_ROLES=json.dumps(sorted(session.roles)),
        TEAMEXEC_CWD=str(cwd),
    )
    if agent is not None:
        env["TEAMEXEC_AGENT_ARGV"] = json.dumps(list(agent))
    if paths.project_root is not None:  # team_msg then writes into this session (§7)
        env["CCW_PROJECT_ROOT"] = str(paths.project_root)
    return env


LEAN_WORKER = Path(__file__).resolve().parent.parent / "worker" / "lean_worker.sh"


def lean_worker_argv(agent: Sequence[str]) -> tuple[str, ...]:
    """The shell worker; the agent's argv follows as "$@", never re-parsed."""
    return ("/bin/sh", str(LEAN_WORKER), *agent)


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path,
    root: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a worker in a new session; its output goes to ``log_path`` (appended).

    The log is opened through safeopen: a symlink placed at its name is refused.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(safeopen.open_append(log_path, root=root), "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Signal the worker's whole process group; False when it is already gone."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1:
        return False  # 0 and 1 name our own group and init's: never a worker's
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True
