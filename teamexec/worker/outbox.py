"""Writing messages into a session's inbox (PROTOCOL §6).

Called by the built-in worker (worker/main.py) for its reports and by
``teamexec msg`` (cli/app.py) for an agent's own messages.  A message is
written whole into ``.msg/tmp/`` (same file system, a sibling of the inbox),
fsynced, and only then given its name in ``.msg/inbox/<id>.json``, so the
executor never reads half a message, and a rename from a sibling folder is
seen by its observer at once.

Standard library only, and not even ``teamexec.core.model`` (whose dataclasses
cost more to import than the whole worker): the worker starts once per task.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from teamexec.core.timestamps import iso

TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# An id is a file name: no separators, no leading dot (the executor's observer
# ignores dot files), and short enough that "<id>.json.<pid>.tmp" fits in 255 bytes.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,229}$")
MAX_SUMMARY = 4096

# link(2) errors meaning "this file system has no hard links", not "bad message"
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


class MailboxError(ValueError):
    """Bad input for a message, or an id already taken: one line saying what is wrong."""


def _id_part(text: str) -> str:
    """A piece of a generated id, made file-name safe (role and task ids already are)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def make_message(
    *,
    type: str,  # shadows the builtin: it is the protocol's field name
    sender: str,
    summary: str,
    data: Mapping[str, Any],
    msg_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A message addressed to the executor; the id defaults to ``<role>.<task>.<ns>.<pid>``."""
    if msg_id is None:
        task = _id_part(str(data.get("task_id", "none")))
        # nanoseconds and pid make the id unique across processes and repeated reports
        msg_id = f"{_id_part(sender)}.{task}.{time.time_ns()}.{os.getpid()}"
    return {
        "id": msg_id,
        "ts": iso(time.time() if now is None else now),
        "from": sender,
        "to": "executor",
        "type": type,
        "summary": summary,
        "data": dict(data),
    }


def post(inbox: Path, message: Mapping[str, Any]) -> Path:
    """Write ``message`` into ``inbox`` as ``<id>.json``, whole or not at all.

    Raises ``MailboxError`` when the id is not a safe file name or a message
    with that id is already in the inbox (it is never replaced).
    """
    msg_id = str(message.get("id", ""))
    if not ID_RE.match(msg_id):
        raise MailboxError(f"message id {msg_id!r} must match {ID_RE.pattern}")
    target = inbox / f"{msg_id}.json"
    tmp_dir = inbox.parent / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)
    # the pid keeps two writers of one id from truncating each other's half-written file
    tmp = tmp_dir / f"{msg_id}.json.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            # allow_nan=False: NaN and Infinity are not JSON; no reader should see them
            handle.write(json.dumps(message, ensure_ascii=False, allow_nan=False).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        _move_no_replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target


def _move_no_replace(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the name ``target`` atomically, failing if ``target`` exists.

    rename(2) would silently replace an existing message; link(2) refuses
    atomically, so it is the primary move.  On a file system without hard
    links, fall back to rename after a check (the race it leaves needs two
    writers choosing one id, which generated ids never do).
    """
    taken = MailboxError(f"{target}: a message with this id is already in the inbox")
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise taken from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if target.exists():
            raise taken from None
        os.rename(tmp, target)


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")


def _no_constant(name: str) -> Any:
    raise MailboxError(f"--data: {name} is not JSON (use null or a string)")


def parse_data(text: str | None) -> object:
    """``--data`` parsed as strict JSON, or one-line ``MailboxError``.

    NaN and Infinity are refused (no other JSON reader accepts them), and so is
    nesting too deep to parse (a RecursionError must not become a traceback).
    """
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise MailboxError("--data is nested too deeply") from None
    except MailboxError:
        raise
    except ValueError as exc:
        raise MailboxError(f"--data is not JSON: {exc}") from None


def post_from_env(
    type: str,  # shadows the builtin: mirrors `teamexec msg <type>`
    *,
    summary: str,
    data: object,
    task_id: str | None,
    env: Mapping[str, str],
) -> Path:
    """`teamexec msg`: a message from a worker's environment (PROTOCOL §7's TEAMEXEC_*).

    ``data`` is the parsed ``--data`` (a JSON object, or None); ``task_id``
    overrides ``TEAMEXEC_TASK_ID``.  ``attempt`` and ``worker_id`` are added
    to the data unless given there.
    """
    if not TYPE_RE.match(type):
        raise MailboxError(f"message type {type!r} must match {TYPE_RE.pattern}")
    if len(summary) > MAX_SUMMARY:
        raise MailboxError(f"summary is {len(summary)} characters; at most {MAX_SUMMARY}")
    if data is not None and not isinstance(data, Mapping):
        raise MailboxError(f"--data must be a JSON object, not {_json_type(data)}")
    missing = [k for k in ("TEAMEXEC_INBOX", "TEAMEXEC_ROLE") if not env.get(k)]
    if missing:
        raise MailboxError(f"{', '.join(missing)} not set: run inside a teamexec worker")
    payload = dict(data or {})
    task = task_id or payload.get("task_id") or env.get("TEAMEXEC_TASK_ID")
    if not task:
        raise MailboxError("no task: pass --task or set TEAMEXEC_TASK_ID")
    if not isinstance(task, str):
        raise MailboxError(f"data.task_id must be a string, not {_json_type(task)}")
    payload["task_id"] = task
    if env.get("TEAMEXEC_WORKER_ID"):
        payload.setdefault("worker_id", env["TEAMEXEC_WORKER_ID"])
    attempt = env.get("TEAMEXEC_ATTEMPT", "")
    # the environment's attempt number belongs to the environment's task only
    if attempt.isdigit() and task == env.get("TEAMEXEC_TASK_ID"):
        payload.setdefault("attempt", int(attempt))
    message = make_message(type=type, sender=env["TEAMEXEC_ROLE"], summary=summary, data=payload)
    return post(Path(env["TEAMEXEC_INBOX"]), message)
