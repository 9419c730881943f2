"""A Claude Code task list seen as teamexec's task store (PROTOCOL §5).

Claude Code keeps a list at ``${CLAUDE_CONFIG_DIR:-~/.claude}/tasks/<list-id>/``:
one ``<n>.json`` per task (numeric file names and ids), ``subject`` = the task
id when CCW's coordinator creates it (dispatch.md: ``subject: "IMPL-001"``),
numeric ``blockedBy``/``blocks``, ``owner`` = role, and Claude's own
``.highwatermark`` (the last number handed out) and ``.lock`` beside them.  An
agent started with ``CLAUDE_CODE_TASK_LIST_ID=<list-id>`` reads and updates the
list with its TaskList/TaskUpdate tools (CCW's team-worker, Phase 1 and 5).

``ClaudeList`` is a ``TaskStore`` whose tasks are the list's entries mapped by
``subject``; it is used two ways:

- ``--task-list DIR`` naming a Claude list (``open_task_store`` detects the
  numeric layout): the list *is* the task store.  No ``<TASK-ID>.json`` file is
  ever written into it; a missing task is created as Claude would create it
  (the next free number, above ``.highwatermark``, numeric ``blockedBy``);
  entries whose subject is no task of the session (Claude's own to-dos) are
  neither read as tasks nor touched.
- the mirror ``<config>/tasks/<session_id>/`` written for Claude agents
  (``mirror_dir``), kept in step with ``tasks/`` by the executor.

Either way an agent setting its task ``completed`` there is a completion
signal (``completed()``), and a status an agent writes never overrides a
completion: a write of a non-completed status over an entry that says
``completed`` keeps ``completed`` (the executor then applies the completion).

API (what the executor and the agents' side use)::

    store = open_task_store(directory, subjects=graph_ids)  # ClaudeList or TaskStore
    lst = ClaudeList(mirror_dir(env, session_id), subjects=graph_ids)
    lst.read_all() -> ({task_id: Task}, [Issue])   # TaskStore's interface,
    lst.write_many(tasks), lst.claim(...), ...     # keyed by subject
    lst.completed() -> {task_id, ...}              # entries an agent completed
    lst.number(task_id) -> int | None              # the entry's number

Locking: an exclusive ``flock`` on the list directory itself, so teamexec adds
no file of its own to Claude's store.  Standard library only (the inner-loop
worker claims through it).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from teamexec.core.model import TASK_ID_RE, Issue, Task, TaskStatus
from teamexec.storage import atomic
from teamexec.storage.store import TaskStore, _canonical, _Damaged, _load, _signature

NUMERIC = re.compile(r"^(\d{1,9})\.json$")
HIGHWATERMARK = ".highwatermark"


def claude_config_dir(env: Mapping[str, str]) -> Path:
    """``$CLAUDE_CONFIG_DIR``, else ``~/.claude`` (where Claude Code keeps its tasks)."""
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude"


def mirror_dir(env: Mapping[str, str], list_id: str) -> Path:
    """The Claude task list ``<list_id>`` Claude agents of this session use."""
    return claude_config_dir(env) / "tasks" / list_id


def is_claude_list(directory: Path, env: Mapping[str, str] | None = None) -> bool:
    """Numeric ``<n>.json`` files and no ``<TASK-ID>.json``, or a folder under Claude's tasks/."""
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json") and n[0] != "."]
    except (FileNotFoundError, NotADirectoryError):
        names = []
    if names:
        return all(NUMERIC.match(n) for n in names)
    tasks_root = claude_config_dir(env if env is not None else os.environ) / "tasks"
    with contextlib.suppress(OSError):
        return directory.resolve().parent == tasks_root.resolve()
    return False


def open_task_store(
    directory: Path, *, subjects: Collection[str] | None = None, durable: bool = True
) -> TaskStore:
    """The store for a task directory: a ``ClaudeList`` for Claude's layout, else a TaskStore."""
    if is_claude_list(directory):
        return ClaudeList(directory, subjects=subjects, durable=durable)
    return TaskStore(directory, durable=durable)


class ClaudeList(TaskStore):
    """One Claude Code task list, read and written as teamexec tasks keyed by subject.

    ``subjects``: the task ids that are teamexec's (the graph's nodes); None
    takes every entry whose subject is a valid task id.  Revision tasks
    (``metadata.revision_of``) written by teamexec count as its own too.
    """

    def __init__(
        self, directory: Path, *, subjects: Collection[str] | None = None, durable: bool = True
    ) -> None:
        super().__init__(directory, durable=durable)
        self.subjects = frozenset(subjects) if subjects is not None else None
        self._entries: dict[int, tuple[Any, dict[str, Any]]] = {}  # n -> (signature, data)
        self._by_subject: dict[str, int] = {}
        self._problems: list[Issue] = []
        self.force = False  # `teamexec reset`: a write may override a completion
        # the mirror: blockedBy lists only blockers not completed, so an agent's Phase 1
        # filter ("blockedBy empty", team-worker.md) finds a task whose dependencies are done
        self.open_blockers_only = False
        self._seen_completed: set[str] = set()  # subjects once completed here: they stay so

    # ----------------------------------------------------------------- lock
    def _open_lock_file(self) -> int:
        """``locked()`` flocks the list directory itself: no ``.lock`` file in Claude's list."""
        return os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    # ----------------------------------------------------------------- scan
    def _ours(self, data: Mapping[str, Any]) -> str | None:
        subject = data.get("subject")
        if not isinstance(subject, str) or not TASK_ID_RE.match(subject):
            return None
        if self.subjects is None or subject in self.subjects:
            return subject
        meta = data.get("metadata")
        return subject if isinstance(meta, dict) and meta.get("revision_of") else None

    def _scan(self) -> None:
        """Re-read the entries that changed since the last scan (one stat per file)."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            names = []
        present: set[int] = set()
        problems: list[Issue] = []
        for name in names:
            match = NUMERIC.match(name)
            if not match:
                continue
            number = int(match.group(1))
            path = self.directory / name
            try:
                sig = _signature(os.stat(path, follow_symlinks=False))
            except FileNotFoundError:
                continue
            present.add(number)
            cached = self._entries.get(number)
            if cached is not None and cached[0] == sig:
                continue
            try:
                data, sig, _raw = _load(path)
            except FileNotFoundError:
                present.discard(number)
                continue
            except _Damaged as bad:
                self._entries.pop(number, None)
                present.discard(number)
                if self._ours_by_name(number):
                    problems.append(Issue(str(path), bad.line, bad.reason))
                continue
            self._entries[number] = (sig, data)
        for gone in set(self._entries) - present:
            del self._entries[gone]
        self._by_subject = {}
        for number in sorted(self._entries):
            subject = self._ours(self._entries[number][1])
            if subject is not None:
                self._by_subject.setdefault(subject, number)  # a duplicate: the first wins
        for subject, number in self._by_subject.items():
            if self._entries[number][1].get("status") == TaskStatus.COMPLETED.value:
                self._seen_completed.add(subject)
        self._problems = problems

    def _ours_by_name(self, number: int) -> bool:
        return number in self._by_subject.values()

    def _subject_of(self) -> dict[str, str]:
        return {str(n): s for s, n in self._by_subject.items()}

    def _view(self, data: Mapping[str, Any], subject: str) -> Task:
        """An entry as a teamexec task: id = subject, numeric references as task ids."""
        names = self._subject_of()
        view = dict(data)
        view["id"] = subject
        for key in ("blockedBy", "blocks"):
            refs = data.get(key)
            refs = refs if isinstance(refs, list) else []
            view[key] = [names[str(r)] for r in refs if str(r) in names]
        if view.get("status") not in {s.value for s in TaskStatus}:
            view["status"] = TaskStatus.PENDING.value
        if subject in self._seen_completed and not self.force:
            # an agent set a completed entry back: never a reason to run it again (§5)
            view["status"] = TaskStatus.COMPLETED.value
        return Task(view)

    # ----------------------------------------------------------------- reads
    def number(self, task_id: str) -> int | None:
        """The entry number holding ``task_id`` (after the last scan)."""
        return self._by_subject.get(task_id)

    def read_all(self) -> tuple[dict[str, Task], list[Issue]]:
        self._scan()
        tasks = {s: self._view(self._entries[n][1], s) for s, n in self._by_subject.items()}
        return tasks, list(self._problems)

    def _read_checked(self, task_id: str) -> Task | None:
        self._scan()
        number = self._by_subject.get(task_id)
        return None if number is None else self._view(self._entries[number][1], task_id)

    def completed(self) -> set[str]:
        """The tasks whose entry says ``completed`` (set by anyone: an agent's TaskUpdate too),
        or said so once while this object watched."""
        self._scan()
        return {s for s in self._by_subject if s in self._seen_completed}

    # ---------------------------------------------------------------- writes
    def _next_number(self) -> int:
        """Claude's next free number: above every entry and above ``.highwatermark``."""
        top = max(self._entries, default=0)
        with contextlib.suppress(OSError, ValueError):
            top = max(top, int((self.directory / HIGHWATERMARK).read_text().strip() or 0))
        return top + 1

    def _entry(self, task: Task, number: int, current: Mapping[str, Any] | None) -> dict[str, Any]:
        numbers = {s: str(n) for s, n in self._by_subject.items()}
        names = self._subject_of()
        entry: dict[str, Any] = dict(current or {})
        for key, value in task.data.items():
            if key not in ("id", "blockedBy", "blocks"):
                entry[key] = value
        entry["id"] = str(number)
        entry["subject"] = task.id
        for key, ours in (("blockedBy", task.blocked_by), ("blocks", task.data.get("blocks"))):
            old = current.get(key) if current else None
            foreign = [r for r in (old if isinstance(old, list) else []) if str(r) not in names]
            mapped = [numbers[s] for s in (ours or ()) if s in numbers]
            if key == "blockedBy" and self.open_blockers_only:
                mapped = [
                    n
                    for n, s in zip(mapped, _known(ours, numbers), strict=True)
                    if s not in self._seen_completed
                ]
            entry[key] = [*mapped, *foreign]
        done = TaskStatus.COMPLETED.value
        sticky = current is not None and current.get("status") == done and not self.force
        if sticky and task.status.value != done:
            entry["status"] = done  # an agent completed it: never overridden (§5)
        return entry

    def _write_locked(self, task: Task, *, sync_dir: bool = True) -> bool:
        self._scan()
        number = self._by_subject.get(task.id)
        current = self._entries[number][1] if number is not None else None
        if number is None:
            number = self._next_number()
            self._by_subject[task.id] = number
        entry = self._entry(task, number, current)
        if current is not None and _canonical(current) == _canonical(entry):
            return False
        path = self.directory / f"{number}.json"
        atomic.atomic_write(path, atomic.dump_json(entry), durable=self.fsyncs, sync_dir=sync_dir)
        if current is None:
            atomic.atomic_write(
                self.directory / HIGHWATERMARK, str(number).encode(), durable=self.fsyncs
            )
        self._journaled(task)
        with contextlib.suppress(OSError):
            self._entries[number] = (_signature(os.stat(path, follow_symlinks=False)), entry)
        return True

    def write_many(self, tasks: Iterable[Task]) -> int:
        """Write tasks; new ones are numbered dependencies first, as dispatch.md creates them."""
        return super().write_many(_dependencies_first(list(tasks)))


def _known(subjects: Iterable[str] | None, numbers: Mapping[str, str]) -> list[str]:
    return [s for s in (subjects or ()) if s in numbers]


def _dependencies_first(tasks: list[Task]) -> list[Task]:
    """The batch in an order where a task comes after the tasks of the batch it depends on."""
    pending = {t.id: t for t in tasks}
    ordered: list[Task] = []
    placed: set[str] = set()
    while pending:
        progress = False
        for task_id in list(pending):
            task = pending[task_id]
            if all(d in placed or d not in pending for d in task.blocked_by):
                ordered.append(task)
                placed.add(task_id)
                del pending[task_id]
                progress = True
        if not progress:  # a cycle in a hand-edited list: keep the given order
            ordered.extend(pending.values())
            break
    return ordered
