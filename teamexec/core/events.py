"""What happened, as plain records: the core returns them, a reporter prints them.

Core code never prints.  Every decision carries its reason so that ``check``,
the run output and the logs can say *why* (a task reset, a message rejected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from teamexec.core.model import one_line


class EventKind(StrEnum):
    # reconciliation
    TASK_CREATED = "task_created"
    COMPLETION_MERGED = "completion_merged"
    TASK_INTERRUPTED = "task_interrupted"
    TASK_ORPHANED = "task_orphaned"
    WORKER_ADOPTED = "worker_adopted"
    # run time
    SPAWNED = "spawned"
    COMPLETED = "completed"
    RETRY = "retry"
    FAILED = "failed"
    PROGRESS = "progress"
    BLOCKER = "blocker"
    CAPABILITY_GAP = "capability_gap"
    CONSENSUS = "consensus"
    REVISION = "revision"
    PAUSE = "pause"
    MESSAGE = "message"
    REJECTED = "rejected"
    KILLED = "killed"
    SPEC_RELOADED = "spec_reloaded"
    SPEC_INVALID = "spec_invalid"
    STATE_CORRUPT = "state_corrupt"
    WARNING = "warning"
    RATE_LIMITED = "rate_limited"  # data: agent_kind, until (epoch seconds)
    BUDGET = "budget"  # data: spent_usd, spent_tokens
    EVIDENCE = "evidence"  # data: missing (paths)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    source: str  # "executor" or a role name: printed as [source]
    text: str
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        # a task id or a file name with a newline in it never splits the line
        return one_line(f"[{self.source}] {self.text}")
