"""The message files: reading the inbox, the append-only log, rejected messages.

I/O only; what a message *means* is decided in handling.py.  A message is
logged (``.msg/messages.jsonl``, sequential ``MSG-NNN``, original id kept as
``origin_id``) before its inbox file is removed, so a crash between the two
steps leaves a file whose id the log already knows — applied again, to no
effect, and not logged twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any, cast

from teamexec.core.model import Message
from teamexec.core.reconcile import InboxItem
from teamexec.storage.atomic import atomic_write, fsync_dir
from teamexec.storage.paths import SessionPaths
from teamexec.validation.schema import schema_errors

MAX_MESSAGE_BYTES = 1024 * 1024
_SEQ_RE = re.compile(r"^MSG-(\d+)$")


def read_item(path: Path) -> InboxItem | None:
    """One inbox file; None when it vanished meanwhile."""
    try:
        stat = path.stat()
        if stat.st_size > MAX_MESSAGE_BYTES:
            return InboxItem(path.name, error=f"oversized message: {stat.st_size} bytes > 1 MiB")
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        message = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return InboxItem(path.name, error="not UTF-8 text")
    except (json.JSONDecodeError, RecursionError) as exc:
        return InboxItem(path.name, error=f"not JSON: {exc}")
    if not isinstance(message, dict):
        return InboxItem(path.name, error="not a JSON object")
    errors = schema_errors("message", message)
    if errors:  # checked here, where the file is read: the core judges well-formed messages
        pointer, text = errors[0]
        return InboxItem(path.name, error=f"schema: {pointer or '/'}: {text}")
    # the schema has just said it: this object has a message's shape
    return InboxItem(path.name, message=cast(Message, message), ctime=stat.st_ctime)


def read_inbox(paths: SessionPaths) -> list[InboxItem]:
    try:
        names = sorted(os.listdir(paths.inbox))
    except FileNotFoundError:
        return []
    items = []
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        item = read_item(paths.inbox / name)
        if item is not None:
            items.append(item)
    return items


class MessageLog:
    """``.msg/messages.jsonl``: knows the ids it holds and the next sequence number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        self.next_seq = 1
        self._unsynced = False
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash mid-append: ignored, never fatal
            if not isinstance(record, dict):
                continue
            origin = record.get("origin_id")
            if isinstance(origin, str):
                self.seen.add(origin)
            match = _SEQ_RE.match(str(record.get("id", "")))
            if match:
                self.next_seq = max(self.next_seq, int(match.group(1)) + 1)

    def sync(self) -> None:
        """fsync what ``append(..., sync=False)`` wrote."""
        if self._unsynced:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._unsynced = False

    def append(
        self, message: dict[str, Any], *, extra: dict[str, Any] | None = None, sync: bool = True
    ) -> str:
        origin = message.get("id")
        if isinstance(origin, str) and origin in self.seen:
            return origin
        seq = f"MSG-{self.next_seq:03d}"
        record = {**message, "id": seq, "origin_id": origin, **(extra or {})}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            if sync:
                os.fsync(fd)
            else:
                self._unsynced = True
        finally:
            os.close(fd)
        self.next_seq += 1
        if isinstance(origin, str):
            self.seen.add(origin)
        return seq


def remove(paths: SessionPaths, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (paths.inbox / name).unlink()


def reject(paths: SessionPaths, name: str, reason: str) -> None:
    """Move an inbox file to ``.msg/rejected/`` with a ``.reason`` file beside it."""
    paths.rejected.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.rejected / f"{name}.reason", (reason + "\n").encode("utf-8"))
    try:
        os.replace(paths.inbox / name, paths.rejected / name)
    except FileNotFoundError:
        return
    fsync_dir(paths.rejected)
