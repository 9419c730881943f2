"""Worker processes seen from the executor: start, watch, time out, account for.

``WorkerLifecycle`` is the part of ``Engine`` that owns ``running`` — the
workers the executor is responsible for, spawned by it or adopted after a
restart.  It claims ready tasks and starts their workers (recorded in
active_workers first), enforces timeouts and stalls (SIGTERM to the process
group, SIGKILL after the grace period), and turns a worker that exits without
reporting into a failed attempt.  Kept apart from engine.py, which owns the
messages and the state files, so that each stays readable.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamexec.core import attempt, attempts
from teamexec.core.claudeview import agent_view
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
from teamexec.executor.liveness import Liveness
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write
from teamexec.storage.logtail import read_tail
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore
from teamexec.storage.trace import Trace
from teamexec.worker.crashpoints import crash_point
from teamexec.worker.prompt import build_prompt

if TYPE_CHECKING:
    from teamexec.executor.agents import AgentDesk
    from teamexec.executor.engine import RunOptions
    from teamexec.executor.monitor import Monitor
    from teamexec.storage.claudelist import ClaudeList


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

    def entry(self) -> dict[str, Any]:
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


class WorkerLifecycle:
    """Mixed into Engine; the attributes below are Engine's."""

    paths: SessionPaths
    session: Session
    options: RunOptions
    emit: Callable[[Event], None]
    liveness: Liveness
    store: TaskStore
    specs: dict[str, RoleSpec]
    spec_paths: dict[str, Path]
    tasks: dict[str, Task]
    dirty: set[str]
    running: dict[str, LiveWorker]
    max_workers: int
    cwd: Path
    monitor: Monitor | None
    task_seconds: dict[str, float]
    trace: Trace
    recheck_at: float | None
    priorities: CriticalPath | None
    agents: AgentDesk
    claude_list: ClaudeList | None
    pause_reason: str | None

    if TYPE_CHECKING:  # provided by Engine

        def agent_for(self, role: str) -> tuple[str, ...] | None: ...
        def runnable_roles(self) -> set[str]: ...
        def flush_tasks(self) -> None: ...
        def record_workers(self) -> None: ...
        def sync_mirror(self, tasks: Iterable[Task]) -> None: ...
        def claude_env(self, role: str) -> dict[str, str]: ...
        def _corrupt_task(self, task_id: str, exc: StateCorrupt) -> None: ...
        def claimer(self, worker_id: str) -> dict[str, Any]: ...

    def next_spawns(
        self, tasks: dict[str, Task], running: list[Running], now: float
    ) -> list[Spawn]:
        """What to start now, given these tasks and these running workers."""
        runnable = self.runnable_roles()
        closed = self.agents.closed_kinds(now)  # rate-limited agent kinds start nothing (§10)
        if closed:
            runnable = {r for r in runnable if self.agents.kind(r).value not in closed}
        plan = plan_spawns(
            tasks=tasks,
            specs=self.specs,
            running=running,
            max_workers=self.max_workers,
            now=now,
            runnable_roles=runnable,
            ranks=None if self.priorities is None else self.priorities.ranks(tasks),
        )
        return self.agents.admit(plan, now)

    def worker_exited(self, worker_id: str, code: int | None, now: float) -> None:
        """Account for a worker that is gone: any task it still holds failed (a crash)."""
        live = self.running.pop(worker_id, None)
        if live is None:
            return
        self.task_seconds[live.task_id] = self.task_seconds.get(live.task_id, 0.0) + (
            now - live.started_at
        )
        for task_id in self._held_by(live, now):
            task = self.tasks[task_id]
            if task.status is not TaskStatus.IN_PROGRESS or task.claimed_by != worker_id:
                continue
            kind = live.kill_reason or FailureKind.CRASHED
            if live.start_error is not None:
                reason = live.start_error
            elif kind is FailureKind.CRASHED:
                reason = f"worker exited with code {code} without reporting"
            else:
                reason = f"attempt {kind.value}, killed"
            tail = self._log_tail(task_id, task.attempts)
            facts = self.agents.facts(task, {})
            said = attempt.run_failure(facts.run if facts is not None else None)
            if said is not None and said[0] is FailureKind.RATE_LIMITED:
                kind, reason = said
            self.agents.attempt_ended(facts.run if facts is not None else None, now=now)
            updated, event = fail_attempt(
                attempt.record(task, facts, now=now),
                kind=kind,
                reason=reason,
                log_tail=tail,
                spec=self.specs.get(live.role),
                now=now,
                backoff_scale=self.options.backoff_scale,
            )
            self.tasks[task_id] = updated
            self.dirty.add(task_id)
            self.emit(event)

    def _held_by(self, live: LiveWorker, now: float) -> list[str]:
        """Tasks the exited worker may still hold, re-read from disk.

        Its current task, and for an inner-loop worker every task of its role
        that was ready — it may have claimed one without telling us yet.
        """
        candidates = {live.task_id}
        spec = self.specs.get(live.role)
        if spec is not None and spec.inner_loop:
            ready = ready_tasks(self.tasks, self.specs.keys(), now, owner=live.role)
            candidates.update(t.id for t in ready)
        held = []
        for task_id in sorted(candidates):
            if task_id not in self.tasks:
                continue
            if task_id not in self.dirty:
                try:
                    fresh = self.store.read(task_id)
                except StateCorrupt as exc:
                    self._corrupt_task(task_id, exc)
                    fresh = None
                if fresh is not None:
                    self.tasks[task_id] = fresh
            held.append(task_id)
        return held

    def _log_tail(self, task_id: str, attempt: int) -> str:
        return read_tail(self.paths.log_file(task_id, attempt), root=self.paths.root)

    def check_adopted(self, now: float) -> None:
        for live in list(self.running.values()):
            if live.adopted and not (
                live.pid is not None
                and self.liveness.pid_matches(live.pid, live.pid_started_at, live.worker_id)
            ):
                self.worker_exited(live.worker_id, None, now)

    def enforce_deadlines(self, now: float) -> None:
        for live in list(self.running.values()):
            spec = self.specs.get(live.role)
            if spec is None or live.pid is None:
                continue
            if live.kill_at is not None:
                if now >= live.kill_at:
                    spawn.signal_group(live.pid, signal.SIGKILL)
                    live.kill_at = now + self.options.kill_grace_s
                continue
            self._notice_log_growth(live, now)
            if now - live.started_at >= spec.timeout_s:
                self._kill(live, FailureKind.TIMEOUT, now, f"timed out after {spec.timeout_s:g} s")
            elif now - live.last_beat >= spec.stall_after_s:
                self._kill(
                    live, FailureKind.STALLED, now, f"stalled: silent for {spec.stall_after_s:g} s"
                )

    def _notice_log_growth(self, live: LiveWorker, now: float) -> None:
        try:
            size = self.paths.log_file(live.task_id, live.attempt).stat().st_size
        except OSError:
            return
        if size != live.log_size:
            live.log_size = size
            live.last_beat = now  # any log output is a heartbeat

    def _kill(self, live: LiveWorker, kind: FailureKind, now: float, why: str) -> None:
        live.kill_reason = kind
        live.kill_at = now + self.options.kill_grace_s
        self.emit(Event(EventKind.KILLED, "executor", f"{live.task_id} {why}", live.task_id))
        if live.pid is not None:
            spawn.signal_group(live.pid, signal.SIGTERM)

    def deadline(self, now: float) -> float:
        """When the next timer must fire (timeouts, stalls, kills, rescans)."""
        wake = now + self.options.rescan_s
        for live in self.running.values():
            spec = self.specs.get(live.role)
            if live.kill_at is not None:
                wake = min(wake, live.kill_at)
            elif spec is not None:
                wake = min(
                    wake, live.started_at + spec.timeout_s, live.last_beat + spec.stall_after_s
                )
        retry = next_retry(self.tasks, now)
        if retry is not None:
            wake = min(wake, retry)
        gate = self.agents.wake_at(now)  # a rate limit's reset, a probe's clearing (§10)
        if gate is not None:
            wake = min(wake, gate)
        if self.recheck_at is not None:  # a young orphan comes of age (§8)
            wake = min(wake, self.recheck_at)
        return wake

    def spawn_ready(self, now: float) -> None:
        running = [Running(w.worker_id, w.role, w.task_id) for w in self.running.values()]
        plan = self.next_spawns(self.tasks, running, now)
        if not plan:
            return
        spent = over_budget(self.agents.spent, self.session.executor)
        if spent is not None:  # §10: no new spawns; running workers finish, then pause
            self.pause_reason = "budget"
            self.budget_spent = spent
            text = f"budget spent: {spent}; no new workers, running ones finish"
            data = {
                "spent_usd": self.agents.spent.cost_usd,
                "spent_tokens": self.agents.spent.tokens,
            }
            self.emit(Event(EventKind.BUDGET, "executor", text, data=data))
            return
        self.flush_tasks()
        claimed: list[LiveWorker] = []
        for item in plan:
            attempt = self.tasks[item.task_id].attempts + 1
            wid = spawn.new_worker_id(item.role, item.task_id, attempt)
            slot = self._free_slot()
            task = self.store.claim(
                item.task_id, wid, now=now, claimer=self.claimer(wid), slot=slot
            )
            if task is None:  # someone else holds it: take the disk's word
                self._not_claimed(item.task_id)
                continue
            self.tasks[item.task_id] = task
            crash_point("claim")
            live = LiveWorker(
                wid, item.role, item.task_id, task.attempts, now, last_beat=now, slot=slot
            )
            self.running[wid] = live
            claimed.append(live)
        self.record_workers()  # recorded in active_workers before any process starts
        # the Claude task list shows the claims before any Claude agent can read it (§5)
        if self.claude_list is not None and self.claude_list is not self.store:
            # the mirror leads each Claude agent's Phase 1 to the task chosen for it (§5)
            held: dict[str, set[str]] = {}
            for worker in self.running.values():
                held.setdefault(worker.role, set()).add(worker.task_id)
            fresh = [live.task_id for live in claimed]
            self.sync_mirror(agent_view(self.tasks, fresh=fresh, held=held))
        crash_point("record")
        for live in claimed:
            self._start(live, now)
        # the pids reach team-session.json with the step's final flush; a crash
        # before it is covered: resume finds the worker by TEAMEXEC_WORKER_ID

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
            fresh = self.store.read(task_id)
        except StateCorrupt as exc:
            self._corrupt_task(task_id, exc)
            return
        if fresh is not None:
            self.tasks[task_id] = fresh
            return
        path = self.paths.task_file(task_id)
        text = f"{path}: deleted while running; recreated from the executor's state"
        self.emit(Event(EventKind.STATE_CORRUPT, "executor", text, task_id))
        self.dirty.add(task_id)

    def _start(self, live: LiveWorker, now: float) -> None:
        spec = self.specs[live.role]
        agent = self.agent_for(live.role)
        kind, resume = self.agents.command(live.role, self.tasks[live.task_id])
        if agent is not None:  # the role's per-attempt budget goes on the agent's own line
            agent = attempt.agent_command(kind, agent, spec=spec, resume=None)
        env = spawn.worker_env(
            base=self.options.env,
            session=self.session,
            paths=self.paths,
            spec=spec,
            spec_path=self.spec_paths.get(live.role, self.paths.root / spec.path),
            task_id=live.task_id,
            worker_id=live.worker_id,
            attempt=live.attempt,
            agent=agent,
            cwd=self.cwd,
        )
        env.update(self.claude_env(live.role))
        env["TEAMEXEC_AGENT_KIND"] = kind.value
        if resume:  # the worker continues this conversation (claude --resume, codex resume)
            env["TEAMEXEC_RESUME_SESSION"] = resume
        log_path = self.paths.log_file(live.task_id, live.attempt)
        argv: tuple[str, ...]
        if spec.worker is not None:
            argv = spec.worker
        elif self.session.executor.worker == "sh" and not spec.inner_loop and agent:
            argv = spawn.lean_worker_argv(
                attempt.agent_command(kind, agent, spec=spec, resume=resume)
            )
            env.update(self._lean_inputs(live, spec, now))
        else:
            argv = spawn.BUILTIN_WORKER
        try:
            proc = spawn.start(argv, env=env, log_path=log_path, cwd=self.cwd, root=self.paths.root)
        except OSError as exc:
            live.start_error = f"cannot start {argv[0]}: {os_error_line(exc)}"
            self.emit(Event(EventKind.WARNING, "executor", live.start_error, live.task_id))
            if not self.cwd.is_dir():  # a cause no retry can cure: fail now, no back-off
                live.kill_reason = FailureKind.PERMANENT
                live.start_error += f" (the agents' directory {self.cwd} is missing)"
            self.worker_exited(live.worker_id, None, now)  # counted as a failed attempt
            return
        crash_point("spawn")
        self.trace("spawn", task=live.task_id, pid=proc.pid)
        self.agents.spawned(live.role, live.worker_id, now)
        live.pid = proc.pid
        live.pid_started_at = self.liveness.process_start_time(proc.pid)
        if self.monitor is not None:
            self.monitor.watch_exit(live.worker_id, proc)
        text = f"spawned {live.role} for {live.task_id}" + (
            f" (attempt {live.attempt})" if live.attempt > 1 else ""
        )
        facts = {"role": live.role, "attempt": live.attempt}  # for the live view
        self.emit(Event(EventKind.SPAWNED, "executor", text, live.task_id, facts))

    def _lean_inputs(self, live: LiveWorker, spec: RoleSpec, now: float) -> dict[str, str]:
        """The lean worker cannot build its prompt: write it for it (not fsynced: scratch)."""
        task = self.tasks[live.task_id]
        prompt = build_prompt(
            role=spec.role,
            role_spec=str(self.spec_paths.get(spec.role, self.paths.root / spec.path)),
            session=str(self.paths.root.resolve()),
            session_id=self.session.session_id,
            team_name=self.session.team_name,
            requirement=self.session.task_description,
            inner_loop=spec.inner_loop,
            task_id=task.id,
            task_subject=str(task.data.get("subject", task.id)),
            task_description=str(task.data.get("description", "")),
            role_body=spec.body,
        )
        path = self.paths.logs / f"{task.id}.{live.attempt}.prompt"
        # replaced, never written through: a symlink placed at this name is not followed
        safeopen.check_dirs(path, self.paths.root)
        atomic_write(path, prompt.encode("utf-8"), durable=False)
        return {"TEAMEXEC_PROMPT_FILE": str(path.resolve()), "TEAMEXEC_STARTED_TS": iso(now)}

    def terminate_all(self, now: float) -> None:
        """SIGTERM every worker's group, SIGKILL after the grace period; tasks to pending."""
        for live in self.running.values():
            if live.pid is not None:
                spawn.signal_group(live.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.options.kill_grace_s
        for live in self.running.values():
            while live.pid is not None and self.liveness.pid_matches(live.pid, live.pid_started_at):
                if time.monotonic() >= deadline:
                    spawn.signal_group(live.pid, signal.SIGKILL)
                    break
                time.sleep(0.02)  # bounded wait for processes we just signalled
        for live in list(self.running.values()):
            task = self.tasks.get(live.task_id)
            if task is not None and task.status is TaskStatus.IN_PROGRESS:
                log = attempts.closed(
                    task.metadata,
                    attempt=task.attempts,
                    outcome=attempts.INTERRUPTED,
                    ended_at=iso(now),
                )
                history = {attempts.KEY: log} if log is not None else {}
                self.tasks[task.id] = move(
                    task, TaskStatus.PENDING, Reason.STOPPED, now=now, **history
                )
                self.dirty.add(task.id)
        self.running.clear()
