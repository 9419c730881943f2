"""The worker pool: the workers the executor is responsible for (PROTOCOL §7, §8).

``WorkerPool`` owns ``running`` — workers spawned by this executor or adopted
after a restart — and what they cost (``task_seconds``).  It claims ready
tasks and starts their workers through the host's backend (recorded in
active_workers first), carries out the deadline decisions of
core/deadlines.py (SIGTERM to the process group, SIGKILL after the grace
period) and turns a worker that exits without reporting into a failed
attempt.  A collaborator of ``Engine``, not a part of it: it reaches the
run's shared state only through the ``PoolOwner`` interface below (the task
table, the role-specs, the session files), and every OS effect and clock
through ``Host`` — so tests drive it with a FakeHost, in milliseconds.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from teamexec.core import attempt, attempts
from teamexec.core.agentout import AgentKind
from teamexec.core.claudeview import CLAIM_GRACE_S, agent_view, staggered
from teamexec.core.deadlines import Act, Limits, WorkerClock, due, exit_verdict, judge, next_wake
from teamexec.core.errors import StateCorrupt, os_error_line
from teamexec.core.events import Event, EventKind
from teamexec.core.failures import FailureKind
from teamexec.core.handling import fail_attempt
from teamexec.core.model import RoleSpec, Session, Task, TaskStatus, iso
from teamexec.core.priority import CriticalPath
from teamexec.core.readiness import ready_tasks
from teamexec.core.schedule import Running, Spawn, next_retry, plan_spawns
from teamexec.core.transitions import Reason, move
from teamexec.core.usage import over_budget
from teamexec.executor import spawn
from teamexec.executor.host import Handle, Host, Job
from teamexec.executor.options import PauseReason, RunOptions
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write
from teamexec.storage.logtail import read_tail
from teamexec.storage.paths import SessionPaths, real
from teamexec.storage.store import TaskStore
from teamexec.storage.trace import Trace
from teamexec.worker.crashpoints import crash_point
from teamexec.worker.prompt import build_prompt

if TYPE_CHECKING:
    from teamexec.executor.agents import AgentDesk
    from teamexec.executor.monitor import Monitor
    from teamexec.storage.claudelist import ClaudeList

SUPERVISOR_KEY = "supervisor"  # in a claim's claimer record: who reports the agent's exit


@dataclass(frozen=True)
class ExitReport:
    """A plain agent's exit as its supervisor reported it (applied like an inbox message)."""

    worker_id: str
    code: int
    ts: float  # when the supervisor saw it end: the report's ts


@dataclass
class LiveWorker:
    """A worker the executor is responsible for (spawned now, or adopted)."""

    worker_id: str
    role: str
    task_id: str
    attempt: int
    started_at: float  # when its current task started
    pid: int | None = None
    pid_started_at: float | None = None
    last_beat: float = 0.0
    log_size: int = 0
    reported: set[str] = field(default_factory=set)  # tasks it sent a final message for
    kill_reason: FailureKind | None = None
    kill_at: float | None = None  # SIGKILL after this, if still alive
    start_error: str | None = None  # why its process could not be started
    adopted: bool = False
    slot: int | None = None  # the lane it runs in (0..max_workers-1), for the report's timeline
    handle: Handle | None = None  # the backend's record of its job (None when adopted)
    start_argv0: str = ""  # what was started (for a start that fails after its submit)
    # a plain agent's supervisor (pid, start time): while it lives, an agent whose pid
    # is gone may still be reported — its liveness anchor after an adoption
    anchor: tuple[int, float | None] | None = None

    def clock(self) -> WorkerClock:
        return WorkerClock(self.started_at, self.last_beat, self.kill_at)

    def known_pid(self) -> None:
        """Take the pid its backend has learnt since (a supervisor's answer to its start)."""
        if self.pid is None and self.handle is not None and self.handle.pid:
            self.pid_started_at = self.handle.started_at  # set before the pid: read first
            self.pid = self.handle.pid

    def entry(self) -> dict[str, Any]:
        self.known_pid()
        return {
            "worker_id": self.worker_id,
            "role": self.role,
            "task_id": self.task_id,
            "pid": self.pid,
            "pid_started_at": self.pid_started_at,
            "started_at": iso(self.started_at),
            "attempt": self.attempt,
            "last_seen": iso(self.last_beat),
        }


class ClaudeMirror(Protocol):
    """The Claude task list as the pool uses it (executor/shared.py's ``SharedFiles``)."""

    claude_list: ClaudeList | None
    mirror_users: dict[str, bool]  # role -> whether its agents claim in the Claude list

    def sync_mirror(self, tasks: Iterable[Task]) -> None: ...
    def claude_env(self, role: str) -> dict[str, str]: ...
    def claude_roles(self) -> set[str]: ...


@dataclass
class _Carry:
    """What the first supervised start of a pass carries (``spawn_ready``)."""

    sync_fd: int | None  # the journal, written but not fdatasynced: the supervisor syncs it
    acks: list[str] = field(default_factory=list)  # exits applied, acknowledged with it


class PoolOwner(Protocol):
    """What the pool needs from the run it serves (``Engine`` provides it)."""

    paths: SessionPaths
    session: Session
    options: RunOptions
    emit: Callable[[Event], None]
    store: TaskStore
    specs: dict[str, RoleSpec]
    spec_paths: dict[str, Path]
    tasks: dict[str, Task]
    dirty: set[str]
    cwd: Path
    trace: Trace
    recheck_at: float | None
    priorities: CriticalPath | None
    agents: AgentDesk
    pause_reason: PauseReason | None

    def agent_for(self, role: str) -> tuple[str, ...] | None: ...
    def runnable_roles(self) -> set[str]: ...
    def flush_tasks(self) -> None: ...
    def commit(self, *, delegate: bool = False) -> int | None:
        """Every state written so far durable (the journal's group commit, Engine.commit);
        ``delegate``: by the supervisor before its spawns (the descriptor it syncs)."""
        ...

    def sync_journal(self) -> None:
        """fdatasync the journal now (lines delegated to a supervisor included)."""
        ...

    def _corrupt_task(self, task_id: str, exc: StateCorrupt) -> None: ...
    def claimer(self, worker_id: str) -> dict[str, Any]: ...

    @property
    def shared(self) -> ClaudeMirror: ...


class WorkerPool:
    """The running workers and everything done to them; see the module docstring."""

    def __init__(self, owner: PoolOwner, host: Host, *, max_workers: int) -> None:
        self.owner = owner
        self.host = host
        self.max_workers = max_workers
        self.running: dict[str, LiveWorker] = {}
        self.task_seconds: dict[str, float] = {}  # per task: seconds its workers ran
        self.monitor: Monitor | None = None  # set by the run loop: exits become wake-ups
        self.unacked: list[str] = []  # exit reports applied, not yet committed

    def running_list(self) -> list[Running]:
        """The running workers as the scheduling decisions take them."""
        return [Running(w.worker_id, w.role, w.task_id) for w in self.running.values()]

    def limits(self, role: str) -> Limits | None:
        spec = self.owner.specs.get(role)
        if spec is None:
            return None
        return Limits(spec.timeout_s, spec.stall_after_s, self.owner.options.kill_grace_s)

    def next_spawns(
        self, tasks: dict[str, Task], running: list[Running], now: float
    ) -> list[Spawn]:
        """What to start now, given these tasks and these running workers."""
        runnable = self.owner.runnable_roles()
        closed = self.owner.agents.closed_kinds(now)  # rate-limited agent kinds start nothing (§10)
        if closed:
            runnable = {r for r in runnable if self.owner.agents.kind(r).value not in closed}
        plan = plan_spawns(
            tasks=tasks,
            specs=self.owner.specs,
            running=running,
            max_workers=self.max_workers,
            now=now,
            runnable_roles=runnable,
            ranks=None if self.owner.priorities is None else self.owner.priorities.ranks(tasks),
        )
        plan = self.owner.agents.admit(plan, now)
        if (
            plan
            and self.owner.shared.claude_list is not None
            and self.owner.shared.claude_list is not self.owner.store
        ):
            plan = self._stagger_claude(plan, now)
        return plan

    def _stagger_claude(self, plan: list[Spawn], now: float) -> list[Spawn]:
        """One unclaimed Claude agent per role at a time (see core/claudeview.py)."""
        assert self.owner.shared.claude_list is not None
        roles = {
            r
            for r in self.owner.shared.claude_roles()
            if self.owner.shared.mirror_users.get(r) is not False
        }
        if not any(item.role in roles for item in plan):
            return plan
        try:
            listed, _problems = self.owner.shared.claude_list.read_all()
        except OSError:
            listed = {}
        waiting = set()
        for live in self.running.values():
            if live.role not in roles:
                continue
            entry = listed.get(live.task_id)
            if entry is not None and entry.status is not TaskStatus.PENDING:
                self.owner.shared.mirror_users[live.role] = True  # its agents claim in the list
            elif now - live.started_at < CLAIM_GRACE_S:
                waiting.add(live.role)
        return staggered(plan, roles=roles, waiting=waiting)

    def worker_exited(self, worker_id: str, code: int | None, now: float, why: str = "") -> None:
        """Account for a worker that is gone: any task it still holds failed (a crash).

        ``why``: the job was lost rather than ended (its supervisor died), said so.
        """
        live = self.running.pop(worker_id, None)
        if live is None:
            return
        if (
            self.owner.shared.mirror_users.get(live.role) is None
            and self.owner.shared.claude_list is not None
        ):
            self.owner.shared.mirror_users[live.role] = False  # ended without claiming in the list
        self.task_seconds[live.task_id] = self.task_seconds.get(live.task_id, 0.0) + (
            now - live.started_at
        )
        for task_id in self._held_by(live, now):
            task = self.owner.tasks[task_id]
            if task.status is not TaskStatus.IN_PROGRESS or task.claimed_by != worker_id:
                continue
            kind, reason = exit_verdict(live.kill_reason, code)
            if live.start_error is not None:
                reason = live.start_error
            elif why and live.kill_reason is None:
                reason = f"agent lost: {why}"
            tail = self.log_tail(task_id, task.attempts)
            facts = self.owner.agents.facts(task, {})
            said = attempt.run_failure(facts.run if facts is not None else None)
            if said is not None and said[0] is FailureKind.RATE_LIMITED:
                kind, reason = said
            self.owner.agents.attempt_ended(facts.run if facts is not None else None, now=now)
            updated, event = fail_attempt(
                attempt.record(task, facts, now=now),
                kind=kind,
                reason=reason,
                log_tail=tail,
                spec=self.owner.specs.get(live.role),
                now=now,
                backoff_scale=self.owner.options.backoff_scale,
            )
            self.owner.tasks[task_id] = updated
            self.owner.dirty.add(task_id)
            self.owner.emit(event)

    def _held_by(self, live: LiveWorker, now: float) -> list[str]:
        """Tasks the exited worker may still hold, re-read from disk.

        Its current task, and for an inner-loop worker every task of its role
        that was ready — it may have claimed one without telling us yet.
        """
        candidates = {live.task_id}
        spec = self.owner.specs.get(live.role)
        if spec is not None and spec.inner_loop:
            ready = ready_tasks(self.owner.tasks, self.owner.specs.keys(), now, owner=live.role)
            candidates.update(t.id for t in ready)
        held = []
        for task_id in sorted(candidates):
            if task_id not in self.owner.tasks:
                continue
            if task_id not in self.owner.dirty:
                try:
                    fresh = self.owner.store.read(task_id)
                except StateCorrupt as exc:
                    self.owner._corrupt_task(task_id, exc)
                    fresh = None
                if fresh is not None:
                    self.owner.tasks[task_id] = fresh
            held.append(task_id)
        return held

    def log_tail(self, task_id: str, attempt: int) -> str:
        return read_tail(self.owner.paths.log_file(task_id, attempt), root=self.owner.paths.root)

    def check_adopted(self, now: float) -> list[str]:
        """Adopted workers that are gone (ids), for ``worker_exited`` once the inbox is read.

        Gone means: it reported its task, or neither its process nor the supervisor
        that will report it still runs.  An agent's pid disappears before its
        orphaned supervisor has written the report; the supervisor writes it before
        it exits, so the caller reads the inbox again after this and only then
        judges — a finished but not yet read report is never taken for a crash.
        """
        gone = []
        for live in self.running.values():
            if not live.adopted:
                continue
            alive = live.pid is not None and self.host.pid_matches(
                live.pid, live.pid_started_at, live.worker_id
            )
            reporter = live.anchor is not None and self.host.pid_matches(*live.anchor)
            if live.task_id in live.reported or not (alive or reporter):
                gone.append(live.worker_id)
        return gone

    def enforce_deadlines(self, now: float) -> None:
        """Carry out core/deadlines.judge for every worker: SIGTERM, then SIGKILL."""
        for live in list(self.running.values()):
            limits = self.limits(live.role)
            if limits is None:
                continue
            if live.kill_at is None:
                self._notice_log_growth(live, now)
            kill = judge(live.clock(), limits, now)
            if kill is None:
                continue
            if live.pid is None and live.handle is not None:  # its start not answered yet
                self.settle_starts(now, wait=True)
            if live.pid is None or live.worker_id not in self.running:
                continue
            live.kill_at = kill.next_kill_at
            if kill.act is Act.KILL:
                self.host.signal_group(live.pid, signal.SIGKILL)
                continue
            live.kill_reason = kill.kind
            text = f"{live.task_id} {kill.why}"
            self.owner.emit(Event(EventKind.KILLED, "executor", text, live.task_id))
            self.host.signal_group(live.pid, signal.SIGTERM)

    def _notice_log_growth(self, live: LiveWorker, now: float) -> None:
        try:
            size = self.owner.paths.log_file(live.task_id, live.attempt).stat().st_size
        except OSError:
            return
        if size != live.log_size:
            live.log_size = size
            live.last_beat = now  # any log output is a heartbeat

    def deadline(self, now: float) -> float:
        """When the next timer must fire (timeouts, stalls, kills, retries, rescans)."""
        return next_wake(
            now,
            self.owner.options.rescan_s,
            [
                *(due(live.clock(), self.limits(live.role)) for live in self.running.values()),
                next_retry(self.owner.tasks, now),
                self.owner.agents.wake_at(now),  # a rate limit's reset, a probe's clearing (§10)
                self.owner.recheck_at,  # a young orphan comes of age (§8)
            ],
        )

    def spawn_ready(self, now: float) -> None:
        plan = self.next_spawns(self.owner.tasks, self.running_list(), now)
        if not plan:
            return
        spent = over_budget(self.owner.agents.spent, self.owner.session.executor)
        if spent is not None:  # §10: no new spawns; running workers finish, then pause
            self.owner.pause_reason = PauseReason.BUDGET
            self.owner.agents.budget_note = spent  # the pause message says it
            text = f"budget spent: {spent}; no new workers, running ones finish"
            data = {
                "spent_usd": self.owner.agents.spent.cost_usd,
                "spent_tokens": self.owner.agents.spent.tokens,
            }
            self.owner.emit(Event(EventKind.BUDGET, "executor", text, data=data))
            return
        self.owner.flush_tasks()
        anchor = self._supervisor(plan)
        claimed: list[LiveWorker] = []
        for item in plan:
            attempt = self.owner.tasks[item.task_id].attempts + 1
            wid = spawn.new_worker_id(item.role, item.task_id, attempt)
            slot = self._free_slot()
            claimer = self.owner.claimer(wid)
            supervised = anchor is not None and self._route(item.role) == "agent"
            if supervised:  # the claim names who reports the agent's exit (§8: adoption)
                assert anchor is not None
                claimer[SUPERVISOR_KEY] = {"pid": anchor[0], "pid_started_at": anchor[1]}
            task = self.owner.store.claim(item.task_id, wid, now=now, claimer=claimer, slot=slot)
            if task is None:  # someone else holds it: take the disk's word
                self._not_claimed(item.task_id)
                continue
            self.owner.tasks[item.task_id] = task
            crash_point("claim")
            live = LiveWorker(
                wid, item.role, item.task_id, task.attempts, now, last_beat=now, slot=slot
            )
            live.anchor = anchor if supervised else None
            self.running[wid] = live
            claimed.append(live)
        # the Claude task list shows the claims before any Claude agent can read it (§5)
        if (
            self.owner.shared.claude_list is not None
            and self.owner.shared.claude_list is not self.owner.store
        ):
            # the mirror leads each Claude agent's Phase 1 to the task chosen for it (§5)
            held: dict[str, set[str]] = {}
            for worker in self.running.values():
                held.setdefault(worker.role, set()).add(worker.task_id)
            fresh = [live.task_id for live in claimed]
            self.owner.shared.sync_mirror(agent_view(self.owner.tasks, fresh=fresh, held=held))
        # No process starts before its claim is durable.  When every start goes to
        # the supervisor, it fdatasyncs the journal before its spawn (the first
        # start carries the descriptor) and the first start acknowledges the
        # exits applied: the loop waits on neither the disk nor an extra packet.
        delegate = bool(claimed) and all(live.anchor is not None for live in claimed)
        carry = _Carry(self.owner.commit(delegate=delegate) if claimed else None)
        if carry.sync_fd is not None:
            carry.acks, self.unacked = self.unacked, []
        crash_point("record")
        # no start is waited for: a supervisor's answer (the pid, or why it could
        # not start) is taken at the next pass's settle_starts (a refusal wakes it)
        for live in claimed:
            handle = self._start(live, now, carry)
            if handle is not None:
                self._started(live, handle, now)
        self.unacked.extend(carry.acks)  # no start took them: the pass's last commit does
        # The committed claim (claimed_by, and the claimer's host, pid and start
        # time) is the record made before the process starts: after a crash
        # resume finds the worker by TEAMEXEC_WORKER_ID, or proves the claim
        # dead and resets it.  active_workers, pids included, reaches
        # team-session.json with the pass's session flush, at most a second
        # later and not fsynced (check adds live claims the file does not list
        # yet): rewriting that O(tasks) file durably before every spawn cost
        # two fsyncs, a rename and ~2.4 ms of JSON (at 10k tasks) per task.

    def warm_up(self) -> None:
        """Start the run's supervisor before the loop when plain agents will run.

        Its interpreter then boots (~40 ms) while the executor reconciles,
        instead of after the first pass's claims, where the first start waited
        for it.  A failure is left for the first start to meet and report.
        """
        if any(self._route(role) == "agent" for role in self.owner.specs):
            with contextlib.suppress(OSError):
                self.host.backend.supervisor(self.owner.cwd, self.owner.options.env)

    def _supervisor(self, plan: list[Spawn]) -> tuple[int, float | None] | None:
        """The supervisor that will start this pass's plain agents, started before the claims.

        Started first so each claim can name it: a resume after a crash then
        waits for its reports instead of judging a finished agent crashed.
        None when no plain agent starts, or it cannot start (each start then
        fails and says why).
        """
        if not any(self._route(item.role) == "agent" for item in plan):
            return None
        try:
            return self.host.backend.supervisor(self.owner.cwd, self.owner.options.env)
        except OSError:
            return None

    def _free_slot(self) -> int:
        """The lowest lane number no running worker holds."""
        taken = {w.slot for w in self.running.values()}
        return next(n for n in range(len(taken) + 1) if n not in taken)

    def _not_claimed(self, task_id: str) -> None:
        """The claim failed: the file was taken, damaged or deleted since we read it.

        Taken: the disk's word is kept.  Damaged or deleted: reported and written
        back from the executor's state (the next pass claims it), never an
        endless retry of a claim that cannot succeed.
        """
        try:
            fresh = self.owner.store.read(task_id)
        except StateCorrupt as exc:
            self.owner._corrupt_task(task_id, exc)
            return
        if fresh is not None:
            self.owner.tasks[task_id] = fresh
            return
        path = self.owner.paths.task_file(task_id)
        text = f"{path}: deleted while running; recreated from the executor's state"
        self.owner.emit(Event(EventKind.STATE_CORRUPT, "executor", text, task_id))
        self.owner.dirty.add(task_id)

    def _start(self, live: LiveWorker, now: float, carry: _Carry | None = None) -> Handle | None:
        """Submit the worker's job; None when it could not (the attempt has failed).

        ``carry``: the journal the supervisor must fdatasync before this spawn
        and the exits to acknowledge (``spawn_ready``), taken by the first
        supervised start sent.  A start no supervisor makes syncs the journal
        here first."""
        carry = carry or _Carry(None)
        spec = self.owner.specs[live.role]
        agent = self.owner.agent_for(live.role)
        kind, resume = self.owner.agents.command(live.role, self.owner.tasks[live.task_id])
        if agent is not None:  # the role's per-attempt budget goes on the agent's own line
            agent = attempt.agent_command(kind, agent, spec=spec, resume=None)
        env = spawn.worker_env(
            base=self.owner.options.env,
            session=self.owner.session,
            paths=self.owner.paths,
            spec=spec,
            spec_path=self.owner.spec_paths.get(live.role, self.owner.paths.root / spec.path),
            task_id=live.task_id,
            worker_id=live.worker_id,
            attempt=live.attempt,
            agent=agent,
            cwd=self.owner.cwd,
        )
        env.update(self.owner.shared.claude_env(live.role))
        env["TEAMEXEC_AGENT_KIND"] = kind.value
        if resume:  # the worker continues this conversation (claude --resume, codex resume)
            env["TEAMEXEC_RESUME_SESSION"] = resume
        log_path = self.owner.paths.log_file(live.task_id, live.attempt)
        argv: tuple[str, ...]
        stdin: bytes | None = None
        report: dict[str, Any] | None = None
        route = self._route(live.role)
        if route == "own":
            assert spec.worker is not None
            argv = spec.worker
        elif route == "agent" and agent and live.anchor is not None:
            argv = tuple(attempt.agent_command(kind, agent, spec=spec, resume=resume))
            stdin = self._prompt(live, spec).encode("utf-8")
            report = {
                "role": live.role,
                "task_id": live.task_id,
                "attempt": live.attempt,
                "inbox": real(self.owner.paths.inbox),
                "tmp": real(self.owner.paths.msg_tmp),
            }
        elif route in ("agent", "sh") and agent:  # no supervisor: the lean worker stands in
            argv = spawn.lean_worker_argv(
                attempt.agent_command(kind, agent, spec=spec, resume=resume)
            )
            env.update(self._lean_inputs(live, spec, now))
        else:
            argv = spawn.BUILTIN_WORKER
        job = Job(
            live.worker_id,
            argv,
            env,
            log_path,
            self.owner.cwd,
            self.owner.paths.root,
            stdin=stdin,
            report=report,
            sync_fd=carry.sync_fd if report is not None else None,
            ack=tuple(carry.acks) if report is not None else (),
        )
        live.start_argv0 = argv[0]
        try:
            if report is None and carry.sync_fd is not None:
                self.owner.sync_journal()  # this process starts without the supervisor
                carry.sync_fd = None
            handle = self.host.backend.submit(job)
            if report is not None:  # sent: the supervisor syncs, then starts them in order
                carry.sync_fd, carry.acks = None, []
            return handle
        except OSError as exc:
            self._not_started(live, argv[0], exc, now)
            return None

    def settle_starts(self, now: float, *, wait: bool = False) -> None:
        """Apply what the backend learnt of the starts sent: pids, and the failed ones.

        Called at the top of every pass (before its exits and messages: a
        refused start fails as it always did, never as an exit without a
        report) and, with ``wait``, before anything that needs every pid (a
        signal to a group, the record left at a stop or a detach).  A worker
        is started optimistically: ``_started`` ran when its start was sent.
        """
        failed = self.host.backend.settle(wait)
        for worker_id, exc in failed.items():
            live = self.running.get(worker_id)
            if live is not None:
                self._not_started(live, live.start_argv0, exc, now)
        for task_id, text in self.host.backend.notices():
            self.owner.emit(Event(EventKind.WARNING, "executor", f"{task_id}: {text}", task_id))
        for live in self.running.values():
            live.known_pid()

    def _not_started(self, live: LiveWorker, argv0: str, exc: OSError, now: float) -> None:
        """The job could not start: a failed attempt, said why."""
        live.start_error = f"cannot start {argv0}: {os_error_line(exc)}"
        self.owner.emit(Event(EventKind.WARNING, "executor", live.start_error, live.task_id))
        if not self.owner.cwd.is_dir():  # a cause no retry can cure: fail now, no back-off
            live.kill_reason = FailureKind.PERMANENT
            live.start_error += f" (the agents' directory {self.owner.cwd} is missing)"
        self.worker_exited(live.worker_id, None, now)  # counted as a failed attempt

    def _started(self, live: LiveWorker, handle: Handle, now: float) -> None:
        """The job is started (its pid known, or known once its supervisor answers):
        record it, watch for its end, say so."""
        crash_point("spawn")
        self.owner.trace("spawn", task=live.task_id, pid=handle.pid or None)
        self.owner.agents.spawned(live.role, live.worker_id, now)
        live.handle = handle
        live.known_pid()
        if self.monitor is not None:
            self.host.backend.watch(handle, self.monitor.on_exit)
        text = f"spawned {live.role} for {live.task_id}" + (
            f" (attempt {live.attempt})" if live.attempt > 1 else ""
        )
        facts = {"role": live.role, "attempt": live.attempt}  # for the live view
        self.owner.emit(Event(EventKind.SPAWNED, "executor", text, live.task_id, facts))

    def _route(self, role: str) -> str:
        """What starts this role's tasks: ``own`` (the role's ``worker``), ``agent`` (the
        agent itself, under the run's supervisor), ``sh`` (the lean shell worker) or
        ``python`` (the built-in Python worker).

        ``auto`` (the default) starts the agent directly wherever that does all
        the Python worker would: one task per process (no inner loop) and a
        plain agent command — one process start per task.  Claude Code, Codex
        and Gemini keep the Python worker, which reads their output.  ``sh``
        keeps the lean shell worker (sh + agent + mv: three starts, no
        long-lived process beside the executor).
        """
        spec = self.owner.specs[role]
        if spec.worker is not None:
            return "own"
        if spec.inner_loop or self.owner.agent_for(role) is None:
            return "python"
        choice = self.owner.session.executor.worker
        if choice == "auto":
            return "agent" if self.owner.agents.kind(role) is AgentKind.PLAIN else "python"
        return "sh" if choice == "sh" else "python"

    def _prompt(self, live: LiveWorker, spec: RoleSpec) -> str:
        """The prompt PROTOCOL §7 gives an agent, built here for workers that cannot."""
        task = self.owner.tasks[live.task_id]
        return build_prompt(
            role=spec.role,
            role_spec=str(self.owner.spec_paths.get(spec.role, self.owner.paths.root / spec.path)),
            session=real(self.owner.paths.root),
            session_id=self.owner.session.session_id,
            team_name=self.owner.session.team_name,
            requirement=self.owner.session.task_description,
            inner_loop=spec.inner_loop,
            task_id=task.id,
            task_subject=str(task.data.get("subject", task.id)),
            task_description=str(task.data.get("description", "")),
            role_body=spec.body,
        )

    def _lean_inputs(self, live: LiveWorker, spec: RoleSpec, now: float) -> dict[str, str]:
        """The lean worker cannot build its prompt: write it for it (not fsynced: scratch)."""
        prompt = self._prompt(live, spec)
        path = self.owner.paths.logs / f"{live.task_id}.{live.attempt}.prompt"
        # replaced, never written through: a symlink placed at this name is not followed
        safeopen.check_dirs(path, self.owner.paths.root)
        atomic_write(path, prompt.encode("utf-8"), durable=False)
        # the boot instant in centiseconds: the worker adds /proc/uptime for its
        # report's ts.  The real clocks, not Host's: the worker reads the real machine's.
        boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        return {
            "TEAMEXEC_PROMPT_FILE": str(path.resolve()),
            "TEAMEXEC_STARTED_TS": iso(now),
            "TEAMEXEC_BOOT_EPOCH_CS": str(round(boot * 100)),
        }

    def applied(self, worker_ids: Iterable[str]) -> None:
        """These exit reports are applied; ``acknowledge`` them once committed."""
        self.unacked.extend(worker_ids)

    def acknowledge(self) -> None:
        """After a commit: the supervisor may forget the exits it reported (never before)."""
        if self.unacked:
            self.host.backend.ack(self.unacked)
            self.unacked = []

    def close(self) -> None:
        """The run is over or detached: a supervisor reports what is left through the inbox."""
        self.host.backend.close()

    def terminate_all(self, now: float) -> None:
        """SIGTERM every worker's group, SIGKILL after the grace period; tasks to pending."""
        self.settle_starts(now, wait=True)  # every pid known (a refused one is not running)
        for live in self.running.values():
            if live.pid is not None:
                self.host.signal_group(live.pid, signal.SIGTERM)
        deadline = self.host.monotonic() + self.owner.options.kill_grace_s
        for live in self.running.values():
            while live.pid is not None and self.host.pid_matches(live.pid, live.pid_started_at):
                if self.host.monotonic() >= deadline:
                    self.host.signal_group(live.pid, signal.SIGKILL)
                    break
                self.host.sleep(0.02)  # bounded wait for processes we just signalled
        # what they report now is moot: their tasks go back to pending just below
        self.host.backend.forget([w.worker_id for w in self.running.values() if w.anchor])
        for live in list(self.running.values()):
            task = self.owner.tasks.get(live.task_id)
            if task is not None and task.status is TaskStatus.IN_PROGRESS:
                log = attempts.closed(
                    task.metadata,
                    attempt=task.attempts,
                    outcome=attempts.INTERRUPTED,
                    ended_at=iso(now),
                )
                history = {attempts.KEY: log} if log is not None else {}
                self.owner.tasks[task.id] = move(
                    task, TaskStatus.PENDING, Reason.STOPPED, now=now, **history
                )
                self.owner.dirty.add(task.id)
        self.running.clear()
