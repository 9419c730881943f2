"""How an attempt's end is judged from what the agent printed and what it wrote (§7, §10).

The executor gathers the facts — the agent's headless output parsed by
agentout.py, and which expected deliverables were written during the
attempt — and handling.py asks here:

- ``failure``: does a reported completion stand?  Not when the agent said
  ``is_error`` (Claude reports API errors with exit 0 and subtype
  ``success``), nor when it hit a rate limit, nor, with ``evidence:
  require``, when no deliverable was written;
- ``record``: the attempt's figures into ``metadata.runs`` (one entry per
  attempt, so applying a message twice records it once) and a missing
  deliverable into ``metadata.evidence_missing`` (``evidence: warn``);
- ``agent_command``: the argv of the next attempt — the role's per-attempt
  budget, and ``--resume``/``exec resume`` of the last conversation when the
  role allows it and the last attempt did not overflow its context.

Pure: no clock, no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from teamexec.core.agentout import AgentKind, AgentRun, budget_argv, continue_argv
from teamexec.core.failures import FailureKind
from teamexec.core.model import ExecutorConfig, RoleSpec, Task, iso
from teamexec.core.usage import runs_of

ARTIFACTS_DIR = "artifacts"
MTIME_SLACK_S = 1.0  # file systems with coarse timestamps


class EvidenceMode(StrEnum):
    WARN = "warn"
    REQUIRE = "require"
    OFF = "off"


def evidence_mode(spec: RoleSpec | None, executor: ExecutorConfig) -> EvidenceMode:
    value = (spec.evidence if spec is not None else None) or executor.evidence
    try:
        return EvidenceMode(value)
    except ValueError:
        return EvidenceMode.WARN


def expected_deliverables(
    declared: Sequence[str], reported: str | None, *, task_id: str = ""
) -> tuple[str, ...]:
    """Session-relative paths: a capability's ``artifacts`` name files in ``artifacts/``.

    A capability's artifacts are shared by its tasks; when some of the names
    mention the task's id (``impl-001-summary.md`` for IMPL-001), only those
    are this task's, so a sibling running beside it is no evidence for it.
    """
    paths: list[str] = []
    mine = [n for n in declared if task_id and task_id.lower() in str(n).lower()]
    for name in mine or declared:
        text = str(name).strip()
        if not text:
            continue
        if text.startswith(("/", f"{ARTIFACTS_DIR}/")):
            paths.append(text)
        else:
            paths.append(f"{ARTIFACTS_DIR}/{text}")
    if reported:
        paths.append(reported)
    return tuple(dict.fromkeys(paths))


@dataclass(frozen=True)
class Evidence:
    expected: tuple[str, ...]
    written: tuple[str, ...]  # the expected paths written during the attempt

    @property
    def ok(self) -> bool:
        return bool(self.written) or not self.expected


def judge_evidence(
    expected: Sequence[str], mtimes: Mapping[str, float | None], started_at: float | None
) -> Evidence:
    """Which expected deliverables exist with a modification time inside the attempt.

    A path naming a placeholder (``<doc-name>.md``, ``*.md``) is matched by any
    file ``mtimes`` lists under the same folder.
    """
    since = (started_at or 0.0) - MTIME_SLACK_S
    written = []
    for path in expected:
        if "<" in path or "*" in path:
            folder = path.rsplit("/", 1)[0] + "/"
            hits = [p for p, t in mtimes.items() if p.startswith(folder) and t and t >= since]
            written.extend(hits[:1])
        else:
            stamp = mtimes.get(path)
            if stamp is not None and stamp >= since:
                written.append(path)
    return Evidence(tuple(expected), tuple(written))


@dataclass(frozen=True)
class AttemptFacts:
    """What the executor found when an attempt ended."""

    attempt: int
    run: AgentRun | None = None
    evidence: Evidence | None = None
    evidence_mode: EvidenceMode = EvidenceMode.WARN


def run_failure(run: AgentRun | None) -> tuple[FailureKind, str] | None:
    """The agent's own word that the attempt failed, whatever its exit code."""
    if run is None:
        return None
    if run.rate_limited:
        status = f" {run.api_error_status}" if run.api_error_status else ""
        return FailureKind.RATE_LIMITED, f"{run.kind.value} rate-limited{status}"
    if run.context_overflow:
        return FailureKind.CONTEXT_OVERFLOW, f"context overflow: {run.error or ''}".rstrip(": ")
    if run.is_error:
        status = f", api_error_status {run.api_error_status}" if run.api_error_status else ""
        what = f"agent reported is_error (subtype {run.subtype or '?'}{status})"
        return FailureKind.UNKNOWN, f"{what}: {run.error}" if run.error else what
    return None


def failure(facts: AttemptFacts | None) -> tuple[FailureKind, str] | None:
    """Why a reported completion does not stand, or None when it does."""
    if facts is None:
        return None
    found = run_failure(facts.run)
    if found is not None:
        return found
    evidence = facts.evidence
    if evidence is not None and not evidence.ok and facts.evidence_mode is EvidenceMode.REQUIRE:
        wanted = ", ".join(evidence.expected)
        return FailureKind.NO_EVIDENCE, f"no deliverable written during the attempt ({wanted})"
    return None


def record(task: Task, facts: AttemptFacts | None, *, now: float) -> Task:
    """The attempt's figures and evidence into the task's metadata (idempotent per attempt)."""
    if facts is None:
        return task
    meta: dict[str, Any] = {}
    if facts.run is not None and facts.run.found:
        entry = dict(facts.run.metadata(facts.attempt), recorded_at=iso(now))
        runs = [r for r in runs_of(task) if r.get("attempt") != facts.attempt]
        meta["runs"] = [*runs, entry]
        if facts.run.session_id:
            meta["agent_session"] = facts.run.session_id
    evidence = facts.evidence
    if evidence is not None and facts.evidence_mode is not EvidenceMode.OFF:
        meta["evidence_missing"] = None if evidence.ok else list(evidence.expected)
    return task.evolve(metadata=meta) if meta else task


def resume_session(task: Task, spec: RoleSpec | None) -> str | None:
    """The conversation the next attempt continues, if the role allows and it is sound."""
    if spec is not None and not spec.resume_on_retry:
        return None
    error = task.metadata.get("last_error")
    if isinstance(error, dict) and error.get("kind") == FailureKind.CONTEXT_OVERFLOW.value:
        return None
    for entry in reversed(runs_of(task)):
        if entry.get("context_overflow"):
            return None
        session = entry.get("session_id")
        if isinstance(session, str) and session:
            return session
    return None


def agent_command(
    kind: AgentKind, argv: Sequence[str], *, spec: RoleSpec | None, resume: str | None
) -> tuple[str, ...]:
    """The agent's argv for one attempt: the role's budget, then the conversation to continue."""
    command = budget_argv(kind, argv, spec.max_budget_usd if spec is not None else None)
    if resume:
        return continue_argv(kind, command, resume) or command
    return command
