"""The executor lock: one executor per session, for its whole life (PROTOCOL §8, §9).

An exclusive ``flock`` on ``<session>/.teamexec.lock``, taken without
waiting by ``run``/``resume`` (commands.py) and probed by ``check`` (never
blocked) and ``reset`` (refuses while held).  The kernel drops the flock
when the holder dies — however it dies — so a leftover file from a dead
holder never blocks anyone and no stale-lock clean-up exists.  The file's
content (pid, start times, command) only feeds the error message and
``check``; the flock is the truth.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from teamexec.core.errors import Locked, StateCorrupt
from teamexec.core.model import iso

# How long a conflicting holder may go without its details before we call it one.
_SETTLE_S = 0.5


def holder_text(info: dict[str, Any] | None) -> str:
    """``pid 1234 (started 2026-11-24T09:30:00.000Z)``, for errors and ``check``."""
    if not info or info.get("pid") is None:
        # the holder took the flock but has not written its details yet
        return "another process"
    return f"pid {info.get('pid')} (started {info.get('started_at')})"


def _read_info(fd: int) -> dict[str, Any] | None:
    """The holder's details through an open descriptor (pread: no shared offset)."""
    try:
        raw = os.pread(fd, 65536, 0)
        value = json.loads(raw.decode("utf-8") or "null")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _open(path: Path, flags: int) -> int:
    """Open the lock file, never through a symlink (it must stay inside the session)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError:
        if path.is_symlink():
            raise StateCorrupt(str(path), "is a symbolic link; remove it") from None
        raise


class ExecutorLock:
    """Held by the one executor of a session; ``with ExecutorLock(paths.lock): ...``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock at once or raise ``Locked`` naming the holder; never waits."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: already held by this ExecutorLock")
        fd = _open(self.path, os.O_RDWR | os.O_CREAT)
        try:
            self._flock_or_raise(fd)
        except BaseException:
            os.close(fd)
            raise
        # imported here so that importing this module (check, reset) stays cheap
        import psutil

        info = {
            "pid": os.getpid(),
            # our own process: it exists, so no error to handle (unlike liveness.py's)
            "pid_started_at": psutil.Process().create_time(),
            "started_at": iso(time.time()),
            "command": shlex.join(sys.argv),
        }
        try:
            # Truncate-and-write in place, not an atomic rename: a rename would make
            # a new inode that a second executor could flock independently.  A reader
            # catching the file half-written only loses the (informative) details.
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _flock_or_raise(self, fd: int) -> None:
        """Exclusive flock without waiting on a holder; ``Locked`` naming it if there is one.

        A conflict with no holder details yet is either an executor in the
        microseconds between its flock and its write, or a ``check`` probing
        with a momentary shared flock.  Only that case is retried, briefly, so
        a concurrent ``check`` cannot make ``run`` fail; a holder that has
        written its details is reported at once.
        """
        deadline = time.monotonic() + _SETTLE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                info = _read_info(fd)
            if (info and info.get("pid") is not None) or time.monotonic() >= deadline:
                raise Locked(str(self.path), holder_text(info))
            time.sleep(0.005)

    def release(self) -> None:
        """Give the lock up; the file stays, emptied, so no one reads a gone holder."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # still under the flock: nobody else writes it now
        except OSError:
            pass  # the details are informative; the unlock below is what matters
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> ExecutorLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock now, or None; never blocks and never creates the file.

    Probes with a non-blocking *shared* flock on a separate descriptor: it fails
    exactly when an exclusive holder exists, and when it succeeds it is dropped
    at once (closing the descriptor).  Concurrent probes share it; an executor
    acquiring in that instant retries briefly (``ExecutorLock.acquire``).  The
    holder's details are returned as
    written, or ``{"pid": None, ...}`` when it has not written them yet.
    """
    try:
        fd = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd) or {"pid": None, "pid_started_at": None, "started_at": None}
        return None
    finally:
        os.close(fd)
