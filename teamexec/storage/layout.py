"""Is the session directory laid out as PROTOCOL §1 says?  For ``check``, ``run`` and ``resume``.

Two kinds of damage make the executor write or read outside the session, or
fail mid-run on every write: a sub-directory it writes into replaced by a
symlink or by a plain file, and a file of its own (``.msg/messages.jsonl``,
``wisdom/issues.md``, a log, an inbox message) that is a symlink leading out.
Both are errors found before anything is written.  A symlink leading out
elsewhere (say among ``artifacts/``) is the workers' business: a warning.

Reads only, bounded: at most ``MAX_ENTRIES`` names are looked at.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from teamexec.core.model import Issue, Severity
from teamexec.storage.paths import SessionPaths

MAX_ENTRIES = 100_000
# the directories the executor writes into, relative to the session
STATE_DIRS = (
    ".msg",
    ".msg/inbox",
    ".msg/tmp",
    ".msg/rejected",
    ".msg/control",
    ".msg/role-specs",
    "logs",
    "wisdom",
    "artifacts",
    "role-specs",
)
# where a symlink leading out is an error (the executor's own files live there)
STATE_PREFIXES = (".msg", "logs", "wisdom", "tasks", "role-specs")
TOP_FILES = (
    "team-session.json",
    "task-analysis.json",
    "report.json",
    ".teamexec.lock",
    ".teamexec.journal",
)


def _dir_issue(path: Path) -> Issue | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Issue(str(path), None, f"cannot be inspected: {exc.strerror or exc}")
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        why = f"is a symbolic link (to {target}); it must be a real directory of the session"
        return Issue(str(path), None, why)
    if not stat.S_ISDIR(info.st_mode):
        return Issue(str(path), None, "is not a directory; remove it (teamexec recreates it)")
    return None


def layout_issues(paths: SessionPaths) -> list[Issue]:
    """Broken sub-directories and symlinks leading out of the session, errors first."""
    root = paths.root
    issues: list[Issue] = []
    dirs = [root / rel for rel in STATE_DIRS]
    if paths.task_list is None:
        dirs.append(paths.tasks)
    for directory in dirs:
        issue = _dir_issue(directory)
        if issue is not None:
            issues.append(issue)
    issues.extend(_links_out(root))
    return sorted(issues, key=lambda i: (i.severity is Severity.WARNING, i.path))


def _links_out(root: Path) -> list[Issue]:
    try:
        base = root.resolve()
    except (OSError, RuntimeError):
        return []
    found: list[Issue] = []
    seen = 0
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            seen += 1
            if seen > MAX_ENTRIES:
                return found
            path = Path(current) / name
            if not path.is_symlink():
                continue
            try:
                inside = path.resolve().is_relative_to(base)
            except (OSError, RuntimeError):  # a loop or a name too long
                inside = False
            if inside:
                continue
            rel = path.relative_to(root)
            state = rel.parts[0] in STATE_PREFIXES or str(rel) in TOP_FILES
            why = f"is a symbolic link leading out of the session (to {os.readlink(path)})"
            severity = Severity.ERROR if state else Severity.WARNING
            if state:
                why += "; teamexec never follows it: remove it"
            found.append(Issue(str(path), None, why, severity))
    return found
