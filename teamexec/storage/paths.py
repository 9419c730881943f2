"""Where each file of a session lives (PROTOCOL §1), in one place.

Callers never join session paths by hand; they ask a ``SessionPaths``.
``tasks`` can point elsewhere (``--task-list DIR``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SessionPaths:
    """Every path of one session, each built once: the loop asks for them on every pass."""

    root: Path
    task_list: Path | None = None

    @functools.cached_property
    def team_session(self) -> Path:
        return self.root / "team-session.json"

    @functools.cached_property
    def role_specs(self) -> Path:
        return self.root / "role-specs"

    @functools.cached_property
    def tasks(self) -> Path:
        return self.task_list if self.task_list is not None else self.root / "tasks"

    @functools.cached_property
    def msg(self) -> Path:
        return self.root / ".msg"

    @functools.cached_property
    def messages_log(self) -> Path:
        return self.msg / "messages.jsonl"

    @functools.cached_property
    def meta(self) -> Path:
        return self.msg / "meta.json"

    @functools.cached_property
    def inbox(self) -> Path:
        return self.msg / "inbox"

    @functools.cached_property
    def msg_tmp(self) -> Path:
        return self.msg / "tmp"

    @functools.cached_property
    def rejected(self) -> Path:
        return self.msg / "rejected"

    @functools.cached_property
    def control(self) -> Path:
        """Where `teamexec pause|stop` drop requests for the running executor."""
        return self.msg / "control"

    @functools.cached_property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @functools.cached_property
    def wisdom(self) -> Path:
        return self.root / "wisdom"

    @functools.cached_property
    def logs(self) -> Path:
        return self.root / "logs"

    @functools.cached_property
    def report(self) -> Path:
        return self.root / "report.json"

    @functools.cached_property
    def lock(self) -> Path:
        return self.root / ".teamexec.lock"

    @functools.cached_property
    def journal(self) -> Path:
        """The executor's journal of task states (storage/journal.py)."""
        return self.root / ".teamexec.journal"

    @functools.cached_property
    def spares(self) -> Path:
        """The executor's spare files while it runs (storage/spares.py)."""
        return self.root / ".teamexec.spare"

    @functools.cached_property
    def project_root(self) -> Path | None:
        """``<root>`` when the session lies at ``<root>/.workflow/.team/<id>/`` (CCW's place).

        CCW's tools find the session from the project root (team_msg writes to
        ``$CCW_PROJECT_ROOT/.workflow/.team/<session_id>/.msg``, else the working
        directory's), so agents run there (PROTOCOL §2 ``executor.cwd``, §7).
        """
        resolved = self.root.resolve()
        team, workflow = resolved.parent, resolved.parent.parent
        if team.name == ".team" and workflow.name == ".workflow":
            return workflow.parent
        return None

    def task_file(self, task_id: str) -> Path:
        return self.tasks / f"{task_id}.json"

    def log_file(self, task_id: str, attempt: int) -> Path:
        return self.logs / f"{task_id}.{attempt}.log"


# What a run adds to a session directory (PROTOCOL §1); everything else is its definition.
RUNTIME_STATE = frozenset(
    {
        "tasks",
        ".msg",
        "logs",
        "artifacts",
        "wisdom",
        "report.json",
        ".teamexec.lock",
        ".teamexec.journal",
        ".teamexec.spare",
    }
)


@functools.lru_cache(maxsize=256)
def real(path: Path) -> str:
    """``path`` resolved, once per run: every spawn names the session's directories
    to its worker by absolute path, and each ``resolve()`` is a walk of lstat calls."""
    return str(path.resolve())


def copy_definition(source: Path, target: Path) -> Path:
    """Copy a session's definition files (not its run state) into a new ``target``.

    ``teamexec demo`` runs the packaged demo this way, so the copy it ships with
    (and a git checkout of it) is never rewritten; tests copy sample sessions so.
    """
    import shutil

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == source
        return {n for n in names if (top and n in RUNTIME_STATE) or n == "__pycache__"}

    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
    return target
