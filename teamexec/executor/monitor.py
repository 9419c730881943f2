"""Wake-up sources of the executor: watchdog events, worker exits, signals.

Worker exits come from the host's backend (``Backend.watch`` calls
``on_exit``): a thread per process for workers the executor started itself,
the supervisor's socket for plain agents.

Handlers only put small records on one ``queue.SimpleQueue`` (its ``put`` is
safe to call from a signal handler); the engine consumes them.  Events are
hints: the engine lists the inbox itself on every pass and on a slow timer,
so an event the kernel dropped costs latency, never a message.

A polling observer is used with ``--poll`` or where the file system gives no
inotify events (NFS, CIFS/SMB, SSHFS and other FUSE mounts).
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

REMOTE_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "9p", "afs", "ceph", "glusterfs"}


class WakeKind(StrEnum):
    INBOX = "inbox"  # a file appeared in .msg/inbox/ (name: its file name)
    SPEC = "spec"  # a role-spec changed (name: its file name)
    CONTROL = "control"  # teamexec pause|stop dropped a request
    EXIT = "exit"  # a worker process ended (name: worker id, code: its exit code; ts, why below)
    SIGNAL = "signal"  # SIGINT or SIGTERM reached the executor (code: the signal)
    LOG = "log"  # something changed in .msg/ (messages.jsonl: team_msg's lines)
    CLAUDE = "claude"  # a Claude Code task list changed (an agent's TaskUpdate)


@dataclass(frozen=True)
class Wake:
    """One hint that something may have changed; the pass looks for itself."""

    kind: WakeKind
    name: str = ""
    code: int | None = None
    # EXIT of a plain agent: when its supervisor saw it end (the exit is its report,
    # applied like the lean worker's inbox message, then acked); None: no report
    ts: float | None = None
    why: str = ""  # EXIT: why the job is lost (its supervisor died)


def filesystem_type(path: Path) -> str:
    """The type of the mount holding ``path``, from /proc/mounts ('' if unknown)."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, fstype = "", ""
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
            best
        ):
            best, fstype = mount, parts[2]
    return fstype


def needs_polling(path: Path) -> bool:
    fstype = filesystem_type(path)
    return fstype in REMOTE_FS or fstype.startswith("fuse")


# The events that can wake the loop: a file created, moved in, written or closed after
# writing.  Given to the observer as its filter, so the kernel does not report the
# rest (opens, reads, deletions): each reported event costs three watchdog threads a
# turn under the GIL.  The directory's own "modified" event that watchdog adds to
# each of these says nothing new, and is dropped too.
WAKING_EVENTS: tuple[type[FileSystemEvent], ...] = (
    FileCreatedEvent,
    DirCreatedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileModifiedEvent,
    FileClosedEvent,
)

# Given a file's name, True when its change needs no wake-up (the executor's own write).
Quiet = Callable[[str], bool]


class _Handler(FileSystemEventHandler):
    def __init__(
        self, wakes: queue.SimpleQueue[Wake], kind: WakeKind, quiet: Quiet | None = None
    ) -> None:
        self.wakes = wakes
        self.kind = kind
        self.quiet = quiet

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "moved", "modified", "closed"):
            target = getattr(event, "dest_path", "") or event.src_path
            name = os.path.basename(os.fsdecode(target))
            if name.startswith("."):
                return
            if self.quiet is not None and self.quiet(name):
                return
            self.wakes.put(Wake(self.kind, name))


class Monitor:
    """Owns the observer and the exit-watching threads; the engine reads ``wakes``."""

    def __init__(self, *, poll: bool, probe: Path) -> None:
        self.wakes: queue.SimpleQueue[Wake] = queue.SimpleQueue()
        self.polling = poll or needs_polling(probe)
        self.observer: BaseObserver = PollingObserver(timeout=0.2) if self.polling else Observer()

    def watch(
        self,
        directory: Path,
        kind: WakeKind,
        *,
        quiet: Quiet | None = None,
        writes_at_close: bool = False,
    ) -> None:
        """Wake the loop on changes in ``directory``; ``quiet`` silences the executor's own.

        ``writes_at_close``: a file written in place wakes the loop when its
        writer closes it, not at each write — for ``.msg/``, whose log the
        executor appends to through a descriptor it keeps open: its own lines
        then cost no event at all, while team_msg (open, append, close) and
        every other writer that closes the file still wake it at once.  A
        polling observer sees no closes: there every change counts.
        """
        directory.mkdir(parents=True, exist_ok=True)
        events = WAKING_EVENTS
        if writes_at_close and not self.polling:
            events = tuple(e for e in events if e is not FileModifiedEvent)
        self.observer.schedule(
            _Handler(self.wakes, kind, quiet),
            os.fspath(directory),
            recursive=False,
            event_filter=list(events),
        )

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def on_exit(self, worker_id: str, code: int | None, ts: float | None, why: str) -> None:
        """A job ended (the backend's exit sink, called from its thread): wake the loop."""
        self.wakes.put(Wake(WakeKind.EXIT, worker_id, code, ts, why))
