"""Can each role's agent start?  Checked by ``check`` (a warning) and ``run`` (an error).

An agent that is not on PATH, not executable, or a script without a ``#!``
line would otherwise pass ``check`` and fail only at run time, attempt after
attempt.  This looks, without running anything: the command found on the
workers' PATH (or as a path, relative to the agents' working directory, as
the worker's exec will resolve it), executable, and either a binary or a
script with an interpreter line; for ``python3 script.py``-style commands,
that the script exists.  Each problem says how to fix it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from teamexec.core.model import Issue, Session, Severity

# magic numbers of executables the kernel runs directly: ELF, Mach-O (both byte orders,
# 32/64 bit, fat)
BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
INTERPRETERS = ("python", "python3", "sh", "bash", "zsh", "node", "ruby", "perl", "deno", "bun")
SCRIPT_SUFFIXES = (".py", ".sh", ".js", ".mjs", ".ts", ".rb", ".pl")


def _interpreter_line(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError:
        return b""


def agent_problem(argv: Sequence[str], *, cwd: Path, path_env: str) -> str | None:
    """What stops ``argv`` from starting in ``cwd`` with this PATH, and the fix; else None."""
    command = argv[0]
    if "/" in command:
        found = Path(command) if os.path.isabs(command) else cwd / command
        if not found.exists():
            return (
                f"agent `{command}` not found (looked in {found}); give a path that exists, "
                "absolute or relative to the agents' working directory"
            )
    else:
        located = shutil.which(command, mode=os.F_OK, path=path_env)
        if located is None:
            return (
                f"agent `{command}` is not on PATH; install it, or give its full path in "
                "`agent:` (or --agent, TEAMEXEC_AGENT, executor.agent)"
            )
        found = Path(located)
    if found.is_dir():
        return f"agent `{command}` is a directory ({found}); name the program to run"
    if not os.access(found, os.X_OK):
        return f"agent `{command}` is not executable ({found}); fix with: chmod +x {found}"
    head = _interpreter_line(found)
    if not head.startswith(b"#!") and not head.startswith(BINARY_MAGIC):
        return (
            f"agent `{command}` has no `#!` line and is no binary ({found}), so it cannot be "
            f"started; add a first line such as `#!/usr/bin/env python3`, or run it through its "
            f'interpreter: agent: ["python3", "{command}"]'
        )
    name = Path(command).name
    if name.rstrip("0123456789.") in INTERPRETERS and len(argv) > 1:
        script = argv[1]
        if script.endswith(SCRIPT_SUFFIXES) and not script.startswith("-"):
            target = Path(script) if os.path.isabs(script) else cwd / script
            if not target.is_file():
                return (
                    f"agent script `{script}` not found (looked in {target}); agents run in "
                    f"{cwd} (executor.cwd), so give the script's path from there"
                )
    return None


def agent_issues(
    session: Session,
    *,
    agent_for: Callable[[str], tuple[str, ...] | None],
    cwd: Path,
    env: Mapping[str, str],
    severity: Severity = Severity.ERROR,
) -> list[Issue]:
    """One issue per role whose agent cannot start (roles with their own worker are skipped)."""
    issues = []
    for role, spec in sorted(session.specs.items()):
        argv = agent_for(role)
        if not argv or spec.worker is not None:
            continue  # no agent at all is reported elsewhere; a custom worker runs its own
        # the workers' PATH: our bin first (spawn.worker_env), unless the role sets one
        path_env = spec.env.get("PATH") or os.pathsep.join(
            (os.path.dirname(sys.executable), env.get("PATH", os.defpath))
        )
        problem = agent_problem(argv, cwd=Path(cwd), path_env=path_env)
        if problem is not None:
            where = str(session.root / spec.path)
            issues.append(Issue(where, None, f"role {role}: {problem}", severity))
    return issues
