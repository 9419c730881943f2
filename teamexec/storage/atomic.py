"""Atomic file replacement: the one way teamexec writes state.

A reader sees the old file or the new one, never half of either, and after
``atomic_write`` returns the new content survives a power cut (file and
directory both fsynced).  A failing write (disk full, EIO) leaves the previous
file intact and removes the temporary file.  The new file keeps the mode of the
one it replaces (a tracked ``team-session.json`` stays 0644), and a new file
gets the mode an ordinary ``open`` would give it (0666 less the umask), never
``mkstemp``'s private 0600.

A write that need not be durable (a journaled task view) may go through a
``SparePool`` (storage/spares.py): the new bytes land in a spare file swapped
with the old one, so no inode is created or freed; where that cannot be done,
the temporary file as above.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teamexec.core import jsontext
from teamexec.storage.spares import SparePool, Taken, Unsupported


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_umask() -> int:
    """The process umask, read without changing it where /proc says it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: set and restore, once, at import
    os.umask(current)
    return current


_UMASK = _read_umask()


def _mode_for(path: Path) -> int:
    """The replaced file's permission bits, or an ordinary new file's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
    sync_dir: bool = True,
    spares: SparePool | None = None,
) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same directory.

    ``durable`` fsyncs the data; ``sync_dir`` then the directory, which a
    caller writing many files in one directory may do once at the end.
    ``spares`` (only when not ``durable``): through a spare file instead.
    """
    staged = prepare(path, data, durable=durable, spares=spares)
    try:
        install(staged, path)
    except BaseException:
        discard(staged)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


@dataclass
class Staged:
    """New bytes in a file of their own, for ``install`` over a path or ``discard``."""

    name: str  # the temporary file's path ("" once installed or discarded)
    spare: Taken | None = None  # or a spare holding them, under lease


def prepare(
    path: Path, data: bytes, *, durable: bool = True, spares: SparePool | None = None
) -> Staged:
    """The first half of ``atomic_write``: ``data`` in a file of its own (fsynced
    when ``durable``) with the mode ``path`` will keep.

    A temporary file beside ``path``, or with ``spares`` and not ``durable`` a
    spare when the pool can serve ``path``.  The caller installs it over
    ``path`` or discards it.  A failure leaves no temporary file behind.
    """
    if spares is not None and not durable:
        taken = spares.fill(path, data, 0o666 & ~_UMASK)
        if taken is not None:
            return Staged(os.path.join(spares.directory, taken.name), taken)
    return Staged(_temporary(path, data, durable=durable))


def install(staged: Staged, path: Path) -> None:
    """Put what ``prepare`` staged at ``path``, atomically; on error ``path`` is as it was.

    A spare that turns out unable to serve here (renameat2 refused) is given
    back and its bytes written through a temporary file after all.
    """
    taken = staged.spare
    if taken is None:
        os.replace(staged.name, path)
        staged.name = ""
        return
    staged.spare, staged.name = None, ""
    try:
        taken.pool.install(taken, path)
    except Unsupported:
        atomic_write(path, taken.data, durable=False)  # through a temporary file


def discard(staged: Staged) -> None:
    """Drop what ``prepare`` staged and ``install`` did not place (a spare goes back)."""
    taken, name = staged.spare, staged.name
    staged.spare, staged.name = None, ""
    if taken is not None:
        taken.pool.release(taken)
    elif name:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _temporary(path: Path, data: bytes, *, durable: bool) -> str:
    """``data`` in a new temporary file beside ``path`` with the mode ``path``
    keeps; its name.  A failure removes it."""
    mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def dump_json(value: Any) -> bytes:
    """The canonical on-disk JSON form: two-space indent, UTF-8, final newline.

    Exactly ``json.dumps(value, indent=2, ensure_ascii=False) + "\\n"``, made
    twice as fast by core/jsontext (every task view passes here).
    """
    return (jsontext.indented(value) + "\n").encode("utf-8")
