"""The executor loop (PROTOCOL §8 steps 2-5): reconcile, advance, monitor.

``Engine.step(now)`` is one pass — drain the inbox, account for workers that
exited, enforce deadlines, start ready tasks, write what changed — and returns
the pipeline state.  ``Engine.run()`` is the trivial ``while`` around it that
sleeps on the monitor's queue until the next event or deadline; it never
busy-waits.  Decisions come from the pure modules (reconcile, handling,
schedule); this module applies them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamexec import inbox, spawn
from teamexec.agentcmd import resolve_agent, runnable
from teamexec.errors import StateCorrupt
from teamexec.events import Event, EventKind
from teamexec.failures import FailureKind
from teamexec.handling import Context, Verdict, apply_message, fail_attempt, reject
from teamexec.liveness import Liveness
from teamexec.model import RoleSpec, Session, SessionStatus, Task, TaskStatus, iso, parse_iso
from teamexec.paths import SessionPaths
from teamexec.prompt import build_prompt
from teamexec.readiness import ready_tasks
from teamexec.reconcile import Reconciliation, WorkerFact, World, reconcile
from teamexec.rolespec import parse_role_spec
from teamexec.schedule import PipelineState, Running, Stuck, plan_spawns
from teamexec.stateio import (
    SessionFile,
    append_wisdom_issue,
    read_meta_roles,
    snapshot_role_spec,
    write_meta,
)
from teamexec.store import TaskStore
from teamexec.trace import Trace

if TYPE_CHECKING:  # watchdog is imported only by the run loop, not by `check`
    from teamexec.monitor import Monitor

LOG_TAIL_LINES = 20
ARTIFACT_GRACE_S = 5.0  # how long a reported artifact may take to appear (network file systems)


@dataclass
class RunOptions:
    max_workers: int | None = None
    cli_agent: str | None = None
    poll: bool = False
    detach: bool = False
    backoff_scale: float = 1.0
    kill_grace_s: float = 10.0
    rescan_s: float = 2.0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    start_dir: Path = field(default_factory=Path.cwd)


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
    adopted: bool = False

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


@dataclass(frozen=True)
class Outcome:
    state: PipelineState
    stuck: tuple[Stuck, ...] = ()
    interrupted: bool = False
    paused_by: str | None = None  # "user" (pause/stop) or "consensus"
    detached: bool = False


class Engine:
    def __init__(
        self,
        *,
        paths: SessionPaths,
        session: Session,
        options: RunOptions,
        emit: Callable[[Event], None],
        liveness: Liveness | None = None,
    ) -> None:
        self.paths = paths
        self.session = session
        self.options = options
        self.emit = emit
        self.liveness = liveness or Liveness()
        self.store = TaskStore(paths.tasks)
        self.messages = inbox.MessageLog(paths.messages_log)
        self.session_file = SessionFile(paths.team_session, session.data)
        self.specs: dict[str, RoleSpec] = dict(session.specs)
        self.spec_paths: dict[str, Path] = {}
        self.tasks: dict[str, Task] = {}
        self.dirty: set[str] = set()
        self.running: dict[str, LiveWorker] = {}
        self.role_state: dict[str, Any] = read_meta_roles(paths)
        self.max_workers = options.max_workers or session.executor.max_workers
        self.cwd = self._agent_cwd()
        self.pause_reason: str | None = None
        self.stop_requested = False
        self.interrupted = False
        self.deferred_since: dict[str, float] = {}
        self.meta_dirty = False
        self.monitor: Monitor | None = None
        self.task_seconds: dict[str, float] = {}
        self.trace = Trace(options.env.get("TEAMEXEC_TRACE"))

    # ----------------------------------------------------------------- setup
    def _agent_cwd(self) -> Path:
        cwd = self.session.executor.cwd
        if cwd is None:
            return self.options.start_dir
        path = Path(cwd)
        return path if path.is_absolute() else (self.paths.root / path).resolve()

    def agent_for(self, role: str) -> tuple[str, ...] | None:
        return resolve_agent(
            self.specs[role],
            cli_agent=self.options.cli_agent,
            env=self.options.env,
            executor=self.session.executor,
        )

    def runnable_roles(self) -> set[str]:
        return {r for r, spec in self.specs.items() if runnable(spec, self.agent_for(r))}

    def worker_facts(self, tasks: Mapping[str, Task] | None = None) -> dict[str, WorkerFact]:
        """Liveness of recorded workers, and of unrecorded ones that claimed a task."""
        facts: dict[str, WorkerFact] = {}
        for task in (tasks or {}).values():
            wid = task.claimed_by
            if task.status is TaskStatus.IN_PROGRESS and wid:
                found = self.liveness.find_worker(wid)
                facts[wid] = WorkerFact(found is not None, *(found or (None, None)))
        for entry in self.session.active_workers:
            wid = entry.get("worker_id")
            if not isinstance(wid, str):
                continue
            pid, started = entry.get("pid"), entry.get("pid_started_at")
            if isinstance(pid, int):
                alive = self.liveness.pid_matches(pid, started if started is not None else None)
                facts[wid] = WorkerFact(alive, pid, started)
                continue
            found = self.liveness.find_worker(wid)  # killed between record and spawn update
            facts[wid] = WorkerFact(found is not None, *(found or (None, None)))
        return facts

    def plan(self, now: float) -> Reconciliation:
        tasks, problems = self.store.read_all()
        for issue in problems:
            self.emit(Event(EventKind.STATE_CORRUPT, "executor", str(issue)))
        mtimes = {}
        for task_id in tasks:
            with contextlib.suppress(OSError):
                mtimes[task_id] = self.paths.task_file(task_id).stat().st_mtime
        world = World(
            session=self.session,
            tasks=tasks,
            workers=self.worker_facts(tasks),
            now=now,
            mtimes=mtimes,
            inbox=inbox.read_inbox(self.paths),
            seen_ids=frozenset(self.messages.seen),
            backoff_scale=self.options.backoff_scale,
        )
        self._disk_tasks = tasks
        return reconcile(world)

    def apply_reconciliation(self, rec: Reconciliation, now: float) -> None:
        """Write reconcile's decisions: tasks, messages, session; adopt live workers."""
        for path in (self.paths.inbox, self.paths.msg_tmp, self.paths.logs, self.paths.artifacts):
            path.mkdir(parents=True, exist_ok=True)
        self.store.write_many(rec.tasks[t] for t in rec.changed)
        self.tasks = dict(rec.tasks)
        self._settle_messages([(d.item.name, d.item.message, d.verdict) for d in rec.messages], now)
        for event in rec.events:
            self.emit(event)
        for entry in rec.session_data.get("active_workers") or ():
            self._adopt(entry, now)
        if rec.pause:
            self.pause_reason = "consensus"
        data = dict(rec.session_data)
        data["status"] = SessionStatus.ACTIVE.value
        self.session_file.write(data)
        for role in self.specs:
            self._snapshot(role)

    def _adopt(self, entry: Mapping[str, Any], now: float) -> None:
        wid = str(entry["worker_id"])
        task_id = str(entry.get("task_id", ""))
        task = self.tasks.get(task_id)
        attempt = task.attempts if task else int(entry.get("attempt") or 1)
        started = parse_iso(entry.get("started_at")) or now
        self.running[wid] = LiveWorker(
            worker_id=wid,
            role=str(entry.get("role", "")),
            task_id=task_id,
            attempt=attempt,
            started_at=started,
            pid=entry.get("pid"),
            pid_started_at=entry.get("pid_started_at"),
            last_beat=now,
            adopted=True,
        )

    def _snapshot(self, role: str) -> None:
        spec = self.specs[role]
        source = self.paths.root / spec.path
        try:
            text = source.read_text(encoding="utf-8")
        except OSError:
            return
        parsed, _issues = parse_role_spec(
            text, path=str(source), expected_role=role, expected_prefix=spec.prefix
        )
        if parsed is not None:
            self.spec_paths[role] = snapshot_role_spec(self.paths, role, text)

    # -------------------------------------------------------------- messages
    def _settle_messages(self, settled: list[tuple[str, Any, Verdict]], now: float) -> None:
        """After the effects are on disk: log accepted messages (one fsync), then clear them."""
        done: list[str] = []
        for name, message, verdict in settled:
            if verdict.deferred:
                first = self.deferred_since.setdefault(name, now)
                if now - first < ARTIFACT_GRACE_S:
                    continue
                reason = f"{verdict.reason} (gave up after {ARTIFACT_GRACE_S:g} s)"
                verdict = Verdict(accepted=False, reason=reason)
            self.deferred_since.pop(name, None)
            if not verdict.accepted:
                inbox.reject(self.paths, name, verdict.reason)
                self.emit(
                    Event(EventKind.REJECTED, "executor", f"rejected {name}: {verdict.reason}")
                )
                continue
            if verdict.role_state is not None and isinstance(message, dict):
                self.role_state[str(message["from"])] = dict(verdict.role_state)
                self.meta_dirty = True
            if verdict.wisdom_issue:
                append_wisdom_issue(self.paths, verdict.wisdom_issue)
            if verdict.pause:
                self.pause_reason = "consensus"
            if isinstance(message, dict):
                self.messages.append(message, extra={"received_at": iso(now)}, sync=False)
            done.append(name)
        self.messages.sync()
        for name in done:  # only now: a crash before this re-applies, to no effect
            inbox.remove(self.paths, name)
        if self.meta_dirty:
            write_meta(self.paths, self.session.session_id, self.role_state, now)
            self.meta_dirty = False

    def drain_inbox(self, now: float) -> None:
        items = inbox.read_inbox(self.paths)
        items.sort(key=lambda i: (str(i.message.get("ts", "")) if i.message else "", i.name))
        settled: list[tuple[str, Any, Verdict]] = []
        for item in items:
            if item.error is not None:
                settled.append((item.name, None, reject(item.error)))
                continue
            self.trace("inbox", name=item.name, ctime=item.ctime)
            self._refresh_for(item.message)
            self._add_log_tail(item.message)
            ctx = Context(
                session=self.session,
                specs=self.specs,
                tasks=self.tasks,
                now=now,
                backoff_scale=self.options.backoff_scale,
                artifact_exists=self._artifact_exists,
            )
            verdict = apply_message(item.message, ctx)
            self._note_worker(item.message, verdict, now)
            for task_id, task in verdict.updates.items():
                self.tasks[task_id] = task
                self.dirty.add(task_id)
            for event in verdict.events:
                self.emit(event)
            settled.append((item.name, item.message, verdict))
        if settled:
            self.flush_tasks()  # effects on disk before any message leaves the inbox
            self._settle_messages(settled, now)

    def _add_log_tail(self, message: Any) -> None:
        """An error report without the log's last lines (the lean worker's) gets them here."""
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict) or "log_tail" in data or message.get("type") == "progress":
            return
        if "exit_code" not in data or data.get("exit_code") == 0:
            return
        task = self.tasks.get(str(data.get("task_id")))
        attempt = data.get("attempt")
        if task is not None and isinstance(attempt, int):
            data["log_tail"] = self._log_tail(task.id, attempt)

    def _artifact_exists(self, artifact: str) -> bool:
        path = Path(artifact)
        if not path.is_absolute():
            path = self.paths.root / path
        return path.exists()

    def _refresh_for(self, message: Any) -> None:
        """Re-read the task a message names: an inner-loop worker may have claimed it."""
        data = message.get("data") if isinstance(message, dict) else None
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or task_id in self.dirty:
            return
        try:
            task = self.store.read(task_id)
        except StateCorrupt as exc:
            self._corrupt_task(task_id, exc)
            return
        if task is not None:
            self.tasks[task_id] = task

    def _corrupt_task(self, task_id: str, exc: StateCorrupt) -> None:
        """A task file damaged by hand mid-run: say so, and write the last good state back."""
        if task_id not in self.tasks:
            return
        text = f"{exc.path}: {exc.reason}; restoring the last good state of {task_id}"
        self.emit(Event(EventKind.STATE_CORRUPT, "executor", text, task_id))
        self.dirty.add(task_id)

    def _note_worker(self, message: Any, verdict: Any, now: float) -> None:
        """Heartbeats, and an inner-loop worker moving on to its next task."""
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict):
            return
        live = self.running.get(str(data.get("worker_id", "")))
        if live is None:
            live = next(
                (w for w in self.running.values() if w.task_id == data.get("task_id")), None
            )
        if live is None:
            return
        live.last_beat = now
        task_id = str(data.get("task_id"))
        task = self.tasks.get(task_id)
        if task_id != live.task_id and task is not None and task.claimed_by == live.worker_id:
            self._begin_task(live, task, now)
        if verdict.accepted and message.get("type") in self._final_types(live.role):
            live.reported.add(task_id)

    def _final_types(self, role: str) -> set[str]:
        spec = self.specs.get(role)
        names = {"task_complete", "error"}
        if spec is not None:
            names |= {spec.success_type, spec.error_type}
        return names

    def _begin_task(self, live: LiveWorker, task: Task, now: float) -> None:
        live.task_id = task.id
        live.attempt = task.attempts
        live.started_at = now
        live.last_beat = now
        live.log_size = 0
        self.emit(Event(EventKind.SPAWNED, live.role, f"took {task.id} (inner loop)", task.id))

    # --------------------------------------------------------------- workers
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
            if kind is FailureKind.CRASHED:
                reason = f"worker exited with code {code} without reporting"
            else:
                reason = f"attempt {kind.value}, killed"
            tail = self._log_tail(task_id, task.attempts)
            updated, event = fail_attempt(
                task,
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
        path = self.paths.log_file(task_id, attempt)
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, path.stat().st_size - 16384))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def check_adopted(self, now: float) -> None:
        for live in list(self.running.values()):
            if live.adopted and not (
                live.pid is not None and self.liveness.pid_matches(live.pid, live.pid_started_at)
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
        from teamexec.schedule import next_retry

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
        return wake

    def spawn_ready(self, now: float) -> None:
        runnable_roles = self.runnable_roles()
        running = [Running(w.worker_id, w.role, w.task_id) for w in self.running.values()]
        plan = plan_spawns(
            tasks=self.tasks,
            specs=self.specs,
            running=running,
            max_workers=self.max_workers,
            now=now,
            runnable_roles=runnable_roles,
        )
        if not plan:
            return
        self.flush_tasks()
        claimed: list[LiveWorker] = []
        for item in plan:
            attempt = self.tasks[item.task_id].attempts + 1
            wid = spawn.new_worker_id(item.role, item.task_id, attempt)
            task = self.store.claim(item.task_id, wid, now=now)
            if task is None:  # someone else holds it: take the disk's word
                fresh = self.store.read(item.task_id)
                if fresh is not None:
                    self.tasks[item.task_id] = fresh
                continue
            self.tasks[item.task_id] = task
            live = LiveWorker(wid, item.role, item.task_id, task.attempts, now, last_beat=now)
            self.running[wid] = live
            claimed.append(live)
        self.flush_session()  # recorded in active_workers before any process starts
        for live in claimed:
            self._start(live, now)
        # the pids reach team-session.json with the step's final flush; a crash
        # before it is covered: resume finds the worker by TEAMEXEC_WORKER_ID

    def _start(self, live: LiveWorker, now: float) -> None:
        spec = self.specs[live.role]
        agent = self.agent_for(live.role)
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
        log_path = self.paths.log_file(live.task_id, live.attempt)
        argv: tuple[str, ...]
        if spec.worker is not None:
            argv = spec.worker
        elif self.session.executor.worker == "sh" and not spec.inner_loop and agent:
            argv = spawn.lean_worker_argv(agent)
            env.update(self._lean_inputs(live, spec, now))
        else:
            argv = spawn.BUILTIN_WORKER
        try:
            proc = spawn.start(argv, env=env, log_path=log_path, cwd=self.cwd)
        except OSError as exc:
            self.emit(Event(EventKind.WARNING, "executor", f"cannot start {argv[0]}: {exc}"))
            self.worker_exited(live.worker_id, None, now)  # counted as a crashed attempt
            return
        self.trace("spawn", task=live.task_id, pid=proc.pid)
        live.pid = proc.pid
        live.pid_started_at = self.liveness.process_start_time(proc.pid)
        if self.monitor is not None:
            self.monitor.watch_exit(live.worker_id, proc)
        text = f"spawned {live.role} for {live.task_id}" + (
            f" (attempt {live.attempt})" if live.attempt > 1 else ""
        )
        self.emit(Event(EventKind.SPAWNED, "executor", text, live.task_id))

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
        path.write_text(prompt, encoding="utf-8")
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
                self.tasks[task.id] = task.evolve(
                    status=TaskStatus.PENDING.value,
                    metadata={
                        "updated_at": iso(now),
                        "claimed_by": None,
                        "reset_reason": "stopped",
                    },
                )
                self.dirty.add(task.id)
        self.running.clear()

    # ---------------------------------------------------------------- writes
    def flush_tasks(self) -> None:
        if self.dirty:
            self.store.write_many(self.tasks[t] for t in sorted(self.dirty))
            self.dirty.clear()

    def flush_session(self, *, status: SessionStatus | None = None, durable: bool = True) -> None:
        data = dict(self.session_file.data)
        completed = [t for t in data.get("completed_tasks") or () if isinstance(t, str)]
        done = set(completed)
        completed += sorted(
            (
                t.id
                for t in self.tasks.values()
                if t.status is TaskStatus.COMPLETED and t.id not in done
            ),
        )
        data["completed_tasks"] = completed
        live = [t for t in self.tasks.values() if t.status is not TaskStatus.DELETED]
        pipeline = dict(data.get("pipeline") or {})
        pipeline["tasks_total"] = len(live)
        pipeline["tasks_completed"] = sum(1 for t in live if t.status is TaskStatus.COMPLETED)
        data["pipeline"] = pipeline
        data["active_workers"] = [w.entry() for w in self.running.values()]
        if status is not None:
            data["status"] = status.value
        was_damaged = self.session_file.damaged
        self.session_file.write(data, durable=durable or status is not None)
        if self.session_file.damaged and self.session_file.damaged != was_damaged:
            text = f"{self.paths.team_session}: {self.session_file.damaged}"
            self.emit(Event(EventKind.STATE_CORRUPT, "executor", text))
