"""The message files: reading the inbox, the append-only log, rejected messages.

I/O only; what a message *means* is decided in handling.py.  A message is
logged (``.msg/messages.jsonl``, sequential ``MSG-NNN``, original id kept as
``origin_id``) before its inbox file is removed, so a crash between the two
steps leaves a file whose id the log already knows — applied again, to no
effect, and not logged twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from teamexec.core import jsontext
from teamexec.core.model import Message
from teamexec.core.msglog import Fingerprint, fingerprint, relay_line, seq_of
from teamexec.core.reconcile import InboxItem
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write, fsync_dir
from teamexec.storage.paths import SessionPaths
from teamexec.validation.schema import schema_errors

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_LOG_BYTES = 1024 * 1024 * 1024  # messages.jsonl: large, but never read without bound


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


@dataclass(frozen=True)
class LogLine:
    """One complete line of the log: its number, and the record or why it was skipped."""

    number: int  # 1-based line number in messages.jsonl
    record: dict[str, Any] | None
    error: str | None = None


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A line's JSON object; a line glued to a torn one is recovered from its own ``{"id"``."""
    value, error = parse_message(raw)
    if error is not None:
        start = raw.rfind(b'{"id"')
        if start > 0:  # a writer died mid-line and the next line followed on
            recovered, _ = _parse_line(raw[start:])
            if recovered is not None:
                return recovered, None
        return None, error
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return value, None


class MessageLog:
    """``.msg/messages.jsonl``, shared with CCW's team_msg: followed, and appended to.

    - ``history``: the records already in the file when the executor started
      (reconcile counts their completions, §8); dropped once used.
    - ``follow()``: the complete lines appended since the last call, from the
      byte offset last read.  A torn last line (a writer mid-append) is left
      for a later call; a line whose fingerprint was seen (a duplicate, or a
      line teamexec appended itself) is not returned again.
    - ``append()``: relay an inbox message in team_msg's line shape with
      ``id`` = the file's highest ``MSG-NNN`` + 1, computed at the time of
      the append under an exclusive flock on the log (other teamexec
      processes) after reading whatever was appended since (team_msg takes no
      lock: two writers can still pick one id, which is why lines are known
      by fingerprint).  The line is written whole by ``safeopen.append``.
    """

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.path = path
        self.root = root  # the session: no directory between it and the log may be a symlink
        self.seen: set[str] = set()  # original ids of relayed messages
        self.fingerprints: set[Fingerprint] = set()
        self.top_seq = 0  # highest MSG-NNN seen
        self.offset = 0  # follow(): bytes of complete lines consumed
        self.lines = 0  # follow(): complete lines consumed
        self._seq_offset = 0  # append(): bytes of complete lines scanned for ids
        self._unsynced = False
        self._fd: int | None = None  # append(): kept open between lines (see _append_fd)
        self._fd_id: tuple[int, int] = (0, 0)  # its (st_dev, st_ino)
        self.history: list[dict[str, Any]] = [
            line.record for line in self.follow() if line.record is not None
        ]

    @property
    def next_seq(self) -> int:
        return self.top_seq + 1

    def _note(self, record: dict[str, Any]) -> None:
        seq = seq_of(record)
        if seq is not None:
            self.top_seq = max(self.top_seq, seq)
        origin = record.get("origin_id")
        if isinstance(origin, str):
            self.seen.add(origin)

    def _read_from(self, offset: int) -> bytes:
        """The bytes from ``offset`` to the end (bounded by MAX_LOG_BYTES per call)."""
        try:
            fd = safeopen.open_read(self.path, root=self.root)
        except FileNotFoundError:
            return b""
        try:
            return _pread_rest(fd, offset)
        finally:
            os.close(fd)

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def consumed(self) -> bool:
        """Is every byte of the file one ``follow()`` has consumed (or ``append`` stepped over)?

        The monitor's thread asks it on a change event of the log: then the
        change is the executor's own, or lines a pass has already read, and the
        loop need not wake.  It is ``follow()``'s own "nothing new" test, so
        bytes another writer appended always wake it: their event comes after
        them, and they are not consumed yet (a torn tail never is).
        """
        return self.size() == self.offset

    def follow(self) -> list[LogLine]:
        """The new complete lines, each at most once; see the class docstring."""
        size = self.size()
        if size == self.offset:
            return []  # nothing new: one stat per pass
        if size < self.offset:  # rewritten shorter (team_msg delete/clear): start over
            self.offset = self._seq_offset = self.lines = 0
        data = self._read_from(self.offset)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        out: list[LogLine] = []
        for raw in data[:end].split(b"\n"):
            self.lines += 1
            if not raw.strip():
                continue
            record, error = _parse_line(raw)
            if record is None:
                out.append(LogLine(self.lines, None, error))
                continue
            self._note(record)
            mark = fingerprint(record)
            if mark in self.fingerprints:
                continue
            self.fingerprints.add(mark)
            out.append(LogLine(self.lines, record))
        self.offset += end + 1
        self._seq_offset = max(self._seq_offset, self.offset)
        return out

    def _catch_up_ids(self, fd: int) -> None:
        """Read what was appended since the last scan for its ids (not for follow()).

        Through ``fd``, the descriptor ``append`` holds the flock on: no second
        open of the log per message.
        """
        size = os.fstat(fd).st_size
        if size == self._seq_offset:
            return  # nothing appended since: the usual case, no read
        if size < self._seq_offset:  # rewritten shorter, or removed and new
            self._seq_offset = 0
        data = _pread_rest(fd, self._seq_offset)
        end = data.rfind(b"\n")
        if end < 0:
            return
        for raw in data[:end].split(b"\n"):
            record, _error = _parse_line(raw) if raw.strip() else (None, None)
            if record is not None:
                seq = seq_of(record)
                if seq is not None:
                    self.top_seq = max(self.top_seq, seq)
        self._seq_offset += end + 1

    def sync(self) -> None:
        """fsync what ``append(..., sync=False)`` wrote."""
        if self._unsynced:
            safeopen.fsync_file(self.path, root=self.root)
            self._unsynced = False

    def append(
        self,
        message: dict[str, Any],
        *,
        extra: dict[str, Any] | None = None,
        sync: bool = True,
        now: float | None = None,
    ) -> str:
        """Relay ``message`` (once per original id); the id it got in the log."""
        origin = message.get("id")
        if isinstance(origin, str) and origin in self.seen:
            return origin
        lock, replaced = self._append_fd()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # other teamexec processes; team_msg takes none
            self._catch_up_ids(lock)
            seq = self.top_seq + 1
            record = relay_line(
                message, seq=seq, now=time.time() if now is None else now, extra=extra or {}
            )
            data = (jsontext.compact(record) + "\n").encode()
            caught_up = self.offset == self._seq_offset and not replaced
            # whole line or nothing, never glued onto a torn tail (safeopen.append_to)
            end = safeopen.append_to(lock, data, path=self.path, sync=sync)
        except BaseException:
            self.close()  # closing releases the flock; the next append opens afresh
            raise
        fcntl.flock(lock, fcntl.LOCK_UN)
        if caught_up and end - len(data) == self._seq_offset:
            # Our line directly follows everything follow() has consumed: step
            # over it here instead of reading it back (it would be skipped as a
            # duplicate anyway).  A torn tail we completed, or a line team_msg
            # slipped in first, fails the test and is left to follow().
            self.offset = self._seq_offset = end
            self.lines += 1
        self._unsynced = self._unsynced or not sync
        self.top_seq = seq
        self.fingerprints.add(fingerprint(record))
        if isinstance(origin, str):
            self.seen.add(origin)
        return str(record["id"])

    def _append_fd(self) -> tuple[int, bool]:
        """The log's append descriptor, kept open from one line to the next.

        An open, a close and a mkdir per line cost more than the line (and the
        open and close were two more events for the monitor's thread).  Still
        the name decides: when ``messages.jsonl`` no longer names the file the
        descriptor writes to (team_msg's clear removed it, a rewrite replaced
        it, a symlink took its place), it is opened again through safeopen.
        The flag says so: that file's ids are scanned from its start, and no
        line is stepped over in it (follow() reads what it holds).
        """
        fd = self._fd
        replaced = False
        if fd is not None:
            try:
                info = os.lstat(self.path)
                same = (info.st_dev, info.st_ino) == self._fd_id and stat.S_ISREG(info.st_mode)
            except FileNotFoundError:
                same = False
            if same:
                return fd, False
            self.close()
            self._seq_offset, replaced = 0, True
        try:
            fd = safeopen.open_append(self.path, root=self.root)
        except FileNotFoundError:  # .msg/ itself is missing: made once, then opened
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = safeopen.open_append(self.path, root=self.root)
        info = os.fstat(fd)
        self._fd, self._fd_id = fd, (info.st_dev, info.st_ino)
        return fd, replaced

    def close(self) -> None:
        """Close the append descriptor (the next append opens the file again)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _pread_rest(fd: int, offset: int) -> bytes:
    """The bytes of ``fd`` from ``offset`` to its end, at most MAX_LOG_BYTES."""
    chunks = []
    position, read = offset, 0
    while read < MAX_LOG_BYTES:
        chunk = os.pread(fd, 1 << 20, position)
        if not chunk:
            break
        chunks.append(chunk)
        position += len(chunk)
        read += len(chunk)
    return b"".join(chunks)


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
