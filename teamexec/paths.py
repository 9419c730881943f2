"""Where each file of a session lives (PROTOCOL §1), in one place.

Callers never join session paths by hand; they ask a ``SessionPaths``.
``tasks`` can point elsewhere (``--task-list DIR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SessionPaths:
    root: Path
    task_list: Path | None = None

    @property
    def team_session(self) -> Path:
        return self.root / "team-session.json"

    @property
    def task_analysis(self) -> Path:
        return self.root / "task-analysis.json"

    @property
    def role_specs(self) -> Path:
        return self.root / "role-specs"

    @property
    def tasks(self) -> Path:
        return self.task_list if self.task_list is not None else self.root / "tasks"

    @property
    def tasks_lock(self) -> Path:
        return self.tasks / ".lock"

    @property
    def msg(self) -> Path:
        return self.root / ".msg"

    @property
    def messages_log(self) -> Path:
        return self.msg / "messages.jsonl"

    @property
    def meta(self) -> Path:
        return self.msg / "meta.json"

    @property
    def inbox(self) -> Path:
        return self.msg / "inbox"

    @property
    def msg_tmp(self) -> Path:
        return self.msg / "tmp"

    @property
    def rejected(self) -> Path:
        return self.msg / "rejected"

    @property
    def control(self) -> Path:
        """Where `teamexec pause|stop` drop requests for the running executor."""
        return self.msg / "control"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def wisdom(self) -> Path:
        return self.root / "wisdom"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def lock(self) -> Path:
        return self.root / ".teamexec.lock"

    def task_file(self, task_id: str) -> Path:
        return self.tasks / f"{task_id}.json"

    def log_file(self, task_id: str, attempt: int) -> Path:
        return self.logs / f"{task_id}.{attempt}.log"
