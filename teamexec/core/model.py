"""Plain data at the bottom of the layering: enums and frozen records.

Every other module speaks in these types.  Nothing here reads files, spawns
processes or prints; the loader builds these records from disk and the pure
core (validation, reconciliation, scheduling) turns them into decisions.

Task files and team-session.json keep *all* their keys, known or not, in
``data`` so that a rewrite never drops what another tool (Claude Code, CCW)
put there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, NotRequired, TypedDict, TypeVar, overload

# re-exported: most modules take them from here
from teamexec.core import jsontext
from teamexec.core.timestamps import iso as iso
from teamexec.core.timestamps import parse_iso as parse_iso

CLAIMER_KEY = "claimer"  # task metadata: who claimed it (worker id, host, pid, pid start time)
ROLE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TASK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


class CompletionAction(StrEnum):
    INTERACTIVE = "interactive"
    AUTO_ARCHIVE = "auto_archive"
    AUTO_KEEP = "auto_keep"


class Schedule(StrEnum):
    """Order in which ready tasks start (PROTOCOL §8 step 3; priority.py)."""

    CRITICAL_PATH = "critical_path"  # longest remaining path by expected duration first
    FIFO = "fifo"  # task-id order


class EndAction(StrEnum):
    """What happens when the pipeline completes (``--completion``, and the menu's answers).

    ``CompletionAction`` is the file's own spelling of the default; ``configured``
    in executor/end_action.py maps one onto the other.
    """

    INTERACTIVE = "interactive"
    ARCHIVE = "archive"
    KEEP = "keep"
    EXPORT = "export"


class Control(StrEnum):
    """A request to the running executor: ``teamexec pause|stop`` drop a file so named."""

    PAUSE = "pause"  # no new workers; running ones finish
    STOP = "stop"  # terminate the workers, tasks back to pending


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


def one_line(text: str) -> str:
    """``text`` with line breaks escaped: a task id or file name can never split a line."""
    if "\n" not in text and "\r" not in text:
        return text
    return text.replace("\r", "\\r").replace("\n", "\\n")


@dataclass(frozen=True, order=True)
class Issue:
    """One validation finding, printed as ``path:line: message``."""

    path: str
    line: int | None
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return one_line(f"{where}: {prefix}{self.message}")


class MessageData(TypedDict, total=False):
    """A message's ``data`` (schemas/message.schema.json); only ``task_id`` is required."""

    task_id: str
    attempt: int
    worker_id: str
    artifact: str
    progress_pct: float
    phase: str
    severity: str
    exit_code: int | None
    log_tail: str
    duration_s: float


# A message as it arrives in the inbox, schema-checked where it is read
# (storage/messages.py): the core decides on well-formed messages only.
# Functional form because ``from`` is a keyword.  Unknown keys are kept.
Message = TypedDict(
    "Message",
    {
        "id": str,
        "ts": str,
        "from": str,
        "type": str,
        "data": MessageData,
        "to": NotRequired[str],
        "summary": NotRequired[str],
    },
)


@dataclass(frozen=True)
class ExecutorConfig:
    """team-session.json ``executor`` object, with the protocol's defaults."""

    max_workers: int = 4
    orphan_after_s: float = 300.0
    agent: tuple[str, ...] | None = None
    cwd: str | None = None
    worker: str = "auto"  # the built-in worker: "auto", "python" (full) or "sh" (lean)
    claude_task_list: bool = True  # mirror tasks into a Claude Code task list (§5)
    schedule: Schedule = Schedule.CRITICAL_PATH
    budget_usd: float | None = None  # the run's spending cap (PROTOCOL §10); None: no cap
    budget_tokens: int | None = None
    evidence: str = "warn"  # warn | require | off (PROTOCOL §7)


@dataclass(frozen=True)
class RoleDef:
    """A role as team-session.json registers it."""

    name: str
    prefix: str
    role_spec: str  # path relative to the session directory
    inner_loop: bool = False
    responsibility_type: str | None = None
    additional_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    """A validated role-spec markdown file (frontmatter + Phase 2-4 body)."""

    role: str
    prefix: str
    inner_loop: bool
    success_type: str
    error_type: str
    body: str
    path: str  # relative to the session directory
    agent: tuple[str, ...] | None = None
    worker: tuple[str, ...] | None = None
    additional_prefixes: tuple[str, ...] = ()
    max_concurrent: int | None = None  # None: only max_workers bounds the role
    timeout_s: float = 1800.0
    max_retries: int = 2
    stall_after_s: float = 600.0
    env: Mapping[str, str] = field(default_factory=dict)
    transient_patterns: tuple[str, ...] | None = None  # None: built-in list
    permanent_patterns: tuple[str, ...] | None = None
    agent_kind: str | None = None  # claude | codex | gemini | plain; None: from the argv
    max_budget_usd: float | None = None  # one attempt's cap, passed to agents that take one
    resume_on_retry: bool = True  # a retry continues the failed attempt's conversation
    evidence: str | None = None  # overrides executor.evidence for this role
    frontmatter: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDetails:
    """Optional per-task details from ``capabilities[].tasks[]``.

    Hints that teamexec only renders into the prompt (PROTOCOL §0): each is any
    JSON value as the planner wrote it (a list arrives as a tuple), rendered by
    taskgen.py.  CCW's analyze-task.md writes ``success_criteria`` and
    ``constraints`` as strings, ``steps`` and ``key_files`` as lists.
    """

    description: Any = None
    goal: Any = None
    steps: Any = ()
    key_files: Any = ()
    upstream_artifacts: Any = ()
    success_criteria: Any = ()
    constraints: Any = ()
    artifacts: Any = ()  # the capability's artifacts


@dataclass(frozen=True)
class GraphNode:
    """One node of task-analysis.json's dependency graph, role resolved."""

    task_id: str
    depends_on: tuple[str, ...]
    role: str | None  # None only while invalid: validation reports it
    details: TaskDetails = field(default_factory=TaskDetails)


T = TypeVar("T")


class _cached(Generic[T]):
    """``functools.cached_property`` without its lock.

    On Python 3.11 the standard one takes a lock shared by every instance on
    each first access; ``check`` of a 10k-task session paid ~0.08 s for it.
    Tasks are immutable, so computing a field twice in a race is harmless.
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _cached[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | _cached[T]:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value  # the instance attribute now shadows this descriptor
        return value


@dataclass(frozen=True)
class Task:
    """A task file.  ``data`` is the whole JSON object, unknown keys included.

    Treated as immutable (``evolve`` makes a new one), so the derived fields are
    cached: the scheduler reads them for every task on every pass.
    """

    data: Mapping[str, Any]

    @_cached
    def id(self) -> str:
        return str(self.data["id"])

    @_cached
    def status(self) -> TaskStatus:
        # cached: the scheduler asks every task's status on every pass
        return TaskStatus(self.data.get("status", "pending"))

    @_cached
    def owner(self) -> str | None:
        owner = self.data.get("owner")
        return owner if isinstance(owner, str) and owner else None

    @_cached
    def blocked_by(self) -> tuple[str, ...]:
        return tuple(map(str, self.data.get("blockedBy") or ()))

    @_cached
    def metadata(self) -> Mapping[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @_cached
    def canonical(self) -> str:
        """``data`` as the store's comparison text (sorted keys, compact: jsontext.canonical).

        Cached: the store compares one state when it is written, again while its
        view is owed, and keeps it as what the file holds once the view is out.
        """
        return jsontext.canonical(self.data)

    @classmethod
    def known(
        cls,
        data: Mapping[str, Any],
        *,
        status: TaskStatus,
        owner: str | None,
        blocked_by: tuple[str, ...],
    ) -> Task:
        """A task whose derived fields its maker already knows (they must be what
        the fields would compute from ``data``): taskgen makes 10 000 at once."""
        task = cls(data)
        task.__dict__.update(status=status, owner=owner, blocked_by=blocked_by)
        return task

    def recorded_duration(self) -> float | None:
        """Seconds from ``started_at`` to ``completed_at`` in the metadata, if both are there."""
        return self._recorded_duration

    @_cached
    def _recorded_duration(self) -> float | None:
        # cached: the task table tallies it on every write of a completed task
        start = parse_iso(self.metadata.get("started_at"))
        end = parse_iso(self.metadata.get("completed_at"))
        return None if start is None or end is None else max(0.0, end - start)

    @property
    def attempts(self) -> int:
        value = self.metadata.get("attempts", 0)
        return value if isinstance(value, int) else 0

    @property
    def attempts_since_reset(self) -> int:
        """Attempts that count against ``max_retries``: those after the last ``teamexec reset``.

        A reset keeps ``attempts`` (so logs and attempt numbers never repeat)
        and records where the count starts again in ``attempts_before_reset``.
        """
        base = self.metadata.get("attempts_before_reset", 0)
        base = base if isinstance(base, int) and not isinstance(base, bool) else 0
        return max(0, self.attempts - base)

    @property
    def claimed_by(self) -> str | None:
        value = self.metadata.get("claimed_by")
        return value if isinstance(value, str) else None

    def evolve(self, **changes: Any) -> Task:
        """A copy with top-level keys replaced; ``metadata=`` merges into metadata."""
        data = dict(self.data)
        meta_changes = changes.pop("metadata", None)
        data.update(changes)
        if meta_changes is not None:
            merged = dict(self.metadata)
            for key, value in meta_changes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            data["metadata"] = merged
        return Task(data)


@dataclass(frozen=True)
class Session:
    """A loaded and validated session: what the pure core decides on."""

    root: Path
    data: Mapping[str, Any]  # team-session.json, unknown keys included
    analysis: Mapping[str, Any]  # task-analysis.json
    roles: Mapping[str, RoleDef]
    specs: Mapping[str, RoleSpec]
    graph: Mapping[str, GraphNode]
    executor: ExecutorConfig
    warnings: tuple[Issue, ...] = ()

    @property
    def session_id(self) -> str:
        return str(self.data["session_id"])

    @property
    def team_name(self) -> str:
        return str(self.data["team_name"])

    @property
    def task_description(self) -> str:
        return str(self.data["task_description"])

    @property
    def status(self) -> SessionStatus:
        return SessionStatus(self.data["status"])

    @property
    def completion_action(self) -> CompletionAction:
        return CompletionAction(self.data.get("completion_action", "interactive"))

    @property
    def completed_tasks(self) -> tuple[str, ...]:
        return tuple(str(x) for x in self.data.get("completed_tasks") or ())

    @property
    def active_workers(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(w for w in self.data.get("active_workers") or () if isinstance(w, dict))


_DIGIT_RUNS = re.compile(r"(\d+)")
_PREFIX_NUMBER = re.compile(r"(\D+)(\d+)")  # the usual shape, IMPL-001: matched at once


@functools.lru_cache(maxsize=1 << 17)
def task_sort_key(task_id: str) -> tuple[tuple[int, int | str], ...]:
    """Order task ids with numbers compared as numbers (IMPL-2 before IMPL-10).

    Cached: every sort of a 10k-task session would otherwise split each id again.
    """
    usual = _PREFIX_NUMBER.fullmatch(task_id)
    if usual is not None:
        return ((1, usual[1]), (0, int(usual[2])))
    parts = _DIGIT_RUNS.split(task_id)
    return tuple([(0, int(p)) if p.isdigit() else (1, p) for p in parts if p != ""])
