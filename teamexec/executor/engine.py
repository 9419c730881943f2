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
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from teamexec.core.agentcmd import resolve_agent, roles_without_agent
from teamexec.core.deadlines import ARTIFACT_GRACE_S, artifact_expired
from teamexec.core.errors import StateCorrupt
from teamexec.core.events import Event, EventKind
from teamexec.core.handling import Context, Verdict, log_tail_wanted, with_log_tail
from teamexec.core.model import (
    Message,
    RoleSpec,
    Schedule,
    Session,
    SessionStatus,
    Task,
    TaskStatus,
    iso,
    parse_iso,
)
from teamexec.core.priority import CriticalPath, report_role_means
from teamexec.core.reconcile import (
    InboxItem,
    Reconciliation,
    WorkerFact,
    World,
    claimer_of,
    claimer_record,
    completed_union,
    in_order,
    judge,
    judge_unrecorded,
    own_dead_claim,
    pipeline_counters,
    reconcile,
)
from teamexec.core.schedule import PipelineState, Stuck
from teamexec.core.tasktable import TaskTable
from teamexec.executor.agents import AgentDesk
from teamexec.executor.host import Host, LocalHost
from teamexec.executor.options import PauseReason as PauseReason
from teamexec.executor.options import RunOptions as RunOptions  # both re-exported for the CLI
from teamexec.executor.pool import SUPERVISOR_KEY, ExitReport, LiveWorker, WorkerPool
from teamexec.executor.shared import SharedFiles
from teamexec.storage import messages as inbox
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write
from teamexec.storage.claudelist import ClaudeList, open_task_store
from teamexec.storage.journal import CHECKPOINT_BYTES, Journal, boot_id, overlay_journal
from teamexec.storage.loader import MAX_SPEC_BYTES
from teamexec.storage.paths import SessionPaths
from teamexec.storage.sessionfiles import (
    SessionFile,
    append_wisdom_issue,
    read_meta_roles,
    read_previous_report,
    snapshot_role_spec,
    write_meta,
)
from teamexec.storage.spares import SparePool
from teamexec.storage.trace import Trace
from teamexec.validation.rolespec import parse_role_spec
from teamexec.worker.crashpoints import crash_point
from teamexec.worker.supervisor import build_report

if TYPE_CHECKING:  # watchdog is imported only by the run loop, not by `check`
    pass


@dataclass(frozen=True)
class Outcome:
    state: PipelineState
    stuck: tuple[Stuck, ...] = ()
    interrupted: bool = False
    paused_by: PauseReason | None = None
    detached: bool = False


FINAL_META_SETTLE_S = 2.0  # the run's last meta.json write waits out team_msg this long


class Engine:
    def __init__(
        self,
        *,
        paths: SessionPaths,
        session: Session,
        options: RunOptions,
        emit: Callable[[Event], None],
        host: Host | None = None,
    ) -> None:
        self.paths = paths
        self.session = session
        self.options = options
        self.emit = emit
        self.host: Host = host or LocalHost()  # every clock and OS effect goes through it
        self.store = open_task_store(paths.tasks, subjects=set(session.graph))
        # the durable record: task files become views of it (storage/journal.py)
        self.journal = Journal(paths.journal, root=paths.root, boot=boot_id(options.env))
        self.store.journal = self.journal
        self.spares = SparePool(paths.spares)  # nothing on disk until a view needs one
        self.removable: list[str] = []  # inbox files whose effect awaits the pass's commit
        self.messages = inbox.MessageLog(paths.messages_log, root=paths.root)
        self.session_file = SessionFile(paths.team_session, session.data)
        self.specs: dict[str, RoleSpec] = dict(session.specs)
        self.spec_paths: dict[str, Path] = {}
        self.tasks: dict[str, Task] = TaskTable()  # keeps which tasks could start
        self.dirty: set[str] = set()
        self.role_state: dict[str, Any] = read_meta_roles(paths)
        self.cwd = self._agent_cwd()
        self.pause_reason: PauseReason | None = None
        self.stop_requested = False
        self.interrupted = False
        self.deferred_since: dict[str, float] = {}
        self.meta_dirty = False
        self.trace = Trace(options.env.get("TEAMEXEC_TRACE"))
        self.session_written_at = 0.0
        self.hostname = self.host.hostname
        self.pid = self.host.pid
        self.pid_started_at = self.host.process_start_time(self.pid)
        self.recheck_at: float | None = None  # when a young orphan must be judged again
        # when .msg/control/ was last read; None: no monitor watches it, read every pass
        self.control_read_at: float | None = None
        # where a reported artifact may lie (§1: the session, the agents' directory)
        self.artifact_roots = (
            os.path.abspath(self.paths.root.resolve()),
            os.path.abspath(self.cwd),
        )
        self.priorities: CriticalPath | None = None  # None: fifo, task-id order
        if session.executor.schedule is Schedule.CRITICAL_PATH:
            history = report_role_means(read_previous_report(paths))
            self.priorities = CriticalPath(history)
        self.pool = WorkerPool(
            self, self.host, max_workers=options.max_workers or session.executor.max_workers
        )
        self.shared = SharedFiles(self)  # the Claude task list and the message log
        self.agents = AgentDesk(
            paths=paths,
            session=session,
            specs=self.specs,
            agent_for=self.agent_for,
            emit=emit,
            now=self.host.time(),
        )

    # the pool's state, as the rest of the engine (and SharedFiles) reads it
    @property
    def running(self) -> dict[str, LiveWorker]:
        return self.pool.running

    @property
    def task_seconds(self) -> dict[str, float]:
        return self.pool.task_seconds

    # ----------------------------------------------------------------- setup
    def _agent_cwd(self) -> Path:
        cwd = self.session.executor.cwd
        if cwd is None:
            return self.paths.project_root or self.options.start_dir
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
        missing = roles_without_agent(
            self.specs,
            cli_agent=self.options.cli_agent,
            env=self.options.env,
            executor=self.session.executor,
        )
        return set(self.specs).difference(missing)

    def worker_facts(
        self, tasks: Mapping[str, Task] | None = None, *, recorded: bool = True
    ) -> dict[str, WorkerFact]:
        """Liveness of recorded workers, and of unrecorded ones that claimed a task."""
        facts: dict[str, WorkerFact] = {}
        for task in (tasks or {}).values():
            wid = task.claimed_by
            if task.status is TaskStatus.IN_PROGRESS and wid:
                found = self.host.find_worker(wid)
                facts[wid] = WorkerFact(found is not None, *(found or (None, None)))
        for entry in self.session.active_workers if recorded else ():
            wid = entry.get("worker_id")
            if not isinstance(wid, str):
                continue
            pid, started = entry.get("pid"), entry.get("pid_started_at")
            if isinstance(pid, int):
                # the worker id too: a pid written by someone else never adopts a stranger
                alive = self.host.pid_matches(pid, started if started is not None else None, wid)
                facts[wid] = WorkerFact(alive, pid, started)
                continue
            found = self.host.find_worker(wid)  # killed between record and spawn update
            facts[wid] = WorkerFact(found is not None, *(found or (None, None)))
        for task in (tasks or {}).values():
            wid = task.claimed_by
            fact = facts.get(wid or "")
            if fact is None or fact.alive or task.status is not TaskStatus.IN_PROGRESS:
                continue
            anchor = self.supervisor_of(task)
            if anchor is not None and self.host.pid_matches(*anchor):
                # its agent is gone, its supervisor is not: the report is on its way
                facts[wid or ""] = WorkerFact(True, fact.pid, fact.pid_started_at)
        return facts

    def supervisor_of(self, task: Task) -> tuple[int, float | None] | None:
        """The supervisor a claim names (pid, start time) — the agent's report comes from it.

        Never our own current one: that one tells us of its agents itself.
        """
        claimer = claimer_of(task)
        record = claimer.get(SUPERVISOR_KEY) if claimer is not None else None
        if not isinstance(record, Mapping):
            return None
        pid, started = record.get("pid"), record.get("pid_started_at")
        if not isinstance(pid, int) or isinstance(pid, bool):
            return None
        if not isinstance(started, int | float) or isinstance(started, bool):
            return None
        own = self.running.get(task.claimed_by or "")
        if own is not None and not own.adopted:
            return None
        return pid, float(started)

    def claimer(self, worker_id: str) -> dict[str, Any]:
        """What this executor records in a claim (PROTOCOL §8: own claims need no timer)."""
        return claimer_record(
            worker_id, host=self.hostname, pid=self.pid, pid_started_at=self.pid_started_at
        )

    def claimers_alive(self, tasks: Mapping[str, Task]) -> dict[str, bool]:
        """For each in-progress task claimed on this host: does its claiming process still run?"""
        alive: dict[str, bool] = {}
        for task in tasks.values():
            claimer = claimer_of(task) if task.status is TaskStatus.IN_PROGRESS else None
            if claimer is None or claimer.get("host") != self.hostname:
                continue
            pid, started = claimer.get("pid"), claimer.get("pid_started_at")
            alive[task.id] = isinstance(pid, int) and self.host.pid_matches(
                pid, started if isinstance(started, int | float) else None
            )
        return alive

    def recheck_orphans(self, now: float) -> None:
        """Judge again the in-progress tasks no worker of ours holds (young orphans, §8).

        reconcile left them alone because they were too young; the loop wakes at
        ``recheck_at`` and calls this, so a resume never waits forever on them.
        """
        if self.recheck_at is None or now < self.recheck_at:
            return
        self.recheck_at = None
        held = {w.task_id for w in self.running.values()}
        mine = set(self.running)
        candidates: dict[str, Task] = {}
        for task_id, task in list(self.tasks.items()):
            if task.status is not TaskStatus.IN_PROGRESS or task_id in held:
                continue
            if task.claimed_by in mine or task_id in self.dirty:
                continue
            try:
                fresh = self.store.read(task_id)
            except StateCorrupt as exc:
                self._corrupt_task(task_id, exc)
                continue
            if fresh is None:
                continue
            self.tasks[task_id] = fresh
            if fresh.status is TaskStatus.IN_PROGRESS:
                candidates[task_id] = fresh
        if not candidates:
            return
        world = World(
            session=self.session,
            tasks=candidates,
            workers=self.worker_facts(candidates, recorded=False),
            now=now,
            host=self.hostname,
            claimers_alive=self.claimers_alive(candidates),
        )
        for task_id, task in sorted(candidates.items()):
            mtime = None
            with contextlib.suppress(OSError):
                mtime = self.paths.task_file(task_id).stat().st_mtime
            verdict = judge_unrecorded(
                task,
                now=now,
                orphan_after=self.session.executor.orphan_after_s,
                mtime=mtime,
                own_dead=own_dead_claim(task, world),
            )
            if verdict.task is not None:
                self.tasks[task_id] = verdict.task
                self.dirty.add(task_id)
            if verdict.event is not None:
                self.emit(verdict.event)
            if verdict.due is not None:
                self.recheck_at = (
                    verdict.due if self.recheck_at is None else min(self.recheck_at, verdict.due)
                )

    def plan(self, now: float) -> Reconciliation:
        tasks, problems = self.store.read_all()
        tasks, problems = overlay_journal(self.paths, tasks, problems, boot=self.journal.boot)
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
            host=self.hostname,
            claimers_alive=self.claimers_alive(tasks),
            completed_elsewhere=self.shared.external_completions(tasks),
            artifact_roots=self.artifact_roots,
        )
        return reconcile(world)

    def apply_reconciliation(self, rec: Reconciliation, now: float) -> None:
        """Write reconcile's decisions: tasks, messages, session; adopt live workers."""
        for path in (self.paths.inbox, self.paths.msg_tmp, self.paths.logs, self.paths.artifacts):
            path.mkdir(parents=True, exist_ok=True)
        self.tasks = TaskTable(rec.tasks)
        if not isinstance(self.store, ClaudeList):  # Claude agents read and claim that list
            # most views lag their journaled states from here on, reconcile's
            # included, and are written on a thread of their own (storage/viewwriter.py)
            self.store.lag = self._view_may_lag
            self.store.spares = self.spares  # views rewritten without new inodes
            self.store.background_views()
        self.store.write_many(rec.tasks[t] for t in rec.changed)
        self.shared.sync_mirror(self.tasks.values())
        self._settle_messages([(d.item.name, d.item.message, d.verdict) for d in rec.messages], now)
        for event in rec.events:
            self.emit(event)
        for entry in rec.session_data.get("active_workers") or ():
            self._adopt(entry, now)
        if rec.pause:
            self.pause_reason = PauseReason.CONSENSUS
        self.recheck_at = rec.recheck_at
        self.agents.count_spent(self.tasks.values())
        data = dict(rec.session_data)
        data["status"] = SessionStatus.ACTIVE.value
        self.session_file.write(data)
        for role in self.specs:
            self._snapshot(role)
        self.commit()  # reconcile's task writes and its inbox removals: one fdatasync
        self.store.flush_views(wait=False)  # its views, while the first workers start

    def _view_may_lag(self, task_id: str) -> bool:
        """Whether this task's view may be written up to a second after its state
        is journaled (issue 15): not when an inner-loop worker may claim it.

        An inner-loop worker (``claim_next``, another process) claims the ready
        tasks of its role from the files, so their views must show the
        executor's own claims at once.  Every other task is claimed by the
        executor alone; its view batches the states of the last second into one
        write (one file creation where the write-through view made three).
        """
        task = self.tasks.get(task_id)
        if task is None or task.owner is None:
            return False
        spec = self.specs.get(task.owner)
        return spec is not None and not spec.inner_loop

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
            anchor=self.supervisor_of(task) if task is not None else None,
        )

    def _snapshot(self, role: str) -> None:
        spec = self.specs[role]
        source = self.paths.root / spec.path
        try:
            text = safeopen.read_bytes(source, limit=MAX_SPEC_BYTES, root=self.paths.root).decode()
        except (OSError, UnicodeDecodeError):
            return
        parsed, _issues = parse_role_spec(
            text, path=str(source), expected_role=role, expected_prefix=spec.prefix
        )
        if parsed is not None:
            self.spec_paths[role] = snapshot_role_spec(self.paths, role, text)

    # -------------------------------------------------------------- messages
    def _settle_messages(
        self,
        settled: list[tuple[str, Any, Verdict]],
        now: float,
        reported: frozenset[str] = frozenset(),
    ) -> None:
        """After the effects are written: log accepted messages; the pass's commit removes them.

        messages.jsonl is not fsynced: the messages' effects are in the journal,
        and an inbox file leaves only once they are committed (``commit``).
        ``reported``: the names of exit reports applied from memory (no inbox
        file); the commit acks them to the supervisor instead.
        """
        done: list[str] = []
        for name, message, verdict in settled:
            if verdict.deferred:
                first = self.deferred_since.setdefault(name, now)
                if not artifact_expired(first, now):
                    continue
                reason = f"{verdict.reason} (gave up after {ARTIFACT_GRACE_S:g} s)"
                verdict = Verdict(accepted=False, reason=reason)
            self.deferred_since.pop(name, None)
            if not verdict.accepted:
                if name in reported:  # kept like a rejected inbox file, reason beside it
                    safeopen.check_dirs(self.paths.rejected / name, self.paths.root)
                    self.paths.rejected.mkdir(parents=True, exist_ok=True)
                    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
                    atomic_write(self.paths.rejected / name, data)
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
                self.pause_reason = PauseReason.CONSENSUS
            if isinstance(message, dict):
                self.messages.append(message, extra={"received_at": iso(now)}, sync=False)
            done.append(name)
        crash_point("message")
        # only once committed: a crash before re-applies, to no effect
        self.removable.extend(name for name in done if name not in reported)
        self.flush_meta(now)

    def flush_meta(self, now: float, *, settle_s: float = 0.0) -> None:
        """teamexec's view into meta.json; stays dirty while team_msg is mid-write."""
        if self.meta_dirty:
            self.meta_dirty = not write_meta(
                self.paths,
                self.session.session_id,
                self.role_state,
                now,
                settle_s=settle_s,
            )

    def drain_inbox(self, now: float, exits: Sequence[ExitReport] = ()) -> None:
        """Apply the inbox's messages, and the exit reports of plain agents, in ts order.

        An exit report is the message lean_worker.sh would have written (same id,
        type and data), applied from memory and logged like an inbox message;
        the caller acks it to the supervisor once its effect is committed.
        """
        files = inbox.read_inbox(self.paths)
        memory = self._exit_items(exits)
        items = [*files, *memory]
        if items:
            crash_point("callback")
        # after the listing: what a worker logged or set in the Claude list before it
        # reported or exited is applied before its report and its exit (shared.py)
        self.shared.follow_signals(now)
        ctx = self.context(now)  # its tasks are refreshed and updated in place as messages apply
        settled: list[tuple[str, Any, Verdict]] = []
        for listed in in_order(items):
            if listed.message is not None:
                self.trace("inbox", name=listed.name, ctime=listed.ctime)
                self._refresh_for(listed.message)
            item = self._with_log_tail(listed)
            verdict = judge(item, ctx)
            if item.message is None:
                settled.append((item.name, None, verdict))
                continue
            self.note_worker(item.message, verdict, now)
            for task_id, task in verdict.updates.items():
                self.tasks[task_id] = task
                self.dirty.add(task_id)
            for event in verdict.events:
                self.emit(event)
            settled.append((item.name, item.message, verdict))
        if settled:
            self.flush_tasks()  # effects on disk before any message leaves the inbox
            crash_point("completion")
            self._settle_messages(settled, now, frozenset(item.name for item in memory))
        elif self.meta_dirty:
            self._settle_messages([], now)

    def _exit_items(self, exits: Sequence[ExitReport]) -> list[InboxItem]:
        """The exit reports of our running agents as inbox items (not for killed ones).

        An agent this executor killed (timeout, stall) ends without a report, as
        the lean worker does under its group's SIGTERM: the attempt fails with
        the kill's reason in ``worker_exited``.
        """
        items = []
        for report in exits:
            live = self.running.get(report.worker_id)
            if live is None or live.kill_reason is not None:
                continue
            message = build_report(
                live.worker_id,
                {"role": live.role, "task_id": live.task_id, "attempt": live.attempt},
                report.code,
                report.ts,
            )
            # built to the message schema (worker/supervisor.py's build_report)
            parsed = cast(Message, message)
            items.append(InboxItem(f"{message['id']}.json", message=parsed, ctime=report.ts))
        return items

    def context(self, now: float) -> Context:
        """What a message is judged against, the attempt's agent output included (§10)."""
        return Context(
            session=self.session,
            specs=self.specs,
            tasks=self.tasks,
            now=now,
            backoff_scale=self.options.backoff_scale,
            artifact_exists=self._artifact_exists,
            artifact_roots=self.artifact_roots,
            facts=self.agents.facts,
        )

    def _with_log_tail(self, item: InboxItem) -> InboxItem:
        """An error report without the log's last lines (the lean worker's) gets them here.

        A new message, not the parsed one changed: core/handling.log_tail_wanted decides.
        """
        if item.message is None:
            return item
        wanted = log_tail_wanted(item.message, self.tasks)
        if wanted is None:
            return item
        return replace(item, message=with_log_tail(item.message, self.pool.log_tail(*wanted)))

    def _artifact_exists(self, artifact: str) -> bool:
        """Absolute, or relative to the session or to the agents' working directory.

        CCW's workers name artifacts from the project root
        (``.workflow/.team/<id>/artifacts/x.md``), teamexec's from the session.
        """
        path = Path(artifact)
        if path.is_absolute():
            return path.exists()
        return (self.paths.root / path).exists() or (self.cwd / path).exists()

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
        if task is not None and task is not self.tasks.get(task_id):  # unchanged: no re-index
            self.tasks[task_id] = task

    def _corrupt_task(self, task_id: str, exc: StateCorrupt) -> None:
        """A task file damaged by hand mid-run: say so, and write the last good state back."""
        if task_id not in self.tasks:
            return
        text = f"{exc.path}: {exc.reason}; restoring the last good state of {task_id}"
        self.emit(Event(EventKind.STATE_CORRUPT, "executor", text, task_id))
        self.dirty.add(task_id)

    def note_worker(self, message: Any, verdict: Verdict, now: float) -> None:
        """Heartbeats, and an inner-loop worker moving on to its next task."""
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict):
            return
        about = self.tasks.get(str(data.get("task_id")))
        started = parse_iso(about.metadata.get("started_at")) if about is not None else None
        owner = about.owner if about is not None else None
        self.agents.attempt_ended(verdict.run, now=now, started_at=started, role=owner)
        live = self.running.get(str(data.get("worker_id", "")))
        if live is None:
            live = next(
                (w for w in self.running.values() if w.task_id == data.get("task_id")), None
            )
        if live is None:
            return
        live.last_beat = now
        if message.get("type") == "progress":
            self.agents.heard_from(live.worker_id, live.role, now)
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
        self.shared.sync_mirror([task])  # the inner loop's own claim, shown in the Claude list too
        facts = {"role": live.role, "attempt": live.attempt}  # for the live view
        text = f"took {task.id} (inner loop)"
        self.emit(Event(EventKind.SPAWNED, live.role, text, task.id, facts))

    # ---------------------------------------------------------------- writes
    def commit(self, *, delegate: bool = False) -> int | None:
        """Make every task state written so far durable, then let go of what depended on it.

        The group commit (issue 15): the dirty tasks are written as views, their
        queued journal lines appended in one write and fdatasynced once; then
        the inbox files whose effects those states hold are removed.  The pass
        calls it once, after its claims and before it starts any process; the
        pool calls it before a process start, and anything that acknowledges an
        outcome to someone else (a worker's report, an exit) calls it first.

        ``delegate``: what waits on this commit is only the starts the run's
        supervisor makes, and it fdatasyncs the journal before each spawn; the
        lines are written, not synced here, and the journal's descriptor is
        returned for the starts to carry.  The exits applied are then
        acknowledged by those starts (the pool's), not here.  Should inbox
        files be waiting for these states, the commit syncs itself as usual.
        """
        self.flush_tasks()
        delegated: int | None = None
        if self.journal.pending:
            self.journal.write()
            crash_point("commit")
            if delegate and not self.removable:
                delegated = self.journal.delegate()
            else:
                self.journal.sync()
            crash_point("committed")
        elif self.removable:
            self.journal.sync()  # lines delegated earlier: durable before their inbox files go
        self._remove_settled()
        if not delegate:
            self.pool.acknowledge()  # the supervisor forgets the exits whose effects are committed
        if self.journal.size >= CHECKPOINT_BYTES:  # a long run: keep the journal bounded
            self.checkpoint()
            delegated = None
        return delegated

    def sync_journal(self) -> None:
        self.journal.sync()

    def checkpoint(self) -> None:
        """Views durable (syncfs), journal emptied: at the end of a run, a pause, a stop.

        The syncfs covers every view written so far, so the lines still queued
        need no fdatasync of their own; the settled inbox files go after it.
        """
        self.flush_tasks()
        self.store.flush_views()  # exact views before the journal that covers them goes
        self.journal.checkpoint((self.paths.tasks, self.paths.root))
        self._remove_settled()
        self.pool.acknowledge()

    def _remove_settled(self) -> None:
        for name in self.removable:
            inbox.remove(self.paths, name)
        self.removable = []

    def flush_views(self) -> None:
        """Hand the views owed since the last flush (their states are committed)
        to the store's writer thread; the checkpoint waits for them."""
        self.journal.commit()
        self.store.flush_views(wait=False)

    def flush_tasks(self) -> None:
        if self.dirty:
            written = [self.tasks[t] for t in sorted(self.dirty)]
            self.store.write_many(written)
            self.shared.sync_mirror(written)
            self.dirty.clear()

    def flush_session(self, *, status: SessionStatus | None = None, durable: bool = True) -> None:
        data = dict(self.session_file.data)
        data["completed_tasks"] = completed_union(data.get("completed_tasks") or (), self.tasks)
        pipeline_counters(data, self.tasks, [w.entry() for w in self.running.values()])
        if self.agents.gates or "rate_limits" in data:  # §10: check and a resume see it
            data["rate_limits"] = self.agents.rate_limits_json()
            if not data["rate_limits"]:
                del data["rate_limits"]
        if status is not None:
            data["status"] = status.value
            # the run's last pass: no later one to retry meta.json on
            self.flush_meta(self.host.time(), settle_s=FINAL_META_SETTLE_S)
        self._write_session(data, durable=durable or status is not None)
        crash_point("counters")

    def _write_session(self, data: dict[str, Any], *, durable: bool) -> None:
        was_damaged = self.session_file.damaged
        self.session_file.write(data, durable=durable)
        self.session_written_at = self.host.time()
        if self.session_file.damaged and self.session_file.damaged != was_damaged:
            text = f"{self.paths.team_session}: {self.session_file.damaged}"
            self.emit(Event(EventKind.STATE_CORRUPT, "executor", text))
