"""The error hierarchy.  The CLI turns each into one stderr line and an exit code.

``InvalidSession`` carries every finding, not only the first.  ``Locked`` is
"could not start: another executor runs this session".  ``StateCorrupt`` is a
state file that no longer parses while running: the executor keeps its last
good state and says so instead of overwriting the damage.
"""

from __future__ import annotations

from collections.abc import Sequence

from teamexec.core.model import Issue


class TeamexecError(Exception):
    """Base of every error teamexec reports to the user."""

    exit_code = 1


class UsageError(TeamexecError):
    exit_code = 2


class InvalidSession(TeamexecError):
    exit_code = 1

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class Locked(TeamexecError):
    exit_code = 3

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path}: session is locked by {holder}")


class StateCorrupt(TeamexecError):
    exit_code = 1

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class CycleError(TeamexecError):
    """The dependency graph has a cycle; ``cycle`` lists it, first node repeated last."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))
