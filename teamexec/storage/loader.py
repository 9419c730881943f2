"""Reading a session's definition files from disk, safely (PROTOCOL §1).

``read_session_files(root)`` collects the raw text of team-session.json,
task-analysis.json and every role-spec the session names, and never raises:
a missing, oversized, binary or non-UTF-8 file, or a path leading out of the
session (``..``, absolute, or a symlink pointing out), becomes an ``Issue``
naming the file.  ``load_session(root)`` then validates (validate.py) and
raises ``InvalidSession`` with every error at once.  The command layer
(commands.py) calls ``load_session`` for ``check``, ``run`` and ``resume``.

Limits: 64 MiB for a JSON file (a 50 000-task analysis is about 10 MiB) and
1 MiB for a role-spec.  A file is opened without following it into a FIFO or
device (only regular files are read) and never read past its limit.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from teamexec.core.errors import InvalidSession
from teamexec.core.model import Issue, Session, Severity
from teamexec.validation.validate import (
    TASK_ANALYSIS,
    TEAM_SESSION,
    SessionFiles,
    default_spec_path,
    unsafe_relpath,
    validate_session,
)

__all__ = ["SessionFiles", "SessionLoader", "load_session", "read_session_files"]

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_SPEC_BYTES = 1024 * 1024


def escapes_root(root: Path, rel: str) -> bool:
    """True when ``root/rel`` resolves (symlinks followed) outside ``root``."""
    try:
        return not (root / rel).resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # symlink loop, name too long
        return True


def _read_bytes(path: Path, limit: int) -> bytes | str:
    """The file's bytes, or why they could not be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > limit:
            return f"too large: {info.st_size} bytes (limit {limit} bytes)"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    finally:
        os.close(fd)
    if len(raw) > limit:
        return f"too large: more than {limit} bytes (limit {limit} bytes)"
    return raw


def _decode(raw: bytes) -> tuple[str | None, int | None, str]:
    """(text, or None with the line and reason it is not text)."""
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return None, line, "binary file (contains NUL bytes): expected UTF-8 text"
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), None, ""
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}): save it as UTF-8"


def read_text(files: SessionFiles, rel: str, *, limit: int, missing: str) -> str | None:
    """Read ``rel`` into ``files.texts``; any problem becomes one issue in ``files.issues``."""
    shown = files.shown(rel)
    if unsafe_relpath(rel) is not None:
        return None  # validation reports it, with the line of team-session.json naming it
    if escapes_root(files.root, rel):
        why = "resolves outside the session directory (symlink): copy the file into the session"
        files.issues.append(Issue(shown, None, why))
        return None
    raw = _read_bytes(files.root / rel, limit)
    if isinstance(raw, str):
        files.issues.append(Issue(shown, None, missing if raw == "missing" else raw))
        return None
    text, line, why = _decode(raw)
    if text is None:
        files.issues.append(Issue(shown, line, why))
        return None
    files.texts[rel] = text
    return text


def role_spec_paths(team_session_text: str) -> dict[str, str]:
    """Role-spec path -> role name, as team-session.json names them (leniently)."""
    try:
        data = json.loads(team_session_text)
    except (ValueError, RecursionError):
        return {}
    roles = data.get("roles") if isinstance(data, dict) else None
    paths: dict[str, str] = {}
    for role in roles if isinstance(roles, list) else ():
        rel = default_spec_path(role) if isinstance(role, dict) else None
        if rel is not None:
            paths.setdefault(rel, str(role.get("name")))
    return paths


def read_session_files(root: Path) -> SessionFiles:
    """The raw texts of one session's definition files; never raises."""
    files = SessionFiles(root)
    if not root.is_dir():
        what = "not a directory" if root.exists() else "no such directory"
        hint = "give the session directory, the one holding team-session.json"
        files.issues.append(Issue(str(root), None, f"{what}: {hint}"))
        return files
    need = "missing: every session needs {} (PROTOCOL §1)"
    team = read_text(files, TEAM_SESSION, limit=MAX_JSON_BYTES, missing=need.format(TEAM_SESSION))
    read_text(files, TASK_ANALYSIS, limit=MAX_JSON_BYTES, missing=need.format(TASK_ANALYSIS))
    for rel, role in role_spec_paths(team or "").items():
        missing = (
            f"missing: role {role!r} needs this role-spec; "
            "write it, or fix the role's role_spec in team-session.json"
        )
        read_text(files, rel, limit=MAX_SPEC_BYTES, missing=missing)
    return files


def load_session(root: Path) -> Session:
    """Read and validate; ``InvalidSession`` carries every error, warnings stay in the session."""
    return _validated(read_session_files(root))


def _validated(files: SessionFiles) -> Session:
    session, issues = validate_session(files)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if errors or session is None:
        raise InvalidSession(errors or [Issue(str(files.root), None, "invalid session")])
    return session


class SessionLoader:
    """``load_session`` for one command that reads the session several times.

    `run` reads it before taking the lock, again under the lock, and after a
    reset or a journal recovery: the files are re-read every time (another
    process may have changed them), but validated again only when their texts
    changed — validation is a pure function of the texts, and at 10 000 tasks
    each validation was ~0.1 s.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[str, str] | None = None
        self._session: Session | None = None

    def load(self) -> Session:
        files = read_session_files(self.root)
        if self._session is not None and not files.issues and files.texts == self._texts:
            return self._session
        session = _validated(files)
        self._texts, self._session = files.texts, session
        return session
