"""The executor's own state files: team-session.json, .msg/meta.json, wisdom/issues.md.

The executor is their one writer.  Before it replaces team-session.json it
checks that the file on disk still holds what it last wrote (or at least
parses): a file damaged by hand while the pipeline runs is reported and left
alone — the executor keeps its last good state in memory and writes again
once the file parses — instead of being overwritten silently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from teamexec.core.model import iso
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write, discard, dump_json, install, prepare
from teamexec.storage.loader import MAX_JSON_BYTES
from teamexec.storage.paths import SessionPaths


class SessionFile:
    """Writes team-session.json only when its content changes, refusing to clobber damage."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data: dict[str, Any] = dict(data)
        self.damaged: str | None = None  # why the file on disk is not ours any more

    def _disk_problem(self) -> str | None:
        try:
            raw = safeopen.read_bytes(self.path, limit=MAX_JSON_BYTES)
        except FileNotFoundError:
            return "team-session.json disappeared"
        except OSError as exc:
            return f"cannot be read ({exc}); the executor keeps its state"
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return f"does not parse any more ({exc}); fix it by hand, the executor keeps its state"
        if not isinstance(value, dict):
            return "is no longer a JSON object; the executor keeps its state"
        return None

    def write(self, data: Mapping[str, Any], *, force: bool = False, durable: bool = True) -> bool:
        """Write ``data``; False when unchanged, or when the disk copy is damaged.

        Not ``durable``: still atomic (a crashed executor leaves the old or the new
        file), just not fsynced — for counters and pids that resume can recompute.
        """
        data = dict(data)
        if data == self.data and not force:
            return False
        problem = self._disk_problem()
        if problem is not None:
            self.damaged = problem
            return False
        self.damaged = None
        atomic_write(self.path, dump_json(data), durable=durable)
        self.data = data
        return True


EXECUTOR_KEY = "executor"


def _read_meta(paths: SessionPaths) -> dict[str, Any] | None:
    """meta.json's object; {} when absent; None when it does not parse (mid-write by team_msg)."""
    try:
        raw = safeopen.read_bytes(paths.meta, limit=MAX_JSON_BYTES, root=paths.root)
    except FileNotFoundError:
        return {}
    except OSError:
        return None  # a symlink, a FIFO, a directory: never read, never replaced
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def write_meta(
    paths: SessionPaths,
    session_id: str,
    roles: Mapping[str, Any],
    now: float,
    *,
    settle_s: float = 0.0,
) -> bool:
    """Merge teamexec's per-role view into ``.msg/meta.json`` under ``executor``, alone.

    meta.json is CCW's (TeamMeta in team-msg.ts; team_msg's ``state_update``
    rewrites it in place, without a lock).  Every other key stays as CCW last
    wrote it, types included.  The file is looked at again right before the
    rename (after the temporary file is made), and read again if it changed
    while the merge was made, so a
    concurrent team_msg write is lost only if it lands in the microseconds
    between that last check and the rename (team_msg takes no lock).  A file that does not parse
    (team_msg's writeFileSync caught mid-write, or a hand edit) is never
    replaced: False, and the caller tries again later.  A missing file is
    created in TeamMeta's shape (``status``, ``created_at``, ``updated_at``).

    ``settle_s`` is for the run's last write, which has no later pass to retry
    on: it keeps trying that long while team_msg is busy with the file, and
    once it runs out it merges into the next copy that parses (the same
    microsecond window as above), read for as long again at most.
    """
    view = {"session_id": session_id, "updated_at": iso(now), "roles": dict(roles)}
    paths.msg.mkdir(parents=True, exist_ok=True)
    give_up = time.monotonic() + settle_s
    tries = 0
    while True:
        tries += 1
        before = _signature(paths.meta)
        current = _read_meta(paths)
        last_chance = tries >= META_MERGE_TRIES and time.monotonic() >= give_up
        if current is None:  # team_msg caught mid-write: never replace what we cannot merge
            # the run's last write goes on reading past its deadline (as long
            # again) until a copy parses: at the deadline itself it may well
            # meet the file mid-write, and no later pass would retry
            if last_chance and (settle_s <= 0 or time.monotonic() >= give_up + settle_s):
                return False
            _nap_after_quick_tries(tries)
            continue
        if not current:
            stamp = iso(now).replace("Z", "+00:00")  # team-msg.ts nowISO()
            current = {"status": "active", "created_at": stamp, "updated_at": stamp}
        current[EXECUTOR_KEY] = view
        data = json.dumps(current, ensure_ascii=False, indent=2).encode()
        # the temporary file first: creating a file can take a millisecond here
        # (see storage/spares.py), and the last look must be just before the rename
        staged = prepare(paths.meta, data, durable=False)
        changed = _signature(paths.meta) != before  # team_msg wrote meanwhile
        if changed and (not last_chance or settle_s <= 0):
            discard(staged)
            if not last_chance:
                _nap_after_quick_tries(tries)
                continue  # merge into its version instead
            return False  # busy: the caller tries again on a later pass
        install(staged, paths.meta)
        return True


def _nap_after_quick_tries(tries: int) -> None:
    """The first tries follow each other at once; later ones give team_msg time to finish."""
    if tries >= META_MERGE_TRIES:
        time.sleep(META_SETTLE_NAP_S)


META_MERGE_TRIES = 5
META_SETTLE_NAP_S = 0.005


def _signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns): changes with every write, in place or by rename."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def read_meta_roles(paths: SessionPaths) -> dict[str, Any]:
    """teamexec's per-role view from meta.json's ``executor`` key ({} when none)."""
    value = _read_meta(paths) or {}
    view = value.get(EXECUTOR_KEY)
    roles = view.get("roles") if isinstance(view, dict) else None
    return dict(roles) if isinstance(roles, dict) else {}


REPORT_MAX_BYTES = 64 << 20  # the protocol's limit for any JSON file


def read_previous_report(paths: SessionPaths) -> Any:
    """An earlier run's report.json, or None: only a hint (role durations), so never an error.

    Opened like every file others can write to: no symlink, no FIFO, bounded.
    """
    try:
        raw = safeopen.read_bytes(paths.report, limit=REPORT_MAX_BYTES, root=paths.root)
        return json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def append_wisdom_issue(paths: SessionPaths, text: str) -> None:
    """Append to wisdom/issues.md (workers append there too: O_APPEND keeps lines whole)."""
    paths.wisdom.mkdir(parents=True, exist_ok=True)
    safeopen.append(paths.wisdom / "issues.md", (text + "\n").encode("utf-8"), root=paths.root)


def snapshot_role_spec(paths: SessionPaths, role: str, text: str) -> Path:
    """Keep the last valid role-spec text where workers read it (TEAMEXEC_ROLE_SPEC)."""
    target = paths.msg / "role-specs" / f"{role}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    safeopen.check_dirs(target, paths.root)
    try:
        if safeopen.read_bytes(target, limit=len(data) + 1, root=paths.root) == data:
            return target
    except OSError:
        pass  # absent, too large, a symlink: replaced (os.replace never follows it)
    atomic_write(target, data)
    return target
