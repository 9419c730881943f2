"""The executor's dealings with real agents (PROTOCOL §7 evidence, §10): I/O around pure core.

``AgentDesk`` is held by the engine.  It reads what the decisions need from
disk — an attempt's log (bounded), the modification times of the expected
deliverables — and keeps the run's agent state: the rate-limit gates per
agent kind and what the agents have spent.  The decisions themselves are in
core: agentout.py (parse a log), attempt.py (judge an attempt, the next
argv), ratelimit.py (the gates), usage.py (totals, the budget).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from teamexec.core import attempt, ratelimit
from teamexec.core.agentout import AgentKind, AgentRun, agent_kind, parse
from teamexec.core.attempt import AttemptFacts
from teamexec.core.events import Event, EventKind
from teamexec.core.model import RoleSpec, Session, Task, parse_iso
from teamexec.core.schedule import Spawn
from teamexec.core.usage import Usage, run_usage, task_usage
from teamexec.storage import safeopen
from teamexec.storage.paths import SessionPaths

LOG_HEAD_BYTES = 64 * 1024  # codex names its thread on the first line
LOG_TAIL_BYTES = 4 * 1024 * 1024  # the result object is at the end


def read_log(path: Path, *, root: Path | None = None) -> str:
    """The head and the tail of a log, never more than ~4 MiB of it."""
    try:  # never through a symlink put at the log's name (PROTOCOL §1)
        fd = safeopen.open_read(path, root=root)
    except OSError:
        return ""
    try:
        size = os.fstat(fd).st_size
        if size <= LOG_HEAD_BYTES + LOG_TAIL_BYTES:
            data = os.pread(fd, size, 0)
        else:
            head = os.pread(fd, LOG_HEAD_BYTES, 0)
            data = head + b"\n" + os.pread(fd, LOG_TAIL_BYTES, size - LOG_TAIL_BYTES)
    except OSError:
        return ""
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


class AgentDesk:
    def __init__(
        self,
        *,
        paths: SessionPaths,
        session: Session,
        specs: Mapping[str, RoleSpec],
        agent_for: Callable[[str], tuple[str, ...] | None],
        emit: Callable[[Event], None],
        now: float,
    ) -> None:
        self.paths = paths
        self.session = session
        self.specs = specs  # the engine's live dict: reloaded role-specs show here
        self.agent_for = agent_for
        self.emit = emit
        self.gates: dict[str, ratelimit.Gate] = ratelimit.from_json(
            session.data.get("rate_limits"), now=now
        )
        self.gates_dirty = False
        self.spent = Usage()
        self.conversations: dict[str, str] = {}  # role -> its last sound conversation
        self.budget_note: str | None = None  # what was spent, once the budget stopped spawns
        self._kinds: dict[str, tuple[RoleSpec, AgentKind]] = {}  # kind(): role -> (spec, kind)

    # ------------------------------------------------------------- the kind
    def kind(self, role: str | None) -> AgentKind:
        """The role's agent kind, worked out once per role-spec (asked several times a task).

        The agent a role resolves to depends only on its spec and the run's
        options; a reloaded spec is a new object, and is worked out again.
        """
        spec = self.specs.get(role or "")
        if spec is None:
            return AgentKind.PLAIN
        known = self._kinds.get(spec.role)
        if known is not None and known[0] is spec:
            return known[1]
        kind = agent_kind(spec.agent_kind, self.agent_for(spec.role))
        self._kinds[spec.role] = (spec, kind)
        return kind

    # ------------------------------------------------------------ the facts
    def facts(self, task: Task, data: Mapping[str, Any]) -> AttemptFacts | None:
        """What the attempt's log and deliverables say; None for a task never run here."""
        number = data.get("attempt")
        number = number if isinstance(number, int) and not isinstance(number, bool) else None
        number = number or task.attempts
        if number < 1:
            return None
        kind = self.kind(task.owner)
        run: AgentRun | None = None
        if kind is not AgentKind.PLAIN:
            run = parse(
                kind, read_log(self.paths.log_file(task.id, number), root=self.paths.root), now=None
            )
        spec = self.specs.get(task.owner or "")
        mode = attempt.evidence_mode(spec, self.session.executor)
        evidence = None
        if mode is not attempt.EvidenceMode.OFF:
            node = self.session.graph.get(task.id)
            declared = node.details.artifacts if node is not None else ()
            reported = data.get("artifact")
            expected = attempt.expected_deliverables(
                declared,
                reported if isinstance(reported, str) and reported else None,
                task_id=task.id,
            )
            if expected:
                started = parse_iso(task.metadata.get("started_at"))
                evidence = attempt.judge_evidence(expected, self._mtimes(expected), started)
        return AttemptFacts(attempt=number, run=run, evidence=evidence, evidence_mode=mode)

    def _mtimes(self, expected: Sequence[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for rel in expected:
            if "<" in rel or "*" in rel:
                folder = self.paths.root / rel.rsplit("/", 1)[0]
                base = rel.rsplit("/", 1)[0]
                try:
                    for entry in os.scandir(folder):
                        if entry.is_file(follow_symlinks=False):
                            out[f"{base}/{entry.name}"] = entry.stat().st_mtime
                except OSError:
                    pass
                continue
            path = Path(rel) if rel.startswith("/") else self.paths.root / rel
            try:
                out[rel] = path.stat().st_mtime
            except OSError:
                out[rel] = None
        return out

    # ---------------------------------------------------- after an attempt
    def attempt_ended(
        self,
        run: AgentRun | None,
        *,
        now: float,
        started_at: float | None = None,
        role: str | None = None,
    ) -> None:
        """Rate limits, spending and the role's conversation from one ended attempt."""
        if run is None:
            return
        if run.found:
            self.spent = self.spent + run_usage(run.metadata(0))
        if role and run.session_id and not run.context_overflow and not run.rate_limited:
            self.conversations[role] = run.session_id
        kind = run.kind.value
        if run.rate_limited and ratelimit.stale(
            self.gates, kind, now=now, resets_at=run.resets_at, started_at=started_at
        ):
            return  # the same wave's report, late: the gate already waited for it
        if run.rate_limited:
            was_closed = ratelimit.allowance(self.gates, kind, now=now) == 0
            reason = f"{run.api_error_status}" if run.api_error_status else "rate limit"
            self.gates = ratelimit.limited(
                self.gates, kind, now=now, resets_at=run.resets_at, reason=reason
            )
            self.gates_dirty = True
            if not was_closed:
                gate = self.gates[kind]
                text = (
                    f"{kind} rate-limited until {ratelimit.clock(gate.until)} UTC: no new {kind} "
                    "workers until then, running ones go on; the attempt is not counted"
                )
                data = {"agent_kind": kind, "until": gate.until}
                self.emit(Event(EventKind.RATE_LIMITED, "executor", text, data=data))
        elif kind in self.gates:
            before = dict(self.gates)
            self.gates = ratelimit.got_through(self.gates, kind, now=now)
            if self.gates != before:
                self.gates_dirty = True
                text = f"{kind} rate limit over: full speed"
                self.emit(
                    Event(EventKind.RATE_LIMITED, "executor", text, data={"agent_kind": kind})
                )

    def heard_from(self, worker_id: str, role: str, now: float) -> None:
        """A progress message: a probe that reports has got through."""
        kind = self.kind(role).value
        if kind in self.gates:
            before = dict(self.gates)
            self.gates = ratelimit.probe_heard(self.gates, kind, worker_id, now=now)
            self.gates_dirty = self.gates_dirty or self.gates != before

    # ------------------------------------------------------------- spawning
    def admit(self, plan: Iterable[Spawn], now: float) -> list[Spawn]:
        """The planned spawns the gates let through: none of a closed kind, one probe after it."""
        admitted: list[Spawn] = []
        taken: dict[str, int] = {}
        for item in plan:
            kind = self.kind(item.role).value
            allowed = ratelimit.allowance(self.gates, kind, now=now)
            if allowed is None or taken.get(kind, 0) < allowed:
                admitted.append(item)
                taken[kind] = taken.get(kind, 0) + 1
        return admitted

    def spawned(self, role: str, worker_id: str, now: float) -> None:
        kind = self.kind(role).value
        gate = self.gates.get(kind)
        if gate is not None and now >= gate.until and gate.probe is None:
            self.gates = ratelimit.probe_started(self.gates, kind, worker_id, now=now)
            self.gates_dirty = True
            text = f"{kind} rate limit reset: one {kind} worker first, then the caps"
            self.emit(Event(EventKind.RATE_LIMITED, "executor", text, data={"agent_kind": kind}))

    def closed_kinds(self, now: float) -> set[str]:
        return {k for k in self.gates if ratelimit.allowance(self.gates, k, now=now) == 0}

    def wake_at(self, now: float) -> float | None:
        return ratelimit.wake_at(self.gates, now=now)

    def command(self, role: str, task: Task) -> tuple[AgentKind, str | None]:
        """The kind and the conversation a new attempt of ``task`` continues (None: afresh)."""
        kind = self.kind(role)
        spec = self.specs.get(role)
        resume = None
        if task.attempts > 1:
            resume = attempt.resume_session(task, spec)
        if resume is None and spec is not None and spec.inner_loop:
            # an inner-loop role's next worker goes on with the role's conversation (§7)
            resume = self.conversations.get(role)
        return kind, resume

    # --------------------------------------------------------------- budget
    def count_spent(self, tasks: Iterable[Task]) -> None:
        total = Usage()
        for task in tasks:
            if "runs" in task.metadata:
                total = total + task_usage(task)
        self.spent = total

    def rate_limits_json(self) -> dict[str, Any]:
        return ratelimit.to_json(self.gates)
