"""The files teamexec shares with CCW's tools and Claude Code (PROTOCOL §5, §6).

``SharedFiles`` is the collaborator of ``Engine`` (``engine.shared``) that
treats what other programs write as input, beside the inbox:

- ``.msg/messages.jsonl``, which CCW's ``team_msg`` appends to directly: the
  executor follows it from the byte offset it last read (woken by the
  watchdog events on ``.msg/`` and by the periodic rescan), and applies
  every new line once, whoever wrote it (``core/msglog.py`` says what a line
  means; ``storage/messages.MessageLog`` reads and de-duplicates);
- the Claude Code task list the Claude agents use — the ``--task-list`` store
  when it is one, else the mirror ``<config>/tasks/<session_id>/`` written
  before a Claude agent starts (``storage/claudelist.py``): an entry an agent
  set ``completed`` is a completion signal.

``follow_signals`` runs right after the inbox is listed and before any inbox
message is applied or worker exit accounted for: a worker's log line or
TaskUpdate precedes its exit and its own report, so the completion is seen
first and an exit code or an ``error`` report can no longer make the task run
twice.  ``external_completions`` gives reconcile the completions recorded
outside the task files (§8's union).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from teamexec.core.agentout import AgentKind, agent_kind
from teamexec.core.events import Event, EventKind
from teamexec.core.handling import Context, Verdict, apply_message, complete_task
from teamexec.core.model import Message, RoleSpec, Session, Task, TaskStatus
from teamexec.core.msglog import as_message, log_completions, may_speak_for, task_of
from teamexec.executor.options import RunOptions
from teamexec.storage.claudelist import ClaudeList, mirror_dir
from teamexec.storage.messages import MessageLog
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore

if TYPE_CHECKING:
    from teamexec.executor.pool import LiveWorker

LOG_DEFER_S = 5.0  # how long a logged completion may wait for its artifact to appear


class SharedOwner(Protocol):
    """What the shared files need from the run they serve (``Engine`` provides it)."""

    paths: SessionPaths
    session: Session
    options: RunOptions
    emit: Callable[[Event], None]
    store: TaskStore
    messages: MessageLog
    specs: dict[str, RoleSpec]
    tasks: dict[str, Task]
    dirty: set[str]
    role_state: dict[str, Any]
    meta_dirty: bool

    @property
    def running(self) -> dict[str, LiveWorker]: ...

    def agent_for(self, role: str) -> tuple[str, ...] | None: ...
    def note_worker(self, message: Any, verdict: Verdict, now: float) -> None: ...
    def context(self, now: float) -> Context: ...


class SharedFiles:
    """The Claude task list and the message log, as a collaborator of ``Engine``.

    It reaches the run's state only through ``SharedOwner``; the pool reads
    the Claude list and ``mirror_users`` from it (pool.py's ``ClaudeMirror``).
    """

    def __init__(self, owner: SharedOwner) -> None:
        self.owner = owner
        self.log_deferred: list[tuple[float, int, dict[str, Any]]] = []
        self.mirror_users: dict[str, bool] = {}  # role -> whether its agents claim in the list
        self.claude_list: ClaudeList | None = None
        self.claude_list_id: str | None = None
        store, session = owner.store, owner.session
        if isinstance(store, ClaudeList):  # --task-list names a Claude list
            self.claude_list = store
            self.claude_list_id = store.directory.name
        elif session.executor.claude_task_list and self.claude_roles():
            self.claude_list_id = session.session_id
            # a view for the Claude agents, rewritten from the executor's state at every
            # reconcile: not fsynced (the journal is the executor's durable record)
            self.claude_list = ClaudeList(
                mirror_dir(owner.options.env, session.session_id),
                subjects=set(session.graph),
                durable=False,
            )
            self.claude_list.open_blockers_only = True

    def claude_roles(self) -> set[str]:
        """Roles whose agent is Claude Code (``agent_kind``, else argv[0] ``claude``)."""
        found = set()
        for role, spec in self.owner.specs.items():
            declared = spec.frontmatter.get("agent_kind")
            kind = agent_kind(
                declared if isinstance(declared, str) else None, self.owner.agent_for(role)
            )
            if kind is AgentKind.CLAUDE:
                found.add(role)
        return found

    def claude_env(self, role: str) -> dict[str, str]:
        """The variables that point a Claude agent at the session's task list (§5)."""
        if self.claude_list_id is None or role not in self.claude_roles():
            return {}
        # the mirror lies under ${CLAUDE_CONFIG_DIR:-~/.claude}, which the agent inherits
        return {
            "CLAUDE_CODE_TASK_LIST_ID": self.claude_list_id,
            "CLAUDE_CODE_ENABLE_TODO_TOOLS": "1",
        }

    def sync_mirror(self, tasks: Iterable[Task]) -> None:
        """Write the tasks into the mirror (only entries that differ are written)."""
        if self.claude_list is None or self.claude_list is self.owner.store:
            return
        try:
            self.claude_list.write_many(list(tasks))
        except OSError as exc:
            text = f"{self.claude_list.directory}: cannot write the Claude task list: {exc}"
            self.owner.emit(Event(EventKind.WARNING, "executor", text))

    # ------------------------------------------------------------- reconcile
    def external_completions(self, tasks: Mapping[str, Task]) -> dict[str, str]:
        """Completions recorded outside the task files: the Claude list and the log."""
        owners: dict[str, str | None] = {t: n.role for t, n in self.owner.session.graph.items()}
        owners.update({t.id: t.owner for t in tasks.values()})
        success = {r: s.success_type for r, s in self.owner.specs.items()}
        found = log_completions(self.owner.messages.history, owners=owners, success_types=success)
        self.owner.messages.history = []  # counted once; follow() goes on from its end
        if self.claude_list is not None and self.claude_list is not self.owner.store:
            try:
                done = self.claude_list.completed()
            except OSError:
                done = set()
            for task_id in sorted(done):
                found.setdefault(
                    task_id, f"completed in the Claude task list {self.claude_list_id}"
                )
        return found

    # ----------------------------------------------------------------- follow
    def follow_signals(self, now: float) -> None:
        """Apply what other programs reported since the last pass: log lines, Claude list."""
        self.follow_log(now)
        self.scan_claude_list(now)

    def follow_log(self, now: float) -> None:
        retry, self.log_deferred = self.log_deferred, []
        for first, number, record in retry:
            self._apply_line(record, number, now, first_seen=first)
        for line in self.owner.messages.follow():
            if line.record is None:
                text = f"{self.owner.paths.messages_log}:{line.number}: skipped: {line.error}"
                self.owner.emit(Event(EventKind.WARNING, "executor", text))
                continue
            self._apply_line(line.record, line.number, now, first_seen=now)

    def _apply_line(
        self, record: dict[str, Any], number: int, now: float, *, first_seen: float
    ) -> None:
        task_id = task_of(record, self.owner.tasks)
        if task_id is None:
            return  # about no task of ours: CCW's own business
        task = self.owner.tasks[task_id]
        if task.owner is None or not may_speak_for(record, task_id, task.owner):
            return
        spec = self.owner.specs.get(task.owner)
        message = as_message(
            record,
            task_id=task_id,
            owner=task.owner,
            success_type=spec.success_type if spec else None,
        )
        verdict = apply_message(cast(Message, message), self.owner.context(now))
        if verdict.deferred:
            if now - first_seen < LOG_DEFER_S:
                self.log_deferred.append((first_seen, number, record))
                return
            # the line stays in the log; teamexec does not advance on a missing artifact
            text = f"{self.owner.paths.messages_log}:{number}: {verdict.reason}; not applied"
            self.owner.emit(Event(EventKind.WARNING, "executor", text, task_id))
            return
        if not verdict.accepted:
            return
        self.owner.note_worker(message, verdict, now)
        self._take(verdict)

    def _take(self, verdict: Verdict) -> None:
        for task_id, task in verdict.updates.items():
            self.owner.tasks[task_id] = task
            self.owner.dirty.add(task_id)
        for event in verdict.events:
            self.owner.emit(event)
        if verdict.role_state is not None:
            owner = next((t.owner for t in verdict.updates.values() if t.owner), None)
            about = str(verdict.role_state.get("task_id"))
            role = owner or (self.owner.tasks[about].owner if about in self.owner.tasks else None)
            if role:
                self.owner.role_state[role] = dict(verdict.role_state)
                self.owner.meta_dirty = True

    def scan_claude_list(self, now: float) -> None:
        """An entry set ``completed`` in the Claude list completes its task (once)."""
        if self.claude_list is None:
            return
        try:
            done = self.claude_list.completed()
        except OSError:
            return
        for task_id in sorted(done):
            task = self.owner.tasks.get(task_id)
            if task is None or task.status in (TaskStatus.COMPLETED, TaskStatus.DELETED):
                continue
            self.owner.tasks[task_id] = complete_task(task, artifact=None, now=now)
            self.owner.dirty.add(task_id)
            if task.owner:
                self.mirror_users[task.owner] = True  # its agents work in the list (pool.py)
            for live in self.owner.running.values():
                if live.task_id == task_id:
                    live.reported.add(task_id)
                    live.last_beat = now
            text = f"{task_id} complete (set completed in the Claude task list)"
            self.owner.emit(Event(EventKind.COMPLETED, task.owner or "executor", text, task_id))
