"""The task store: ``tasks/<TASK-ID>.json`` files (PROTOCOL §5).

Every write is atomic (temporary file, fsync, rename, fsync of the directory)
and made under an exclusive ``flock`` on ``tasks/.lock``; a claim is a
compare-and-set under that lock, so two processes can never claim one task.
Standard library only: the lean worker imports this for inner-loop claims.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from teamexec import atomic
from teamexec.errors import StateCorrupt
from teamexec.model import TASK_ID_RE, Issue, Task, TaskStatus, iso
from teamexec.readiness import ready_tasks

_STATUSES = {s.value for s in TaskStatus}


class TaskStore:
    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = directory
        self.durable = durable
        self._lock_fd: int | None = None
        self._depth = 0
        # what this object last read or wrote per task: saves re-reading a file to
        # learn that a write would change nothing
        self._known: dict[str, Any] = {}

    def path(self, task_id: str) -> Path:
        return self.directory / f"{task_id}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock on ``tasks/.lock``; re-entrant within this object."""
        if self._depth == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    # ----------------------------------------------------------------- reads
    def _parse(self, path: Path) -> Task:
        """One file as a Task; StateCorrupt says what is wrong with it."""
        self._known.pop(path.stem, None)
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise StateCorrupt(str(path), "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise StateCorrupt(f"{path}:{exc.lineno}", f"not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise StateCorrupt(str(path), "JSON nested too deeply") from None
        if not isinstance(data, dict):
            raise StateCorrupt(str(path), "a task file must hold a JSON object")
        if str(data.get("id")) != path.stem:
            raise StateCorrupt(str(path), f"id {data.get('id')!r} does not match the file name")
        if data.get("status", "pending") not in _STATUSES:
            raise StateCorrupt(str(path), f"unknown status {data.get('status')!r}")
        self._known[path.stem] = data
        return Task(data)

    def read(self, task_id: str) -> Task | None:
        path = self.path(task_id)
        if not path.exists():
            return None
        return self._parse(path)

    def read_all(self) -> tuple[dict[str, Task], list[Issue]]:
        """Every task file; files that do not parse become issues, never exceptions."""
        tasks: dict[str, Task] = {}
        issues: list[Issue] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return tasks, issues
        for name in names:
            if name.startswith(".") or not name.endswith(".json"):
                continue
            path = self.directory / name
            if not TASK_ID_RE.match(path.stem):
                issues.append(Issue(str(path), None, "file name is not a valid task id"))
                continue
            try:
                task = self._parse(path)
            except StateCorrupt as exc:
                where, _, line = exc.path.rpartition(":")
                has_line = line.isdigit() and where
                issues.append(
                    Issue(
                        where if has_line else exc.path, int(line) if has_line else None, exc.reason
                    )
                )
                continue
            except FileNotFoundError:
                continue
            tasks[task.id] = task
        return tasks, issues

    # ---------------------------------------------------------------- writes
    def _unchanged(self, task: Task) -> bool:
        """Does the file already hold this value?  Known from our own last read or write."""
        known = self._known.get(task.id)
        if known is not None:
            return known == task.data
        try:
            return bool(json.loads(self.path(task.id).read_bytes()) == task.data)
        except (FileNotFoundError, ValueError):
            return False

    def _write_locked(self, task: Task, *, sync_dir: bool = True) -> bool:
        if self._unchanged(task):
            return False
        data = atomic.dump_json(task.data)
        atomic.atomic_write(self.path(task.id), data, durable=self.durable, sync_dir=sync_dir)
        self._known[task.id] = task.data
        return True

    def write(self, task: Task) -> bool:
        """Write one task; False when the file already holds the same value."""
        with self.locked():
            return self._write_locked(task)

    def write_many(self, tasks: Iterable[Task]) -> int:
        """Write several tasks under one lock, with one directory fsync at the end."""
        with self.locked():
            written = sum(1 for task in tasks if self._write_locked(task, sync_dir=False))
            if written and self.durable:
                atomic.fsync_dir(self.directory)
            return written

    def claim(self, task_id: str, worker_id: str, *, now: float) -> Task | None:
        """pending -> in_progress for ``worker_id``, or None when it is not pending."""
        with self.locked():
            try:
                task = self.read(task_id)
            except StateCorrupt:
                return None
            if task is None or task.status is not TaskStatus.PENDING:
                return None
            return self._claim_locked(task, worker_id, now)

    def _claim_locked(self, task: Task, worker_id: str, now: float) -> Task:
        stamp = iso(now)
        claimed = task.evolve(
            status=TaskStatus.IN_PROGRESS.value,
            metadata={
                "claimed_by": worker_id,
                "attempts": task.attempts + 1,
                "updated_at": stamp,
                "started_at": stamp,
                "retry_at": None,
            },
        )
        self._write_locked(claimed)
        return claimed

    def claim_next(
        self, owner: str, roles: Collection[str], worker_id: str, *, now: float
    ) -> Task | None:
        """Claim the first ready task of ``owner`` (the inner-loop worker's next task)."""
        with self.locked():
            tasks, _issues = self.read_all()
            for task in ready_tasks(tasks, roles, now, owner=owner):
                return self._claim_locked(task, worker_id, now)
            return None
