"""Reading a session's definition files from disk, safely (PROTOCOL §1).

``read_session_files`` collects the raw text of team-session.json,
task-analysis.json and every role-spec the session names, and never raises:
a missing, huge, binary, non-UTF-8 file or a path escaping the session
(``..``, absolute, or a symlink pointing out) becomes an ``Issue``.
``load_session`` then validates (validate.py) and raises ``InvalidSession``
with every error at once.

Limits: 64 MiB for a JSON file (a 50k-task analysis is ~10 MiB), 1 MiB for a
role-spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from teamexec.errors import InvalidSession
from teamexec.model import ROLE_NAME_RE, Issue, Session, Severity

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_SPEC_BYTES = 1024 * 1024
TEAM_SESSION = "team-session.json"
TASK_ANALYSIS = "task-analysis.json"


@dataclass(frozen=True)
class SessionFiles:
    """Raw texts by session-relative path, and the problems met while reading."""

    root: Path
    texts: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def shown(self, rel: str) -> str:
        """The path as printed in messages: as the user named the session."""
        return str(self.root / rel)


def safe_relative(root: Path, rel: str) -> str | None:
    """Why ``rel`` may not be read inside ``root``, or None when it is safe."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        return "must be a path relative to the session directory"
    if ".." in pure.parts:
        return "must not contain '..'"
    resolved = (root / rel).resolve()
    if not resolved.is_relative_to(root.resolve()):
        return "resolves outside the session directory (symlink)"
    return None


def read_text(files: SessionFiles, rel: str, limit: int) -> str | None:
    path = files.root / rel
    shown = files.shown(rel)
    why = safe_relative(files.root, rel)
    if why is not None:
        files.issues.append(Issue(shown, None, why))
        return None
    try:
        if not path.is_file():
            missing = "missing" if not path.exists() else "not a regular file"
            files.issues.append(Issue(shown, None, f"{missing}"))
            return None
        size = path.stat().st_size
        if size > limit:
            files.issues.append(Issue(shown, None, f"too large: {size} bytes (limit {limit})"))
            return None
        raw = path.read_bytes()
    except OSError as exc:
        files.issues.append(Issue(shown, None, f"cannot read: {exc.strerror or exc}"))
        return None
    if b"\x00" in raw:
        files.issues.append(Issue(shown, None, "binary file (contains NUL bytes), expected text"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        files.issues.append(Issue(shown, line, "not UTF-8 text"))
        return None
    files.texts[rel] = text.removeprefix("\ufeff")
    return files.texts[rel]


def role_spec_paths(team_session_text: str) -> list[str]:
    """The role-spec paths team-session.json names (leniently: validation judges it)."""
    try:
        data = json.loads(team_session_text)
    except (ValueError, RecursionError):
        return []
    roles = data.get("roles") if isinstance(data, dict) else None
    paths = []
    for role in roles if isinstance(roles, list) else ():
        if not isinstance(role, dict):
            continue
        rel = role.get("role_spec")
        name = role.get("name")
        if isinstance(rel, str) and rel:
            paths.append(rel)
        elif isinstance(name, str) and ROLE_NAME_RE.match(name):
            paths.append(f"role-specs/{name}.md")
    return paths


def read_session_files(root: Path) -> SessionFiles:
    files = SessionFiles(root)
    if not root.is_dir():
        files.issues.append(Issue(str(root), None, "not a session directory"))
        return files
    team = read_text(files, TEAM_SESSION, MAX_JSON_BYTES)
    read_text(files, TASK_ANALYSIS, MAX_JSON_BYTES)
    for rel in dict.fromkeys(role_spec_paths(team or "")):
        read_text(files, rel, MAX_SPEC_BYTES)
    return files


def load_session(root: Path) -> Session:
    """Read and validate; every error at once in ``InvalidSession``."""
    from teamexec.validate import validate_session

    files = read_session_files(root)
    session, issues = validate_session(files)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if errors or session is None:
        raise InvalidSession(errors or [Issue(str(root), None, "invalid session")])
    return session
