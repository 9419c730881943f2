"""Atomic file replacement: the one way teamexec writes state.

A reader sees the old file or the new one, never half of either, and after
``atomic_write`` returns the new content survives a power cut (file and
directory both fsynced).  A failing write (disk full, EIO) leaves the previous
file intact and removes the temporary file.  The new file keeps the mode of the
one it replaces (a tracked ``team-session.json`` stays 0644), and a new file
gets the mode an ordinary ``open`` would give it (0666 less the umask), never
``mkstemp``'s private 0600.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from teamexec.core import jsontext


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


def atomic_write(path: Path, data: bytes, *, durable: bool = True, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same directory.

    ``durable`` fsyncs the data; ``sync_dir`` then the directory, which a
    caller writing many files in one directory may do once at the end.
    """
    tmp_name = prepare(path, data, durable=durable)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def prepare(path: Path, data: bytes, *, durable: bool = True) -> str:
    """The first half of ``atomic_write``: ``data`` in a new temporary file beside
    ``path`` (fsynced when ``durable``), with the mode ``path`` will keep; its name.

    The caller renames it over ``path`` (or removes it).  A failure removes it.
    """
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
