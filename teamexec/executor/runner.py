"""The loop around ``Engine``: one ``step`` per wake-up, waits on the monitor's queue.

``step(engine, wakes, now)`` applies one batch of wake-ups (worker exits,
role-spec edits, control requests, signals) and then one engine pass; tests
call it directly.  ``run_loop`` is the trivial ``while`` around it: it blocks
on the queue until the next event or the next deadline, so an idle executor
uses no CPU.
"""

from __future__ import annotations

import contextlib
import math
import queue
import signal
from collections.abc import Iterable
from types import FrameType
from typing import NoReturn

from teamexec.core.errors import TeamexecError, one_line, os_error_line
from teamexec.core.events import Event, EventKind
from teamexec.core.model import Control, SessionStatus, Severity
from teamexec.core.schedule import PipelineState, pipeline_state
from teamexec.executor.engine import FINAL_META_SETTLE_S, Engine, Outcome, PauseReason
from teamexec.executor.monitor import Monitor, Quiet, Wake, WakeKind
from teamexec.executor.pool import ExitReport
from teamexec.storage import safeopen
from teamexec.storage.loader import MAX_SPEC_BYTES
from teamexec.storage.messages import MessageLog
from teamexec.validation.rolespec import parse_role_spec

SESSION_REFRESH_S = 1.0


def reload_spec(engine: Engine, name: str) -> None:
    """A role-spec changed on disk: use it from the next spawn, or keep the last valid one."""
    role = next((r for r, s in engine.specs.items() if s.path.rsplit("/", 1)[-1] == name), None)
    if role is None:
        return
    spec = engine.specs[role]
    path = engine.paths.root / spec.path
    try:
        text = safeopen.read_bytes(path, limit=MAX_SPEC_BYTES, root=engine.paths.root).decode()
    except (OSError, UnicodeDecodeError) as exc:
        engine.emit(Event(EventKind.SPEC_INVALID, "executor", f"{path}: cannot read: {exc}"))
        return
    parsed, issues = parse_role_spec(
        text, path=str(path), expected_role=role, expected_prefix=spec.prefix, rel_path=spec.path
    )
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if parsed is None or errors:
        for issue in errors or issues:
            engine.emit(Event(EventKind.SPEC_INVALID, "executor", str(issue)))
        engine.emit(
            Event(EventKind.SPEC_INVALID, "executor", f"{path}: keeping the last valid version")
        )
        return
    if parsed == spec:
        return
    engine.specs[role] = parsed
    engine._snapshot(role)
    text = f"{path}: reloaded; applies from the next spawn of {role}"
    engine.emit(Event(EventKind.SPEC_RELOADED, "executor", text))


def control_due(engine: Engine, wakes: Iterable[Wake], now: float) -> bool:
    """Must this pass look in .msg/control/?  Two stats a pass saved, none missed.

    Always without a monitor (tests call ``step`` directly); with one, when it
    reported a change there, and at the slow periodic rescan that catches an
    event the kernel dropped (the disk is the truth, §8 step 4).
    """
    if engine.control_read_at is None or any(w.kind is WakeKind.CONTROL for w in wakes):
        return True
    return now - engine.control_read_at >= engine.options.rescan_s


def read_control(engine: Engine) -> None:
    """``teamexec pause|stop`` drop a file in .msg/control/; consume it."""
    directory = engine.paths.control
    for kind in (Control.STOP, Control.PAUSE):
        path = directory / kind.value
        if not path.exists():
            continue
        path.unlink(missing_ok=True)
        if kind is Control.STOP:
            engine.stop_requested = True
            engine.emit(Event(EventKind.PAUSE, "executor", "stop requested: terminating workers"))
        elif engine.pause_reason is None:
            engine.pause_reason = PauseReason.USER
            text = "pause requested: no new workers; running ones finish"
            engine.emit(Event(EventKind.PAUSE, "executor", text))


def step(engine: Engine, wakes: Iterable[Wake], now: float) -> Outcome | None:
    """Apply wake-ups and make one pass; an Outcome when the run is over."""
    wakes = list(wakes)
    exits: list[Wake] = []
    for wake in wakes:
        if wake.kind is WakeKind.EXIT:
            exits.append(wake)
        elif wake.kind is WakeKind.SPEC:
            reload_spec(engine, wake.name)
        elif wake.kind is WakeKind.SIGNAL:
            engine.interrupted = True
    if control_due(engine, wakes, now):
        read_control(engine)
        if engine.control_read_at is not None:
            engine.control_read_at = now
    engine.pool.settle_starts(now)  # pids, refused starts: before exits and messages
    # a plain agent's exit is its report: applied with the inbox, in ts order
    reports = [
        ExitReport(w.name, w.code, w.ts) for w in exits if w.ts is not None and w.code is not None
    ]
    engine.drain_inbox(now, reports)
    for wake in exits:  # after the inbox: a worker's last message precedes its exit
        engine.pool.worker_exited(wake.name, wake.code, now, wake.why)
    engine.pool.applied(r.worker_id for r in reports)  # acked by the next commit
    gone = engine.pool.check_adopted(now)
    if gone:  # a report written just before its writer exited is read before judging
        engine.drain_inbox(now)
        for worker_id in gone:
            engine.pool.worker_exited(worker_id, None, now)
    engine.recheck_orphans(now)
    engine.pool.enforce_deadlines(now)
    if engine.interrupted or engine.stop_requested:
        return _stop(engine, now)
    if engine.pause_reason is None:
        engine.pool.spawn_ready(now)
    engine.commit()  # the pass's one fdatasync when spawn_ready made none; inbox files go
    running = engine.pool.running_list()
    state, stuck = pipeline_state(
        engine.tasks,
        roles=engine.specs.keys(),
        running=running,
        now=now,
        runnable_roles=engine.runnable_roles(),
    )
    if engine.pause_reason is not None and not engine.running:
        engine.flush_session(status=SessionStatus.PAUSED)
        engine.checkpoint()
        return Outcome(state, paused_by=engine.pause_reason)
    if state is PipelineState.RUNNING:
        # counters, completed_tasks and pids: at most once a second, not fsynced.
        # The task files are the truth and resume recomputes all of these.
        # The task views owed (journaled, not written) go with them.
        if now - engine.session_written_at >= SESSION_REFRESH_S:
            engine.flush_views()
            engine.flush_session(durable=False)
        return None
    # the run's last pass, complete or not: no later one to retry meta.json on
    engine.flush_meta(engine.host.time(), settle_s=FINAL_META_SETTLE_S)
    engine.flush_session(status=None if state is PipelineState.COMPLETE else SessionStatus.PAUSED)
    engine.checkpoint()  # before the report, the completion action and the exit
    return Outcome(state, tuple(stuck))


def _stop(engine: Engine, now: float) -> Outcome:
    detached = engine.interrupted and engine.options.detach
    engine.pool.settle_starts(now, wait=True)  # every pid known: signalled, or recorded
    if not detached:
        engine.pool.terminate_all(now)
    engine.flush_tasks()
    engine.flush_session(status=SessionStatus.PAUSED)
    engine.checkpoint()
    return Outcome(
        PipelineState.RUNNING,
        interrupted=engine.interrupted,
        paused_by=None if engine.interrupted else PauseReason.USER,
        detached=detached,
    )


def run_loop(engine: Engine) -> Outcome:
    """Run until the pipeline ends, is stopped, or a signal arrives."""
    monitor = Monitor(poll=engine.options.poll, probe=engine.paths.root)
    engine.pool.monitor = monitor
    try:
        _watch(engine, monitor)
    except OSError:
        engine.pool.monitor = None
        raise  # nothing started yet: the CLI prints one line naming the path

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        monitor.wakes.put(Wake(WakeKind.SIGNAL, code=signum))

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    monitor.start()
    engine.control_read_at = -math.inf  # watched from here on: read at wakes and rescans
    try:
        wakes: list[Wake] = []
        while True:
            try:
                outcome = step(engine, wakes, engine.host.time())
            except (OSError, TeamexecError) as exc:
                _abort(engine, exc)
            if outcome is not None:
                return outcome
            now = engine.host.time()
            wakes = _wait(monitor, next_wake_at(engine, now), now)
    except BaseException:
        # a bug: still never leave workers behind that nobody watches
        with contextlib.suppress(Exception):
            engine.pool.terminate_all(engine.host.time())
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.pool.close()  # a supervisor left with agents (--detach) reports to the inbox
        monitor.stop()
        engine.pool.monitor = None
        engine.messages.close()
        engine.trace.close()
        engine.spares.close()  # the views are written: the session keeps no spare


class RunAborted(TeamexecError):
    """The loop met an error it cannot go on past (disk full, read-only, layout broken)."""


def _abort(engine: Engine, exc: OSError | TeamexecError) -> NoReturn:
    """Stop the workers, keep what can be kept, leave the session resumable; one line.

    Workers are terminated and their tasks reset (as for SIGTERM); the writes
    that record it may fail too (the disk is still full): then resume finds the
    claims dead and resets them itself.
    """
    line = os_error_line(exc) if isinstance(exc, OSError) else one_line(str(exc))
    engine.emit(Event(EventKind.WARNING, "executor", f"{line}: stopping the workers"))
    engine.pool.terminate_all(engine.host.time())
    with contextlib.suppress(OSError, TeamexecError):
        engine.flush_tasks()
    with contextlib.suppress(OSError, TeamexecError):
        engine.flush_session(status=SessionStatus.PAUSED)
    with contextlib.suppress(OSError, TeamexecError):
        engine.checkpoint()
    raise RunAborted(
        f"{line}; workers stopped, the session can be resumed once this is fixed: "
        f"teamexec resume {engine.paths.root}"
    ) from exc


def _watch(engine: Engine, monitor: Monitor) -> None:
    monitor.watch(engine.paths.inbox, WakeKind.INBOX)
    monitor.watch(engine.paths.role_specs, WakeKind.SPEC)
    monitor.watch(engine.paths.control, WakeKind.CONTROL)
    # the shared files others write: team_msg's lines, Claude agents' TaskUpdates
    monitor.watch(
        engine.paths.msg, WakeKind.LOG, quiet=own_lines(engine.messages), writes_at_close=True
    )
    if engine.shared.claude_list is not None:
        monitor.watch(engine.shared.claude_list.directory, WakeKind.CLAUDE)


def own_lines(log: MessageLog) -> Quiet:
    """The ``.msg/`` events that need no wake: the log holds nothing the loop has not read.

    The executor's own appends (through a descriptor it keeps open) raise no
    event; this silences the rest of its own doing, such as the close of that
    descriptor, while a line from anyone else always wakes the loop.
    """
    name = log.path.name
    return lambda changed: changed == name and log.consumed()


def next_wake_at(engine: Engine, now: float) -> float:
    """When the loop must wake with no event: the pool's timers, and the flush of
    owed task views (at most a second after their states were journaled)."""
    until = engine.pool.deadline(now)
    if engine.store.owed:
        until = min(until, engine.session_written_at + SESSION_REFRESH_S)
    return until


def _wait(monitor: Monitor, until: float, now: float) -> list[Wake]:
    """Block until a wake-up or the deadline, then take everything queued."""
    wakes: list[Wake] = []
    timeout = max(0.0, until - now)
    try:
        wakes.append(monitor.wakes.get(timeout=timeout))
    except queue.Empty:
        return wakes
    while True:
        try:
            wakes.append(monitor.wakes.get_nowait())
        except queue.Empty:
            return wakes
