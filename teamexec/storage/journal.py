"""The executor's journal: group commit of task states (issue 15).

``<session>/.teamexec.journal`` is the executor's durable record.  The task
files are views, replaced atomically (temporary file and rename under
``tasks/.lock``) but neither file nor directory fsynced.  Most views lag
(round 2): the store queues the state here with ``lag`` and writes the view
in the next batch, at most a second later; the views that others claim from
(inner-loop roles, a Claude list) are written through at the change.
``commit`` appends the queued lines with one ``write`` and one
``fdatasync``: one fsync per executor pass instead of about six per task.
The executor commits before anything irreversible that depends on a state
(a process start after its claim, an inbox file's removal after its effect,
the end of the run).

Layout, JSON lines: a header ``{"journal": 1, "boot_id": ..., "created_at":
..., "pid": ...}`` (written by the first commit into an empty file), then one
``{"id": <task id>, "task": <the whole task object>}`` per state, with
``"lag": true`` when its view is written later.  Later lines win.  A torn
last line (a power cut mid-append) is ignored.  The file is preallocated:
zeros are written (and fsynced) a megabyte or more ahead, and the lines
overwrite them, so a commit's fdatasync writes the data alone and never the
inode (the size does not change) — half the cost of an append on the
benchmark machine (0.8 against 1.5 ms).  The lines end where the zeros begin.

Recovery (``recover``, under the executor lock, before reconcile): same boot
(an executor crash: the page cache survived, the written-through views are
at least as new as the journal) — the lagging states are written over their
views; another boot (a power cut) — every task's last state is
(core/replay.py decides: never over a completed view, nor one stamped
later).  Then a checkpoint: ``syncfs`` of the file systems holding the
views, and the journal truncated (and that fdatasynced), so the journal
never grows across runs.  The executor checkpoints again at the end
of every run, pause and stop.

The boot id comes from /proc/sys/kernel/random/boot_id; ``TEAMEXEC_BOOT_ID``
overrides it (tests simulate a reboot with it).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teamexec.core import jsontext
from teamexec.core.model import TASK_ID_RE, Issue, Task, iso
from teamexec.core.replay import replay_due, replay_plan
from teamexec.storage import libc, safeopen
from teamexec.storage.atomic import fsync_dir
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore

VERSION = 1
BOOT_ID_ENV = "TEAMEXEC_BOOT_ID"
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
MAX_JOURNAL_BYTES = 1024 * 1024 * 1024  # read bound; a run checkpoints long before this
CHECKPOINT_BYTES = 32 * 1024 * 1024  # a long run checkpoints once its journal is this big
PREALLOCATE_BYTES = 1024 * 1024  # zeros written ahead of the lines, doubling up to need


def boot_id(env: Mapping[str, str] | None = None) -> str:
    """This boot's id ('' when unknown); ``TEAMEXEC_BOOT_ID`` wins (tests)."""
    injected = (env if env is not None else os.environ).get(BOOT_ID_ENV)
    if injected:
        return injected
    try:
        return BOOT_ID_FILE.read_text(encoding="ascii").strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Tail:
    """What a journal file holds: its header's boot id and each task's last state."""

    boot_id: str | None  # None: no readable header
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0
    # the tasks whose last state was journaled ahead of its view (``record(lag=True)``)
    lagging: frozenset[str] = frozenset()


def _logical_end(fd: int, size: int) -> int:
    """Where the last whole line of an existing journal ends (what follows is zeros,
    or the fragment of a write a crash interrupted)."""
    if size == 0:
        return 0
    raw = os.pread(fd, size, 0).split(b"\0", 1)[0]
    return raw.rfind(b"\n") + 1


def parse(raw: bytes) -> Tail:
    """The journal's content; lines that do not parse (a torn last line) are skipped.

    The file is preallocated: its lines end where the zeros begin.
    """
    raw = raw.split(b"\0", 1)[0]
    boot: str | None = None
    states: dict[str, dict[str, Any]] = {}
    lagging: set[str] = set()
    end = raw.rfind(b"\n")
    for line in raw[: end + 1].split(b"\n") if end >= 0 else ():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # torn (a power cut mid-append) or garbage: never replayed
        if not isinstance(record, dict):
            continue
        if "journal" in record:
            header_boot = record.get("boot_id")
            boot = header_boot if isinstance(header_boot, str) else None
            continue
        task_id, task = record.get("id"), record.get("task")
        if (
            isinstance(task_id, str)
            and TASK_ID_RE.match(task_id)
            and isinstance(task, dict)
            and task.get("id") == task_id
        ):
            states[task_id] = task
            if record.get("lag") is True:
                lagging.add(task_id)
            else:
                lagging.discard(task_id)
    return Tail(boot, states, len(raw), frozenset(lagging))


def read(path: Path, *, root: Path | None = None) -> Tail | None:
    """The journal at ``path``; None when it is absent or empty (lock-free: for ``check``)."""
    try:
        raw = safeopen.read_bytes(path, limit=MAX_JOURNAL_BYTES, root=root)
    except FileNotFoundError:
        return None
    if not raw:
        return None
    return parse(raw)


HEADER_BYTES = 4096  # the header line is far shorter (``generation`` reads no more)


def pending_replay(
    path: Path, *, root: Path | None = None, boot: str | None = None
) -> dict[str, dict[str, Any]]:
    """The journaled states a recovery would consider (empty when none is due).

    Another boot: every task's last state.  This boot (a run going on, or an
    executor killed): the states journaled ahead of their views (``lag``).
    ``replay_plan`` then decides which of them go over their views.
    """
    tail = read(path, root=root)
    if tail is None or not tail.states:
        return {}
    return _due_states(tail, boot_id() if boot is None else boot)


def _due_states(tail: Tail, this_boot: str) -> dict[str, dict[str, Any]]:
    if replay_due(tail.boot_id, this_boot):
        return tail.states
    return {t: tail.states[t] for t in tail.lagging}


def generation(path: Path, *, root: Path | None = None) -> tuple[int, bytes]:
    """(size, first bytes) of the journal: a lock-free reader that sees either
    shrink or change between two looks knows a checkpoint came in between."""
    try:
        fd = safeopen.open_read(path, root=root)
    except FileNotFoundError:
        return 0, b""
    try:
        return os.fstat(fd).st_size, os.pread(fd, HEADER_BYTES, 0).partition(b"\n")[0]
    finally:
        os.close(fd)


def _syncfs(fd: int) -> bool:
    """syncfs(2) through libc; False where it is not available."""
    function = libc.function("syncfs")
    if function is None:
        return False
    if function(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return True


def make_durable(directories: Iterable[Path]) -> None:
    """Every file written so far on the file systems of ``directories`` reaches the disk.

    One syncfs per file system (not one fsync per view); os.sync where libc
    has no syncfs.
    """
    seen: set[int] = set()
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            device = os.fstat(fd).st_dev
            if device in seen:
                continue
            seen.add(device)
            if not _syncfs(fd):
                os.sync()
                return
        finally:
            os.close(fd)


class Journal:
    """The journal of one session, appended to by the executor alone (it holds the lock).

    ``record`` queues a task state (the store calls it for every view it
    writes); ``write`` appends the queued lines in one write, ``sync``
    fdatasyncs them; ``commit`` is both.  Not thread-safe.
    """

    def __init__(self, path: Path, *, root: Path | None = None, boot: str | None = None) -> None:
        self.path = path
        self.root = root
        self.boot = boot_id() if boot is None else boot
        self._queued: list[str] = []
        self._fd: int | None = None
        self._size = 0  # where the last line ends
        self._allocated = 0  # the file's size: zeros past ``_size``
        self._unsynced = False
        self._delegated = False  # written lines another process fdatasyncs (``delegate``)
        self.commits = 0  # fdatasyncs made: tests and the bench count them

    @property
    def pending(self) -> bool:
        """Lines queued or written but not yet fdatasynced."""
        return bool(self._queued) or self._unsynced

    def record(self, task_id: str, data: Mapping[str, Any], *, lag: bool = False) -> None:
        """Queue one task state (the whole object).  ``lag``: its view is written
        later (a recovery on this boot puts it back over an older view)."""
        line: dict[str, Any] = {"id": task_id, "task": data}
        if lag:
            line["lag"] = True
        self._queued.append(jsontext.compact(line))

    def _open(self) -> int:
        if self._fd is None:
            existed = self.path.exists()
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = safeopen._open(self.path, flags, self.root)
            try:
                self._allocated = os.fstat(fd).st_size
                self._size = _logical_end(fd, self._allocated)
            except OSError:
                os.close(fd)
                raise
            if not existed:  # the name itself must survive a power cut, once
                fsync_dir(self.path.parent)
            self._fd = fd
        return self._fd

    def _extend(self, fd: int, end: int) -> None:
        """Zeros written (and fsynced) up to past ``end``: the appends that follow
        overwrite allocated blocks, so their fdatasync writes data only, never
        the inode (the file's size does not change)."""
        step = min(max(self._allocated, PREALLOCATE_BYTES), 8 * PREALLOCATE_BYTES)
        target = max(end, self._allocated + step)
        target = -(-target // PREALLOCATE_BYTES) * PREALLOCATE_BYTES
        zeros = bytes(PREALLOCATE_BYTES)
        offset = self._allocated
        while offset < target:
            offset += os.pwrite(fd, zeros[: target - offset], offset)
        os.fsync(fd)
        self._allocated = target

    def write(self) -> None:
        """Write the queued lines (after the header, in an empty file) at the end of
        the last line, in one write."""
        if not self._queued:
            return
        fd = self._open()
        lines = self._queued
        if self._size == 0:
            header = {
                "journal": VERSION,
                "boot_id": self.boot,
                "created_at": iso(time.time()),
                "pid": os.getpid(),
            }
            lines = [json.dumps(header, separators=(",", ":")), *lines]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        end = self._size + len(data)
        if end > self._allocated:
            self._extend(fd, end)
        view = memoryview(data)
        offset = self._size
        try:
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
        except OSError:
            # whole lines or nothing: what got written goes back to zeros (best
            # effort; a fragment left is overwritten by the next write anyway)
            with contextlib.suppress(OSError):
                os.pwrite(fd, bytes(len(data)), self._size)  # inside the allocation
            raise
        self._size = end
        self._queued = []
        self._unsynced = True

    def sync(self) -> None:
        """fdatasync what ``write`` appended: from here on it survives a power cut."""
        if (self._unsynced or self._delegated) and self._fd is not None:
            os.fdatasync(self._fd)
            self._unsynced = self._delegated = False
            self.commits += 1

    def delegate(self) -> int:
        """The written lines are another process's to fdatasync: its descriptor of them.

        The run's supervisor fdatasyncs the journal before it starts an agent,
        so a pass whose only wait on durability is its supervised starts does
        not block on the disk (issue 15).  ``pending`` is then false, but a
        later ``sync`` still makes the lines durable itself before anything
        else relies on them (an inbox file removed).
        """
        self._delegated = self._delegated or self._unsynced
        self._unsynced = False
        return self._open()

    def commit(self) -> None:
        self.write()
        self.sync()

    @property
    def size(self) -> int:
        return self._size

    def truncate(self) -> None:
        """Empty the journal durably (the views it covered were made durable first)."""
        self._queued = []
        self._unsynced = self._delegated = False
        fd = self._fd
        opened_here = fd is None
        if fd is None:
            try:
                fd = safeopen._open(self.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, self.root)
            except FileNotFoundError:
                return
        try:
            if os.fstat(fd).st_size:
                os.ftruncate(fd, 0)
                os.fdatasync(fd)  # an old journal that reappeared would be replayed
        finally:
            if opened_here:
                os.close(fd)
        self._size = 0
        self._allocated = 0

    def checkpoint(self, directories: Iterable[Path]) -> None:
        """Make every view durable (syncfs), then empty the journal."""
        make_durable(directories)
        self.truncate()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def recover(journal: Journal, store: TaskStore, *, directories: Iterable[Path]) -> dict[str, Any]:
    """Replay what a journal holds beyond the views, then checkpoint; what was replayed.

    Called under the executor lock, before reconcile reads the task files:
    the lagging states of this boot's journal, every state of another boot's
    (core/replay.py).  ``store`` writes the replayed views (made durable by
    the checkpoint).
    """
    tail = read(journal.path, root=journal.root)
    if tail is None:
        return {}
    replayed: dict[str, Any] = {}
    due = _due_states(tail, journal.boot)
    if due:
        views, _problems = store.read_all()  # a damaged view is replaced when journaled
        plan = replay_plan(views, due)
        saved, store.journal = store.journal, None
        durable, store.durable = store.durable, False
        try:
            store.write_many(plan[t] for t in sorted(plan))
        finally:
            store.journal, store.durable = saved, durable
        replayed = {t: plan[t].data for t in plan}
    journal.checkpoint(directories)
    return replayed


def overlay_journal(
    paths: SessionPaths,
    tasks: Mapping[str, Task],
    problems: list[Issue],
    *,
    boot: str | None = None,
) -> tuple[dict[str, Task], list[Issue]]:
    """The task files as a replay would leave them (for ``check`` and a dry run).

    Lock-free and read-only: while a run goes on, the states journaled ahead
    of their views; after a power cut, every journaled state (core/replay.py
    decides).  A damaged view that the replay replaces is no problem any more.
    """
    states = pending_replay(paths.journal, root=paths.root, boot=boot)
    if not states:
        return dict(tasks), problems
    plan = replay_plan(tasks, states)
    merged = dict(tasks)
    merged.update(plan)
    kept = [i for i in problems if not _names_task(i.path, plan)]
    return merged, kept


def read_tasks(store: TaskStore, paths: SessionPaths) -> tuple[dict[str, Task], list[Issue]]:
    """The tasks as the executor knows them, lock-free: the views overlaid with
    the states journaled ahead of them (``overlay_journal``).

    The journal is read after the views: it only grows between checkpoints, so
    it holds every state a view read a moment earlier could lag.  A checkpoint
    in between (views flushed, journal emptied) shows as a journal that shrank
    or got a new header, and the read is made again.
    """
    for _attempt in range(3):
        before = generation(paths.journal, root=paths.root)
        tasks, problems = store.read_all() if paths.tasks.is_dir() else ({}, [])
        merged = overlay_journal(paths, tasks, problems)
        size, header = generation(paths.journal, root=paths.root)
        if header == before[1] and size >= before[0]:
            break
    return merged


def _names_task(path: str, plan: Mapping[str, Task]) -> bool:
    name = Path(path).name
    return name.endswith(".json") and name[: -len(".json")] in plan
