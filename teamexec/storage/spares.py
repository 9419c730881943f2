"""Spare files: a task view rewritten without creating or freeing an inode (issue 15, round 3).

Why: on ext4 without a journal (the benchmark machine's) every inode
allocation skips the inodes freed in the last minutes, so each file creation
scans them (0.2-0.9 ms of kernel CPU), and each rename over an old view frees
one more.  A view rewritten through a temporary file pays both: the view
writer's thread spent 0.8-1.0 s of system CPU per 1000-task run on it.

How: the executor keeps a few files of its own, the spares, in
``<session>/.teamexec.spare/`` (on the views' file system; no task-list reader
looks there).  To rewrite view V: take a spare, write the new bytes into it,
give it V's mode, and swap the two names with ``renameat2(RENAME_EXCHANGE)``.
V names the new content at once (a reader opens the old file or the new one,
never half of either), and the spare's name now holds V's old inode: the next
spare.  A view written for the first time takes its spare by a plain rename.

A reader may still hold V's old inode open; it must never see it rewritten
under it.  So a spare is written only under a write lease
(``F_SETLEASE F_WRLCK``), which the kernel grants only while no other
descriptor has the file open: one held elsewhere is skipped and kept for
later, and with none free a new spare is made.  The lease is held until the
swap: a reader that opens the spare meanwhile (through a name it looked up
before an earlier swap) waits in ``open`` until the lease goes, then finds
the complete new content.  Such an open would signal the lease's owner; the
signal is SIGURG (ignored unless handled) until the owner is cleared right
after the lease is granted, and none at all after that.  A spare with a
second name (a hard link) or that is not a plain file is dropped, never
written.

Anything unsupported makes ``fill`` answer None and the caller write a
temporary file and rename it (storage/atomic.py), decided once per directory:
not Linux, no renameat2 or no leases (ENOSYS, EINVAL: probed once when the
pool first opens), views on another file system than the spares (a Claude
task list under ~/.claude).  ``close`` removes the spares at the end of the
run; those a killed executor left are taken over by the next run's pool.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from teamexec.storage import libc

RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100
TRIES = 4  # spares tried per take before a new one is made: readers hold the rest
KEEP = 16  # free spares kept; more (readers let go of many at once) are removed
# renameat2 or leases missing, or not on this file system: fall back, do not fail
UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EXDEV})


class Unsupported(Exception):
    """The exchange cannot be made here; the caller writes a temporary file instead."""


@dataclass
class Taken:
    """A spare holding new bytes under this process's write lease, until installed or released."""

    pool: SparePool
    name: str  # its name in the pool's directory
    fd: int  # holds the lease: nobody else can open the file and see it change
    data: bytes  # kept for the fallback when the exchange turns out impossible
    first: bool = False  # the target did not exist: renamed into place, not swapped


def _renameat2() -> Any:
    """libc's renameat2 (glibc >= 2.28), or None."""
    return libc.function("renameat2")


def exchange(src_dir_fd: int, src: str, dst: str) -> None:
    """Swap the names ``src`` (relative to ``src_dir_fd``) and ``dst``, atomically."""
    function = _renameat2()
    if function is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    if function(src_dir_fd, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), dst)


def lease(fd: int) -> None:
    """Take a write lease on ``fd`` (EAGAIN when anyone else has the file open),
    made silent: a breaking open signals nobody once this returns."""
    fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)  # ignored by default, unlike SIGIO
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    fcntl.fcntl(fd, fcntl.F_SETOWN, 0)


class SparePool:
    """The spares of one session, shared by the loop and the view writer's thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._guard = threading.Lock()
        self._free: collections.deque[str] = collections.deque()  # oldest first
        self._next = 0
        self._dir_fd: int | None = None
        self._device: int | None = None
        self._usable: dict[Path, bool] = {}  # per view directory, decided once
        self._state = "new"  # -> "open" or "off"; -> "closed"
        self._out = 0  # spares taken and not back yet

    # ------------------------------------------------------------ the writer's side
    def fill(self, target: Path, data: bytes, new_mode: int) -> Taken | None:
        """A spare holding ``data``, under lease, ready to replace ``target`` (with
        its mode; ``new_mode`` when there is none yet); None when spares cannot
        serve ``target``: its directory, or a symlink or hard-linked file there."""
        if not self._serves(target.parent):
            return None
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            mode, first = new_mode, True
        else:
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return None  # replaced by a rename, as before: never swapped into the pool
            mode, first = stat.S_IMODE(info.st_mode), False
        found = self._take()
        if found is None:
            return None
        name, fd, spare = found
        taken = Taken(self, name, fd, data, first)
        try:
            view = memoryview(data)
            done = 0
            while done < len(data):  # in place over the old bytes: no block freed
                done += os.pwrite(fd, view[done:], done)
            if spare.st_size > len(data):
                os.ftruncate(fd, len(data))
            if stat.S_IMODE(spare.st_mode) != mode:
                os.fchmod(fd, mode)
        except BaseException:
            self.release(taken)
            raise
        return taken

    def install(self, taken: Taken, target: Path) -> None:
        """Put the spare's content at ``target``: swapped with the old file, or
        renamed into place when there is none.  Raises ``Unsupported`` (the
        spare given back) when that cannot be done here after all, and any
        other error as it comes; either way ``target`` is as it was."""
        dir_fd = self._dir_fd  # open while a spare is out, even once closed
        assert dir_fd is not None
        first = taken.first
        try:
            if first:
                os.rename(taken.name, target, src_dir_fd=dir_fd)
            else:
                try:
                    exchange(dir_fd, taken.name, os.fspath(target))
                except FileNotFoundError:
                    if not _exists(dir_fd, taken.name):
                        raise  # the spare was removed (by hand): write as before
                    first = True  # the view was removed meanwhile: its first write
                    os.rename(taken.name, target, src_dir_fd=dir_fd)
        except OSError as exc:
            self.release(taken)
            if exc.errno in UNSUPPORTED:  # EXDEV: another mount of the same disk
                self._usable[target.parent] = False
            if exc.errno in UNSUPPORTED or exc.errno == errno.ENOENT:
                raise Unsupported(str(exc)) from exc
            raise
        if first:
            self._done(taken)  # the name is the view's now: the pool shrinks by one
        else:
            self.release(taken)  # its name holds the old view now: the next spare

    def release(self, taken: Taken) -> None:
        """Give a spare back (its lease goes with the descriptor)."""
        with self._guard:
            if self._state == "open" and len(self._free) < KEEP:
                self._free.append(taken.name)
            else:
                self._remove(taken.name)
        self._done(taken)

    def close(self) -> None:
        """Remove every spare and the directory; later writes take the fallback.
        A spare out meanwhile is removed when it comes back, and the directory
        with the last one."""
        with self._guard:
            self._state = "closed"
            self._teardown()

    def _done(self, taken: Taken) -> None:
        os.close(taken.fd)
        with self._guard:
            self._out -= 1
            if self._state == "closed":
                self._teardown()

    # ------------------------------------------------------------ inside
    def _serves(self, directory: Path) -> bool:
        usable = self._usable.get(directory)
        if usable is not None:
            return usable
        with self._guard:
            if self._state == "new":
                self._state = "open" if self._open() else "off"
            if self._state != "open":
                return False
            try:
                usable = os.stat(directory).st_dev == self._device
            except OSError:
                return False  # the write itself says what is wrong
            self._usable[directory] = usable
            return usable

    def _open(self) -> bool:
        """Make the directory, take over the spares a killed run left there, and
        probe the lease and the exchange on two of them.  False: no spares here."""
        if sys.platform != "linux" or _renameat2() is None:
            return False
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            self._dir_fd = os.open(self.directory, flags)
            self._device = os.fstat(self._dir_fd).st_dev
            names = sorted(os.listdir(self._dir_fd))
            self._free.extend(names)
            self._next = 1 + max((int(n) for n in names if n.isdigit()), default=-1)
            while len(self._free) < 2:
                name, fd = self._create()
                os.close(fd)
                self._free.append(name)
            first, second = self._free[0], self._free[1]
            fd = os.open(first, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dir_fd)
            try:
                lease(fd)
                fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
            finally:
                os.close(fd)
            exchange(self._dir_fd, first, os.path.join(self.directory, second))
        except OSError:
            # leases or renameat2 refused (EINVAL, ENOSYS...), or no directory:
            # this run writes temporary files, as before, and leaves nothing here
            self._teardown()
            return False
        return True

    def _teardown(self) -> None:
        """Remove the spares and the directory (under ``_guard``), once no spare
        is out: a writer still uses the directory's descriptor."""
        self._free.clear()
        if self._dir_fd is None or self._out:
            return
        with contextlib.suppress(OSError):
            for name in os.listdir(self._dir_fd):
                self._remove(name)
            os.rmdir(self.directory)
        os.close(self._dir_fd)
        self._dir_fd = None

    def _take(self) -> tuple[str, int, os.stat_result] | None:
        """A free spare under lease, or a new one: its name, descriptor and
        status; None once the pool is closed."""
        with self._guard:
            if self._state != "open" or self._dir_fd is None:
                return None
            dir_fd = self._dir_fd
            tries = [self._free.popleft() for _ in range(min(TRIES, len(self._free)))]
            self._out += 1  # the directory's descriptor stays open until it is back
        busy: list[str] = []
        found: tuple[str, int, os.stat_result] | None = None
        for name in tries:
            if found is not None:
                busy.append(name)
                continue
            leased = self._lease(dir_fd, name)
            if leased == "busy":
                busy.append(name)
            elif not isinstance(leased, str):
                found = (name, leased[0], leased[1])
        with self._guard:
            self._free.extend(busy)  # behind the others: readers let go in time
            if found is None and self._state == "open":
                with contextlib.suppress(OSError):  # the fallback says what is wrong, if anything
                    name, fd = self._create()
                    found = (name, fd, os.fstat(fd))  # nobody else knows it yet: no lease
            if found is None:
                self._out -= 1
                if self._state == "closed":
                    self._teardown()
            return found

    def _lease(
        self, dir_fd: int, name: str
    ) -> tuple[int, os.stat_result] | Literal["busy", "gone"]:
        """``name`` opened under a write lease, and its status; "busy" when someone
        holds it (kept for later); "gone" when it is gone or cannot serve (a
        link, not a plain file, not ours: removed)."""
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            return "gone"
        except OSError:
            self._remove(name)
            return "gone"
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise OSError(errno.EINVAL, "not a spare")
            lease(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EBUSY):
                return "busy"
            self._remove(name)
            return "gone"
        return fd, info

    def _create(self) -> tuple[str, int]:
        """A new empty spare: its name and a descriptor (under ``_guard``)."""
        assert self._dir_fd is not None
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            name = str(self._next)
            self._next += 1
            try:
                fd = os.open(name, flags, 0o600, dir_fd=self._dir_fd)
            except FileExistsError:
                continue
            return name, fd

    def _remove(self, name: str) -> None:
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self._dir_fd)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return True
