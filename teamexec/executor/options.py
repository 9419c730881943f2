"""What a run was asked to do: the command line's options, as the loop reads them.

Its own module so that the engine and the worker pool both import it and
neither imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class PauseReason(StrEnum):
    """Why a run paused rather than ended (the exit code and the hint depend on it)."""

    USER = "user"  # teamexec pause or stop
    CONSENSUS = "consensus"  # a second HIGH consensus_blocked on a revised task
    BUDGET = "budget"  # executor.budget is spent (§10)


@dataclass
class RunOptions:
    max_workers: int | None = None  # None: the session's executor.max_workers
    cli_agent: str | None = None  # --agent
    poll: bool = False  # --poll: a polling file observer
    detach: bool = False  # --detach: leave workers running on SIGINT/SIGTERM
    backoff_scale: float = 1.0  # tests shrink the retry back-off
    kill_grace_s: float = 10.0  # SIGTERM -> SIGKILL
    rescan_s: float = 2.0  # the slow timer: the disk is the truth, events are hints
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    start_dir: Path = field(default_factory=Path.cwd)
