"""The one way teamexec opens a file inside a session (PROTOCOL §1, STYLE "Files").

Workers, agents and other tools write into the session directory too, so any
name in it may have become a symlink leading out, a FIFO, a directory or a
device.  Every read, append and in-place write goes through here:

- ``O_NOFOLLOW``: the last component is never followed (a symlink is refused);
- ``O_NONBLOCK``: a FIFO cannot hang the open;
- ``fstat``: only regular files are read or written;
- a size bound on every read;
- with ``root``, every directory between the session root and the file is
  checked with ``lstat`` (a directory symlink such as ``tasks/`` -> ``/tmp``
  is refused; the root itself may be a symlink the user chose).

``UnsafeFile`` is an ``OSError`` carrying the path, so callers that already
turn ``OSError`` into one line keep working.  Standard library only: the
worker uses it too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_APPEND = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
DEFAULT_LIMIT = 64 * 1024 * 1024


class UnsafeFile(OSError):
    """A session file that is not a regular file inside the session (or too large)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(errno.EPERM, reason, str(path))
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_dirs(path: Path, root: Path | None) -> None:
    """Refuse when a directory between ``root`` and ``path`` is a symlink or no directory."""
    if root is None:
        return
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        return  # not under the session (a --task-list elsewhere): the user's choice
    current = root
    for part in rel.parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return  # created later (mkdir) by the caller, or a plain missing file
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeFile(current, "is a symbolic link; session directories must be real")
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeFile(current, "is not a directory (the session layout is broken)")


def _open(path: Path, flags: int, root: Path | None, mode: int = 0o644) -> int:
    check_dirs(path, root)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise UnsafeFile(path, "is a symbolic link; not followed") from None
        if exc.errno == errno.EISDIR:
            raise UnsafeFile(path, "is a directory, not a file") from None
        if exc.errno == errno.ENXIO:
            raise UnsafeFile(path, "is not a regular file (FIFO or socket)") from None
        raise
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = (
            "a directory, not a regular file"
            if stat.S_ISDIR(info.st_mode)
            else "not a regular file"
        )
        raise UnsafeFile(path, f"is {what}")
    return fd


def open_read(path: Path, *, root: Path | None = None) -> int:
    """A read-only descriptor of a regular file (the caller closes it)."""
    return _open(path, _READ, root)


def read_bytes(path: Path, *, limit: int = DEFAULT_LIMIT, root: Path | None = None) -> bytes:
    """The whole file, at most ``limit`` bytes; FileNotFoundError when absent."""
    fd = _open(path, _READ, root)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise UnsafeFile(path, f"too large: {size} bytes (limit {limit})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise UnsafeFile(path, f"too large: more than {limit} bytes")
    return raw


def read_tail(path: Path, nbytes: int, *, root: Path | None = None) -> bytes:
    """The last ``nbytes`` bytes of the file (a log's tail)."""
    fd = _open(path, _READ, root)
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, nbytes, max(0, size - nbytes))
    finally:
        os.close(fd)


def open_append(path: Path, *, root: Path | None = None) -> int:
    """A descriptor appending to ``path`` (created when missing): a worker's log."""
    return _open(path, _APPEND, root)


def append(path: Path, data: bytes, *, root: Path | None = None, sync: bool = False) -> None:
    """Append ``data`` whole or not at all, starting on a new line; see ``append_to``."""
    fd = _open(path, _APPEND, root)
    try:
        append_to(fd, data, path=path, sync=sync)
    finally:
        os.close(fd)


def append_to(fd: int, data: bytes, *, path: Path, sync: bool = False) -> int:
    """Append ``data`` through ``fd`` (from ``open_append``) whole or not at all.

    A file whose last byte is not a newline (a torn line left by a crash or a
    full disk) first gets one, so this record is never glued onto the
    fragment.  A short write (ENOSPC) is undone by truncating back to where
    this append began — unless another writer appended after it meanwhile —
    and raised as an OSError.  Returns the file offset where the appended
    bytes end, so a caller following the file can tell its own line.
    """
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    view = memoryview(data)
    written = 0
    try:
        while written < len(data):
            count = os.write(fd, view[written:])
            if count <= 0:
                raise OSError(errno.ENOSPC, "short write", str(path))
            written += count
        if sync:
            os.fsync(fd)
    except OSError:
        if written:
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if os.fstat(fd).st_size == end:  # nobody appended after us
                os.ftruncate(fd, end - written)
        raise
    return os.lseek(fd, 0, os.SEEK_CUR)


def fsync_file(path: Path, *, root: Path | None = None) -> None:
    fd = _open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, root)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
