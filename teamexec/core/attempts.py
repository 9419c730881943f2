"""The per-attempt history kept in a task's ``metadata.attempt_log`` (pure, stdlib only).

One entry per attempt: ``{attempt, started_at, ended_at, outcome, slot, reason}``.
The claim opens it (storage/store.py, in the same write, so it costs no extra
fsync), the end of the attempt closes it (handling.py: completed, or the failure
kind; pool.py: interrupted).  ``teamexec report --html`` draws its timeline from
these: one bar per attempt, in the lane of the worker slot it ran in.  Entries
are never removed, not even by ``teamexec reset`` (attempt numbers go on), so
the history of a task survives its resets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY = "attempt_log"
COMPLETED = "completed"
INTERRUPTED = "interrupted"


def log_name(task_id: str, attempt: int) -> str:
    """The attempt's log, relative to the session (PROTOCOL §1: logs/<TASK-ID>.<attempt>.log)."""
    return f"logs/{task_id}.{attempt}.log"


def entries(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attempt log as a list of dicts; anything malformed is left out."""
    value = meta.get(KEY)
    if not isinstance(value, list):
        return []
    return [dict(e) for e in value if isinstance(e, dict)]


def opened(
    meta: Mapping[str, Any], *, attempt: int, started_at: str, slot: int | None
) -> list[dict[str, Any]]:
    """The log with a new open entry for ``attempt`` (replacing one of the same number)."""
    log = [e for e in entries(meta) if e.get("attempt") != attempt]
    entry: dict[str, Any] = {"attempt": attempt, "started_at": started_at}
    if slot is not None:
        entry["slot"] = slot
    log.append(entry)
    return log


def closed(
    meta: Mapping[str, Any],
    *,
    attempt: int,
    outcome: str,
    ended_at: str,
    reason: str | None = None,
) -> list[dict[str, Any]] | None:
    """The log with ``attempt``'s open entry closed; None when there is nothing to close."""
    log = entries(meta)
    for entry in log:
        if entry.get("attempt") == attempt and "ended_at" not in entry:
            entry["ended_at"] = ended_at
            entry["outcome"] = outcome
            if reason:
                entry["reason"] = reason[:500]
            return log
    return None
