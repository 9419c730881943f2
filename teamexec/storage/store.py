"""The task store: ``tasks/<TASK-ID>.json`` files (PROTOCOL §5).

Every write is atomic (temporary file and rename, in
``teamexec.storage.atomic``) and made under an exclusive ``flock`` on
``tasks/.lock``; a claim is a compare-and-set under that lock, so two
processes can never claim one task.  (A lagging task's write and claim only
journal: the executor alone claims those, so they take the store's mutex and
not the file lock, which the view writer's thread may hold meanwhile.)
Durability comes one of two ways: by
default every write fsyncs the file and the directory; with a ``journal``
attached (the executor's, storage/journal.py) the files are views renamed
without any fsync and each state is queued in the journal, whose group
commit makes it durable (issue 15).  With ``lag`` set as well, the views of
the tasks it names are not written at the change but owed: ``flush_views``
writes them in a batch (the executor does at most a second later, and at
every end, pause and stop), and until then this object reads them as owed
(a claim's compare-and-set included) as long as nobody else wrote the file.

Callers: the engine (read_all at reconcile, write_many for its dirty tasks,
claim before each spawn), ``check`` and ``reset`` in commands.py, and the
lean worker (``claim_next`` for inner-loop roles) — which is why this module
imports the standard library and teamexec's plain-data modules only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from teamexec.core import attempts, jsontext
from teamexec.core.errors import StateCorrupt
from teamexec.core.model import TASK_ID_RE, Issue, Task, TaskStatus, iso
from teamexec.core.readiness import ready_tasks
from teamexec.core.transitions import Reason, move
from teamexec.storage import atomic, safeopen
from teamexec.storage.spares import SparePool
from teamexec.storage.viewwriter import ViewWriter

_STATUSES = frozenset(s.value for s in TaskStatus)
MAX_TASK_BYTES = 64 * 1024 * 1024

# (device, inode, size, mtime in ns): a file's identity and version.  An atomic
# replace makes a new inode and an in-place edit moves the mtime, so a matching
# signature means the file still holds what this object last saw.
_Signature = tuple[int, int, int, int]


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _canonical(value: Any) -> str:
    """One text per JSON value: key order ignored, but ``1``/``1.0``/``true`` kept apart.

    A Task's own is ``task.canonical`` (the same text, computed once per Task).
    """
    return jsontext.canonical(value)


class JournalSink(Protocol):
    """Where a journaled store queues each state it writes (storage/journal.Journal)."""

    def record(self, task_id: str, data: Mapping[str, Any], *, lag: bool = False) -> None: ...


class _Damaged(Exception):
    """A task file that is not a valid task; ``line`` where the JSON parser knows it."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _check(data: Any, stem: str) -> dict[str, Any]:
    """The parsed JSON as a task object, or _Damaged naming what is wrong."""
    if not isinstance(data, dict):
        raise _Damaged("a task file must hold a JSON object")
    if "id" not in data:
        raise _Damaged("the task has no id (expected the file name, " + repr(stem) + ")")
    task_id = data["id"]
    # Claude Code's own store writes ids as strings; a bare number that spells
    # the file name is still unambiguous, so it is accepted as is.
    if isinstance(task_id, bool) or not isinstance(task_id, str | int) or str(task_id) != stem:
        raise _Damaged(f"id {task_id!r} does not match the file name {stem!r}")
    status = data.get("status", TaskStatus.PENDING.value)
    if not isinstance(status, str) or status not in _STATUSES:
        raise _Damaged(
            f"unknown status {status!r} (expected one of {', '.join(sorted(_STATUSES))})"
        )
    blocked_by = data.get("blockedBy")
    if blocked_by is not None and not isinstance(blocked_by, list):
        # readiness iterates it; a string would silently become one id per character
        raise _Damaged("blockedBy must be a list of task ids")
    return data


def _load(path: Path) -> tuple[dict[str, Any], _Signature, bytes]:
    """Read and check one task file; FileNotFoundError when it is absent.

    Through safeopen: a task file is never read through a symlink (PROTOCOL §1
    keeps every state file inside the session), a FIFO named like a task cannot
    hang the executor, and the size is bounded.  The signature needs the fstat,
    so the descriptor is opened here rather than with safeopen.read_bytes.
    """
    try:
        fd = safeopen.open_read(path)
    except FileNotFoundError:
        raise
    except safeopen.UnsafeFile as exc:
        raise _Damaged(exc.reason) from None
    except OSError as exc:
        raise _Damaged(f"cannot be read: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_size > MAX_TASK_BYTES:
            raise _Damaged(f"too large: {st.st_size} bytes (limit {MAX_TASK_BYTES})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_TASK_BYTES + 1)
    except OSError as exc:
        raise _Damaged(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Damaged("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _Damaged(f"not valid JSON: {exc.msg}", exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        # huge integer literals raise a plain ValueError; deep nesting RecursionError
        raise _Damaged(f"not valid JSON: {exc}") from None
    return _check(data, path.stem), _signature(st), raw


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[TaskStore, _P], _R],
) -> Callable[Concatenate[TaskStore, _P], _R]:
    """Run under the store's mutex: the view writer's thread renames owed views
    and updates ``_owed``/``_known`` under it.  Always taken inside
    ``locked()``, never around it (the writer holds the flock, then the mutex)."""

    def run(self: TaskStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._mutex:
            return method(self, *args, **kwargs)

    return run


class TaskStore:
    """One task directory.  Not thread-safe (one object per thread), except that
    its own view writer (``background_views``) writes owed views on a thread."""

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = directory
        self.durable = durable
        # the executor's journal: views written without fsync, each state queued there
        self.journal: JournalSink | None = None
        # with a journal: the tasks whose views may lag their journaled state
        self.lag: Callable[[str], bool] | None = None
        # with a journal: where views are rewritten without a new inode (storage/spares.py)
        self.spares: SparePool | None = None
        self._owed: dict[str, Task] = {}  # journaled states whose views are not written yet
        self._mutex = threading.RLock()  # _owed and _known, against the view writer's thread
        self._writer: ViewWriter | None = None  # background_views(): flushes on a thread
        self._lock_fd: int | None = None
        self._depth = 0
        # What this object last read or wrote, per task, with the file's signature
        # at that moment: lets a no-op write be detected with one stat instead of
        # a read and parse, without trusting it once any other process wrote.
        # The file's bytes are kept too, so a read of an unchanged file (the
        # claim's compare-and-set, the re-read after a worker's exit) costs
        # one lstat instead of an open, a read and the safety checks.
        self._known: dict[str, tuple[_Signature, str, bytes]] = {}
        self._paths: dict[str, Path] = {}  # path(): by task id

    def path(self, task_id: str) -> Path:
        """``<directory>/<task_id>.json``, made once per id (a pass asks for it often)."""
        path = self._paths.get(task_id)
        if path is None:
            if not TASK_ID_RE.match(task_id):
                raise ValueError(f"not a valid task id: {task_id!r}")
            path = self._paths[task_id] = self.directory / f"{task_id}.json"
        return path

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock on ``<directory>/.lock``; re-entrant within this object.

        flock (not fcntl record locks) because it belongs to the open file, so a
        nested ``locked()`` of this object just counts, and closing some other
        descriptor of the same file elsewhere in the process cannot drop it.
        """
        if self._depth == 0:
            fd = self._lock_file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._lock_fd is not None:
                fd, self._lock_fd = self._lock_fd, None
                os.close(fd)  # closing the last descriptor releases the flock

    def _lock_file(self) -> int:
        """A new descriptor of the file ``locked()`` flocks, the directory made first
        (the view writer's thread flocks one of its own)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self._open_lock_file()

    def _open_lock_file(self) -> int:
        """The descriptor ``locked()`` flocks: ``<directory>/.lock``."""
        return os.open(
            self.directory / ".lock",
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
        )

    # ----------------------------------------------------------------- reads
    def _unchanged(self, task_id: str) -> bool:
        """Nobody else wrote the file since this object last read or wrote it."""
        known = self._known.get(task_id)
        try:
            st = os.stat(self.path(task_id), follow_symlinks=False)
        except FileNotFoundError:
            return known is None
        return known is not None and _signature(st) == known[0]

    @_guarded
    def _read_checked(self, task_id: str) -> Task | None:
        owed = self._owed.get(task_id)
        if owed is not None:
            if self._unchanged(task_id):
                return owed  # journaled, its view not written yet
            del self._owed[task_id]  # someone else wrote the file since: its word
        path = self.path(task_id)
        known = self._known.get(task_id)
        if known is not None:
            try:
                if _signature(os.stat(path, follow_symlinks=False)) == known[0]:
                    return Task(json.loads(known[2]))  # checked when it was read or written
            except FileNotFoundError:
                self._known.pop(task_id, None)
                return None
        try:
            data, sig, raw = _load(path)
        except FileNotFoundError:
            self._known.pop(task_id, None)
            return None
        except _Damaged as bad:
            self._known.pop(task_id, None)
            where = str(path) if bad.line is None else f"{path}:{bad.line}"
            raise StateCorrupt(where, bad.reason) from None
        self._known[task_id] = (sig, _canonical(data), raw)
        return Task(data)

    def read(self, task_id: str) -> Task | None:
        """The task, or None when there is no such file (or ``task_id`` is no task id).

        A damaged file raises ``StateCorrupt`` whose ``path`` carries ``:line``
        when the JSON parser knows it, ready for the ``path[:line]: message`` form.
        """
        if not TASK_ID_RE.match(task_id):
            return None  # an id that can name no file names no task
        return self._read_checked(task_id)

    @_guarded
    def read_all(self) -> tuple[dict[str, Task], list[Issue]]:
        """Every task file; one that is not a valid task becomes an Issue, never an exception."""
        tasks: dict[str, Task] = {}
        issues: list[Issue] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return tasks, issues
        for name in names:
            # dotfiles include .lock and atomic_write's ".<name>.*.tmp" files
            if name.startswith(".") or not name.endswith(".json"):
                continue
            path = self.directory / name
            stem = name[: -len(".json")]
            if not TASK_ID_RE.match(stem):
                issues.append(Issue(str(path), None, "file name is not a valid task id"))
                continue
            try:
                data, sig, raw = _load(path)
            except FileNotFoundError:
                continue  # removed since the listing: not a task any more
            except _Damaged as bad:
                self._known.pop(stem, None)
                issues.append(Issue(str(path), bad.line, bad.reason))
                continue
            self._known[stem] = (sig, _canonical(data), raw)
            tasks[stem] = Task(data)
        return tasks, issues

    # ---------------------------------------------------------------- writes
    @property
    def fsyncs(self) -> bool:
        """Whether each write is fsynced here (durable and not journaled)."""
        return self.durable and self.journal is None

    def _journaled(self, task: Task) -> None:
        """Queue a state just written as a view (after its rename: the view leads)."""
        if self.journal is not None:
            self.journal.record(task.id, task.data)

    @_guarded
    def _current_text(self, task_id: str) -> str | None:
        """Canonical JSON of what the file holds now; None when absent or damaged."""
        path = self.path(task_id)
        known = self._known.get(task_id)
        if known is not None:
            try:
                if _signature(os.stat(path, follow_symlinks=False)) == known[0]:
                    return known[1]
            except FileNotFoundError:
                return None
        try:
            data, sig, raw = _load(path)
        except (FileNotFoundError, _Damaged):
            return None
        text = _canonical(data)
        self._known[task_id] = (sig, text, raw)
        return text

    @property
    def owed(self) -> int:
        """Views journaled but not written yet (``flush_views`` writes them)."""
        return len(self._owed)

    @_guarded
    def _write_locked(self, task: Task, *, sync_dir: bool = True) -> bool:
        text = task.canonical
        owed = self._owed.get(task.id)
        if owed is not None and not self._unchanged(task.id):
            del self._owed[task.id]  # someone else wrote the file: compare with theirs
            owed = None
        current = owed.canonical if owed is not None else self._current_text(task.id)
        if current == text:
            return False
        if self.journal is not None and self.lag is not None and self.lag(task.id):
            self._owed[task.id] = task
            self.journal.record(task.id, task.data, lag=True)
            return True
        self._owed.pop(task.id, None)
        self._write_view(task, text, sync_dir=sync_dir)
        self._journaled(task)
        return True

    def _write_view(self, task: Task, text: str, *, sync_dir: bool = True) -> None:
        path = self.path(task.id)
        self._known.pop(task.id, None)  # until the write is known to have landed
        # looked up on the module at call time so tests can inject ENOSPC/EIO
        raw = atomic.dump_json(task.data)
        atomic.atomic_write(path, raw, durable=self.fsyncs, sync_dir=sync_dir, spares=self.spares)
        # Under our lock no cooperating writer can slip in here; a hand edit in
        # this instant changes the signature seen by the next stat anyway.
        with contextlib.suppress(OSError):
            self._known[task.id] = (_signature(os.stat(path, follow_symlinks=False)), text, raw)

    def background_views(self) -> None:
        """From now on ``flush_views`` hands the owed views to a thread
        (storage/viewwriter.py); ``flush_views(wait=True)`` still writes them all."""
        self._writer = ViewWriter(self._lock_file, self._write_owed)

    def flush_views(self, *, wait: bool = True) -> int:
        """Write every owed view (their states are journaled already); how many.

        ``wait=False`` with a background writer: hand them to its thread and
        return at once.  Otherwise every owed view is on disk on return, under
        one lock.  As a written-through view would, it replaces whatever the
        file holds (a hand edit since is read back, and the owed view dropped,
        the next time this object reads the task).
        """
        writer = self._writer
        if writer is not None:
            if not wait:
                writer.raise_failure()
                with self._mutex:
                    owed = sorted(self._owed)
                if owed:
                    writer.submit(owed)
                return len(owed)
            writer.drain()  # outside the flock and the mutex: its thread takes both
        if not self._owed:
            return 0
        written = 0
        with self.locked(), self._mutex:
            for task_id in sorted(self._owed):
                task = self._owed[task_id]
                self._write_view(task, task.canonical, sync_dir=False)
                del self._owed[task_id]  # only once written: a failed flush keeps the rest
                written += 1
        return written

    def _write_owed(self, task_id: str) -> None:
        """The view writer's thread: write one owed view, unless it is no longer owed.

        The temporary file is made outside the mutex (that is the slow part);
        the rename happens under it and only while the state is still the one
        owed, so the loop never sees a view older than what it owes.
        """
        with self._mutex:
            task = self._owed.get(task_id)
        if task is None:
            return
        path = self.path(task_id)
        raw = atomic.dump_json(task.data)
        text = task.canonical  # computed when the state was journaled
        staged = atomic.prepare(path, raw, durable=False, spares=self.spares)
        try:
            with self._mutex:
                if self._owed.get(task_id) is not task:
                    return  # superseded meanwhile: the next flush writes the newer state
                atomic.install(staged, path)
                with contextlib.suppress(OSError):
                    st = os.stat(path, follow_symlinks=False)
                    self._known[task_id] = (_signature(st), text, raw)
                del self._owed[task_id]
        finally:
            atomic.discard(staged)  # when not installed: the file, or the spare, goes back

    def _lags(self, task_id: str) -> bool:
        """The task's view lags: its write is a journal line, no file is touched."""
        return self.journal is not None and self.lag is not None and self.lag(task_id)

    def _lock_for(self, task_id: str) -> contextlib.AbstractContextManager[None]:
        """``tasks/.lock`` for a write or claim that touches the file; none for one
        that only journals (the view writer's thread may hold it meanwhile)."""
        return contextlib.nullcontext() if self._lags(task_id) else self.locked()

    def write(self, task: Task) -> bool:
        """Write one task atomically; False (no byte written) when the file holds an equal value."""
        with self._lock_for(task.id):
            return self._write_locked(task)

    def write_many(self, tasks: Iterable[Task]) -> int:
        """Write several tasks under one lock with one directory fsync (none when
        journaled); how many were written.  Lagging ones first, without the lock."""
        written = 0
        through = []
        for task in tasks:
            if self._lags(task.id):
                written += self._write_locked(task)
            else:
                through.append(task)
        if not through:
            return written
        with self.locked():
            try:
                for task in through:
                    written += self._write_locked(task, sync_dir=False)
            finally:
                # even when a later write fails, the renames already made are made durable
                if written and self.fsyncs:
                    atomic.fsync_dir(self.directory)
        return written

    # ---------------------------------------------------------------- claims
    def claim(
        self,
        task_id: str,
        worker_id: str,
        *,
        now: float,
        claimer: Mapping[str, Any] | None = None,
        slot: int | None = None,
    ) -> Task | None:
        """Compare-and-set ``pending`` -> ``in_progress`` for ``worker_id``.

        The file is re-read under the lock, so the decision rests on what is on
        disk, not on what this process last saw.  None when the task is missing,
        damaged, or not pending (someone else claimed or finished it).
        ``claimer`` (reconcile.claimer_record) is kept in ``metadata.claimer`` so
        that a later executor on this host can prove the claim dead (§8).
        """
        with self._lock_for(task_id), self._mutex:
            try:
                task = self._read_checked(task_id)
            except StateCorrupt:
                return None
            if task is None or task.status is not TaskStatus.PENDING:
                return None
            return self._claim_locked(task, worker_id, now, claimer, slot)

    def _claim_locked(
        self,
        task: Task,
        worker_id: str,
        now: float,
        claimer: Mapping[str, Any] | None,
        slot: int | None = None,
    ) -> Task:
        stamp = iso(now)
        attempt = task.attempts + 1
        meta: dict[str, Any] = {
            "claimed_by": worker_id,
            "attempts": attempt,
            "started_at": stamp,
            "retry_at": None,  # None removes the key: the back-off is over
            "claimer": dict(claimer) if claimer is not None else None,
            # opened in the claim's own write: the history costs no extra fsync
            attempts.KEY: attempts.opened(
                task.metadata, attempt=attempt, started_at=stamp, slot=slot
            ),
        }
        claimed = move(task, TaskStatus.IN_PROGRESS, Reason.CLAIMED, now=now, **meta)
        self._write_locked(claimed)
        return claimed

    def claim_next(
        self,
        owner: str,
        roles: Collection[str],
        worker_id: str,
        *,
        now: float,
        claimer: Mapping[str, Any] | None = None,
    ) -> Task | None:
        """Claim the first ready task of role ``owner`` (the inner-loop worker's next task)."""
        with self.locked():
            tasks, _issues = self.read_all()  # damaged files are the executor's to report
            ready = ready_tasks(tasks, roles, now, owner=owner)
            return self._claim_locked(ready[0], worker_id, now, claimer) if ready else None
