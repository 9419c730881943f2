"""What a line of the shared message log means (PROTOCOL §6): pure functions.

``.msg/messages.jsonl`` is written by teamexec and by CCW's own ``team_msg``
tool (ccw/src/tools/team-msg.ts), which appends ``{id, ts, from, to, type,
summary, data?}`` with ``id`` = the file's highest ``MSG-NNN`` + 1 — two
writers can therefore pick the same id.  A line is known by its
``fingerprint`` (id, ts, from, type, summary and the original id of a line
teamexec relayed), never by its id alone.

CCW's team-worker writes ``from: "<task_id>"`` for progress and completion
(team-worker.md, "Progress Milestone Protocol") and ``from: "<role>"`` for its
Phase 5 ``state_update`` with ``data.status: "task_complete"``; ``task_of``
finds the task either way, and ``as_message`` turns a line into the shape
``handling.apply_message`` judges (sender = the task's owner, ``data.task_id``
set).  Lines about no task (the coordinator's "Session initialized") are
CCW's business and are left alone.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

SEQ_RE = re.compile(r"^MSG-(\d+)$")
RESET_TYPE = "task_reset"  # `teamexec reset` notes it: earlier completion lines no longer count
COMPLETE_STATUSES = frozenset({"task_complete", "completed", "complete"})
Fingerprint = tuple[str, ...]


def fingerprint(record: Mapping[str, Any]) -> Fingerprint:
    """What makes a log line itself: more than its id (two writers can pick one id)."""
    return tuple(
        _ascii(value) if type(value) is str else json.dumps(value, sort_keys=True, default=str)
        for value in map(record.get, _FINGERPRINT_KEYS)
    )


_FINGERPRINT_KEYS = ("id", "ts", "from", "type", "summary", "origin_id")
# json.dumps of a str, without building an encoder per call (a fingerprint per line)
_ascii: Any = getattr(json.encoder, "c_encode_basestring_ascii", None) or (
    json.encoder.encode_basestring_ascii
)


def seq_of(record: Mapping[str, Any]) -> int | None:
    """The number of an ``MSG-NNN`` id, as team-msg.ts's getNextId reads it."""
    match = SEQ_RE.match(str(record.get("id", "")))
    return int(match.group(1)) if match else None


def team_msg_ts(epoch: float) -> str:
    """team-msg.ts's nowISO(): ``2026-01-01T00:00:00.000+00:00``."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def task_of(record: Mapping[str, Any], tasks: Mapping[str, Any]) -> str | None:
    """The task a line is about: ``data.task_id``, else a ``from`` that is a task id."""
    data = record.get("data")
    task_id = data.get("task_id") if isinstance(data, dict) else None
    if isinstance(task_id, str) and task_id in tasks:
        return task_id
    sender = record.get("from")
    if isinstance(sender, str) and sender in tasks:
        return sender
    return None


def may_speak_for(record: Mapping[str, Any], task_id: str, owner: str | None) -> bool:
    """Only the task itself (``from: <task_id>``) or its owner role acts on a task."""
    return record.get("from") in (task_id, owner)


def is_completion(record: Mapping[str, Any], success_type: str | None) -> bool:
    """``task_complete``, the role's success type, any ``*_complete``, or a Phase 5
    ``state_update`` whose ``data.status`` says the task is complete."""
    kind = record.get("type")
    if not isinstance(kind, str):
        return False
    if kind in ("task_complete", success_type) or kind.endswith("_complete"):
        return True
    data = record.get("data")
    return (
        kind == "state_update"
        and isinstance(data, dict)
        and str(data.get("status", "")).lower() in COMPLETE_STATUSES
    )


def as_message(
    record: Mapping[str, Any], *, task_id: str, owner: str, success_type: str | None
) -> dict[str, Any]:
    """The line as a message ``handling.apply_message`` judges: owner as sender, task named.

    A completion in any of its spellings becomes ``task_complete``; a
    ``partial_completion`` stays itself.
    """
    data = record.get("data")
    data = dict(data) if isinstance(data, dict) else {}
    data["task_id"] = task_id
    if "artifact" not in data:
        for key in ("artifact_path", "ref"):  # team-worker.md Phase 5 state_update keys
            if isinstance(data.get(key), str) and data[key]:
                data["artifact"] = data[key]
                break
    kind = str(record.get("type", "message"))
    if kind != "partial_completion" and is_completion(record, success_type):
        kind = "task_complete"
    return {
        "id": str(record.get("id", "")),
        "ts": str(record.get("ts", "")),
        "from": owner,
        "to": str(record.get("to", "coordinator")),
        "type": kind,
        "summary": str(record.get("summary", "")),
        "data": data,
    }


def log_completions(
    records: Iterable[Mapping[str, Any]],
    *,
    owners: Mapping[str, str | None],
    success_types: Mapping[str, str],
) -> dict[str, str]:
    """Tasks reported complete in the log: task id -> why (for reconcile's union, §8)."""
    found: dict[str, str] = {}
    for record in records:
        task_id = task_of(record, owners)
        if task_id is None:
            continue
        if record.get("type") == RESET_TYPE and record.get("from") == "executor":
            found.pop(task_id, None)
            continue
        if task_id in found:
            continue
        owner = owners[task_id]
        if not may_speak_for(record, task_id, owner):
            continue
        success = success_types.get(owner or "")
        if is_completion(record, success) or record.get("type") == "partial_completion":
            found[task_id] = f"reported complete in messages.jsonl ({record.get('id')})"
    return found


def relay_line(
    message: Mapping[str, Any], *, seq: int, now: float, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """An inbox message as teamexec appends it: team_msg's field order and ts format.

    ``id`` is the log's next ``MSG-NNN``; the message's own id is kept as
    ``origin_id`` so that a message seen twice is applied once.
    """
    sender = str(message.get("from", "executor"))
    to = str(message.get("to") or "coordinator")
    kind = str(message.get("type", "message"))
    line: dict[str, Any] = {
        "id": f"MSG-{seq:03d}",
        "ts": team_msg_ts(now),
        "from": sender,
        "to": to,
        "type": kind,
        "summary": str(message.get("summary") or f"[{sender}] {kind} → {to}"),
    }
    if isinstance(message.get("data"), dict):
        line["data"] = message["data"]
    line["origin_id"] = message.get("id")
    line["origin_ts"] = message.get("ts")
    line.update(extra)
    return line
