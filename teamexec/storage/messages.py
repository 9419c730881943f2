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
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write, fsync_dir
from teamexec.storage.paths import SessionPaths
from teamexec.validation.schema import schema_errors

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_LOG_BYTES = 1024 * 1024 * 1024  # messages.jsonl: large, but never read without bound
_SEQ_RE = re.compile(r"^MSG-(\d+)$")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_message(raw: bytes) -> tuple[Any, str | None]:
    """(the JSON value, or None with why not): every parse error caught, NaN refused.

    Huge integers (over 4 300 digits) raise a plain ValueError and deep nesting
    RecursionError; neither may take the executor down.
    """
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except (ValueError, RecursionError) as exc:
        return None, f"not JSON: {exc}"


def read_item(path: Path) -> InboxItem | None:
    """One inbox file; None when it vanished meanwhile.

    Opened through safeopen (no symlink, no FIFO, regular files only, size
    bound): anything else becomes an item with an ``error``, which the engine
    moves to .msg/rejected/ with the reason.
    """
    try:
        info = os.lstat(path)
        raw = safeopen.read_bytes(path, limit=MAX_MESSAGE_BYTES)
    except FileNotFoundError:
        return None
    except safeopen.UnsafeFile as exc:
        oversized = exc.reason.startswith("too large")
        return InboxItem(path.name, error=("oversized message: " if oversized else "") + exc.reason)
    except OSError as exc:
        return InboxItem(path.name, error=f"cannot be read: {exc.strerror or exc}")
    message, error = parse_message(raw)
    if error is not None:
        return InboxItem(path.name, error=error)
    if not isinstance(message, dict):
        return InboxItem(path.name, error="not a JSON object")
    errors = schema_errors("message", message)
    if errors:  # checked here, where the file is read: the core judges well-formed messages
        pointer, text = errors[0]
        return InboxItem(path.name, error=f"schema: {pointer or '/'}: {text}")
    # the schema has just said it: this object has a message's shape
    return InboxItem(path.name, message=cast(Message, message), ctime=info.st_ctime)


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

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.path = path
        self.root = root  # the session: no directory between it and the log may be a symlink
        self.seen: set[str] = set()
        self.next_seq = 1
        self._unsynced = False
        self._load()

    def _load(self) -> None:
        try:
            raw = safeopen.read_bytes(self.path, limit=MAX_LOG_BYTES, root=self.root)
        except FileNotFoundError:
            return
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
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
            safeopen.fsync_file(self.path, root=self.root)
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
        # whole line or nothing, never glued onto a torn tail (safeopen.append)
        safeopen.append(self.path, line, root=self.root, sync=sync)
        self._unsynced = self._unsynced or not sync
        self.next_seq += 1
        if isinstance(origin, str):
            self.seen.add(origin)
        return seq


def remove(paths: SessionPaths, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (paths.inbox / name).unlink()


def reject(paths: SessionPaths, name: str, reason: str) -> None:
    """Move an inbox file to ``.msg/rejected/`` with a ``.reason`` file beside it."""
    safeopen.check_dirs(paths.rejected / name, paths.root)  # a symlinked rejected/ is refused
    paths.rejected.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.rejected / f"{name}.reason", (reason + "\n").encode("utf-8"))
    try:
        os.replace(paths.inbox / name, paths.rejected / name)
    except FileNotFoundError:
        return
    fsync_dir(paths.rejected)
