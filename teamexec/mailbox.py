"""Writing messages into a session's inbox (PROTOCOL §6): workers and `teamexec msg`.

A message is written whole into ``.msg/tmp/`` (same file system), fsynced,
and renamed into ``.msg/inbox/<id>.json`` — a rename from a sibling folder,
which the executor's observer sees at once and never half-written.
Standard library only: the lean worker imports this.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_SUMMARY = 4096


def iso(ts: float) -> str:
    """model.iso without importing model (this module stays import-light)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


class MailboxError(ValueError):
    """Bad input for a message: one line saying what is wrong."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def make_message(
    *,
    type: str,
    sender: str,
    summary: str,
    data: Mapping[str, Any],
    msg_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    task = str(data.get("task_id", "none"))
    msg_id = msg_id or _safe(f"{sender}.{task}.{time.time_ns()}.{os.getpid()}")
    return {
        "id": msg_id,
        "ts": iso(now),
        "from": sender,
        "to": "executor",
        "type": type,
        "summary": summary,
        "data": dict(data),
    }


def post(inbox: Path, message: Mapping[str, Any]) -> Path:
    """Write ``message`` atomically into ``inbox``; refuses to replace an existing id."""
    tmp_dir = inbox.parent / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"{_safe(str(message['id']))}.json"
    target = inbox / name
    tmp = tmp_dir / f"{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(json.dumps(message, ensure_ascii=False).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, target)  # fails if the id exists: never overwrite a message
    except FileExistsError:
        os.unlink(tmp)
        raise MailboxError(f"{target}: a message with this id is already in the inbox") from None
    os.unlink(tmp)
    return target


def post_from_env(
    type: str,
    *,
    summary: str,
    data: Mapping[str, Any] | None,
    task_id: str | None,
    env: Mapping[str, str],
) -> Path:
    """`teamexec msg`: a message from the worker environment (TEAMEXEC_*)."""
    if not TYPE_RE.match(type):
        raise MailboxError(f"message type {type!r} must match {TYPE_RE.pattern}")
    if len(summary) > MAX_SUMMARY:
        raise MailboxError(f"summary is {len(summary)} characters; at most {MAX_SUMMARY}")
    if data is not None and not isinstance(data, Mapping):
        raise MailboxError("--data must be a JSON object")
    missing = [k for k in ("TEAMEXEC_INBOX", "TEAMEXEC_ROLE") if not env.get(k)]
    if missing:
        raise MailboxError(f"{', '.join(missing)} not set: run inside a teamexec worker")
    payload = dict(data or {})
    task = task_id or payload.get("task_id") or env.get("TEAMEXEC_TASK_ID")
    if not task:
        raise MailboxError("no task: pass --task or set TEAMEXEC_TASK_ID")
    payload["task_id"] = task
    if env.get("TEAMEXEC_WORKER_ID"):
        payload.setdefault("worker_id", env["TEAMEXEC_WORKER_ID"])
    attempt = env.get("TEAMEXEC_ATTEMPT", "")
    if attempt.isdigit() and task == env.get("TEAMEXEC_TASK_ID"):
        payload.setdefault("attempt", int(attempt))
    message = make_message(type=type, sender=env["TEAMEXEC_ROLE"], summary=summary, data=payload)
    return post(Path(env["TEAMEXEC_INBOX"]), message)
