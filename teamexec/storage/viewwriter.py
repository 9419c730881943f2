"""Owed task views written on a thread of their own, off the executor's loop (issue 15).

The executor's store journals a lagging task's state at once and owes its view
(storage/store.py).  Writing a view creates a temporary file, and creating a
file is the costly part on some file systems: ext4 without a journal skips
every inode deleted in the last minutes when it allocates one, so after a few
runs' worth of deleted files each creation scans thousands of them (0.2-0.9 ms
on the benchmark machine, a quarter of the executor's CPU).  ``ViewWriter``
takes the batch a flush hands it and writes it on a thread: the loop goes on
claiming and starting while the kernel allocates inodes.

Correctness stays with the store: each view is renamed into place under the
store's mutex, and only while the state it holds is still the one owed — a
state superseded meanwhile is left for the next flush.  The thread takes
``tasks/.lock`` (its own descriptor) around a few views at a time, as every
writer of the directory does.  A failure (disk full) stops the batch and is
raised to the loop by the next ``raise_failure``/``drain``; the views not
written stay owed, so nothing the journal holds is lost.  The thread ends when
its queue is empty: no thread or descriptor outlives the work.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Sequence

CHUNK = 16  # views per hold of tasks/.lock: an inner-loop claim never waits long


NICENESS = 10  # added to the writer thread's: ~10 % of a contended core, all of an idle one


def _yield_to_the_loop() -> None:
    """Lower this thread's priority (Linux: niceness is per thread).

    The views may lag a second; the loop, the supervisor and the agents are
    the run's critical path.  A file creation can cost a millisecond of
    kernel CPU here (see the module docstring), and at a thousand first
    writes a run that is CPU-bound on two cores gave them to this thread.
    At a lower priority it writes in the cores' idle moments instead.  Best
    effort: where the call is refused or unknown, it runs as before.
    """
    with contextlib.suppress(OSError, AttributeError):
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(os.getpriority(os.PRIO_PROCESS, me) + NICENESS, 19))


class ViewWriter:
    """Writes batches of owed views, in order, on one short-lived thread at a time."""

    def __init__(self, lock_file: Callable[[], int], write_one: Callable[[str], None]) -> None:
        self.lock_file = lock_file  # the store's: a new descriptor of tasks/.lock
        self.write_one = write_one  # the store's: writes one owed view, or skips it
        self._batches: collections.deque[Sequence[str]] = collections.deque()
        self._guard = threading.Condition()
        self._running = False
        self._failure: OSError | None = None

    def submit(self, task_ids: Sequence[str]) -> None:
        """Queue these tasks' owed views; never blocks."""
        with self._guard:
            self._batches.append(task_ids)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="teamexec-views", daemon=True).start()

    def drain(self) -> None:
        """Wait until every queued view is written (or the writing failed), then
        raise the failure, if any."""
        with self._guard:
            while self._running:
                self._guard.wait()
        self.raise_failure()

    def raise_failure(self) -> None:
        with self._guard:
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _run(self) -> None:
        _yield_to_the_loop()
        while True:
            with self._guard:
                if not self._batches:
                    self._running = False
                    self._guard.notify_all()
                    return
                batch = self._batches.popleft()
            try:
                for start in range(0, len(batch), CHUNK):
                    self._write_chunk(batch[start : start + CHUNK])
            except OSError as exc:
                with self._guard:
                    self._failure = exc
                    self._batches.clear()
                    self._running = False
                    self._guard.notify_all()
                return

    def _write_chunk(self, task_ids: Sequence[str]) -> None:
        fd = self.lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for task_id in task_ids:
                self.write_one(task_id)
        finally:
            os.close(fd)  # releases the flock
