"""Why an attempt failed and when the next one may start (PROTOCOL §8 Retries).

Pure: the log tail travels in the ``error`` message (or the executor reads it
for a crash) and this module only classifies text.  The pattern lists follow
the ExecutionMonitor idea — transient failures are worth a retry, permanent
ones are not — and a role-spec may replace either list
(``transient_patterns`` / ``permanent_patterns``).  A failure that matches
neither list is retried: most agent failures are worth one more try.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from enum import StrEnum

from teamexec.core.model import RoleSpec

TRANSIENT_PATTERNS: tuple[str, ...] = (
    r"rate.?limit",
    r"timed? ?out",
    r"connection (refused|reset)",
    r"\b429\b",
    r"\b5\d\d\b.*(error|server|gateway|unavailable)",
    r"(service|server) (is )?(temporarily )?unavailable",
    r"overloaded",
    r"try again later",
)

PERMANENT_PATTERNS: tuple[str, ...] = (
    r"permission denied",
    r"no such file or directory",
    r"command not found",
    r"invalid api key|authentication failed|unauthorized",
    r"syntaxerror",
)


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"
    TIMEOUT = "timeout"
    STALLED = "stalled"
    CRASHED = "crashed"
    RATE_LIMITED = "rate_limited"  # a condition of the agent kind: not counted (PROTOCOL §10)
    CONTEXT_OVERFLOW = "context_overflow"  # retried in a new conversation, never resumed
    NO_EVIDENCE = "no_evidence"  # exited 0 without its deliverable, evidence: require (§7)


def _matches(patterns: Sequence[str], text: str) -> bool:
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)


def classify(log_tail: str, spec: RoleSpec | None) -> FailureKind:
    """Transient beats permanent: a rate-limited run that then printed an error is retried."""
    transient = TRANSIENT_PATTERNS
    permanent = PERMANENT_PATTERNS
    if spec is not None:
        if spec.transient_patterns is not None:
            transient = spec.transient_patterns
        if spec.permanent_patterns is not None:
            permanent = spec.permanent_patterns
    if _matches(transient, log_tail):
        return FailureKind.TRANSIENT
    if _matches(permanent, log_tail):
        return FailureKind.PERMANENT
    return FailureKind.UNKNOWN


def backoff_s(task_id: str, attempt: int, *, scale: float = 1.0) -> float:
    """``2^n`` seconds with deterministic jitter in [1.0, 1.25), never above 300.

    The jitter is drawn from a hash of task and attempt, not a random source,
    so that the pure core stays reproducible and tests need no seed.
    """
    digest = hashlib.blake2b(f"{task_id}:{attempt}".encode(), digest_size=2).digest()
    jitter = 1.0 + int.from_bytes(digest, "big") / 65536 / 4
    return min(2.0**attempt * jitter, 300.0) * scale
