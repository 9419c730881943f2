"""The error hierarchy.  The CLI turns each into one stderr line and an exit code.

``InvalidSession`` carries every finding, not only the first.  ``Locked`` is
"could not start: another executor runs this session".  ``StateCorrupt`` is a
state file that no longer parses while running: the executor keeps its last
good state and says so instead of overwriting the damage.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from teamexec.core.model import Issue, one_line

__all__ = ["one_line"]  # re-exported: the CLI turns errors into lines with it


def os_error_line(exc: OSError) -> str:
    """One line naming the path and what the system said (ENOSPC, EROFS, ENOTDIR...)."""
    what = exc.strerror or str(exc)
    if exc.filename is None:
        return one_line(what)
    where = str(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {exc.filename2}"
    return one_line(f"{where}: {what}")


class ExitCode(IntEnum):
    """The exit codes of every command (PROTOCOL §9)."""

    OK = 0
    FAILED = 1  # invalid session, failed or stalled pipeline, paused by consensus
    USAGE = 2  # bad arguments or input
    LOCKED = 3  # another executor holds the session
    INTERRUPTED = 130  # SIGINT/SIGTERM: 128 + SIGINT, as shells report it


class TeamexecError(Exception):
    """Base of every error teamexec reports to the user."""

    exit_code = ExitCode.FAILED


class UsageError(TeamexecError):
    exit_code = ExitCode.USAGE


class InvalidSession(TeamexecError):
    exit_code = ExitCode.FAILED

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class Locked(TeamexecError):
    exit_code = ExitCode.LOCKED

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path}: session is locked by {holder}")


class StateCorrupt(TeamexecError):
    exit_code = ExitCode.FAILED

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class CycleError(TeamexecError):
    """The dependency graph has a cycle; ``cycle`` lists it, first node repeated last."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))
