"""What an accepted message does to the tasks (PROTOCOL §6): a pure function.

``apply_message`` turns one inbox message plus the current tasks into a
``Verdict``: accepted or rejected (with the reason), the tasks it changes,
the events to print, the role state for ``.msg/meta.json``.  Effects are
*set* operations keyed by attempt, so applying a message twice is applying
it once — which is what makes "crash between log append and inbox removal"
harmless.

The executor (executor/engine.py) and reconciliation (reconcile.py) both call
it; the worker pool (executor/pool.py) calls ``fail_attempt`` for crashes,
timeouts and stalls.  Every status change goes through transitions.move.
"""

from __future__ import annotations

import os.path
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, cast

from teamexec.core import attempt, attempts
from teamexec.core.agentout import AgentRun
from teamexec.core.attempt import AttemptFacts
from teamexec.core.events import Event, EventKind
from teamexec.core.failures import FailureKind, backoff_s, classify
from teamexec.core.model import Message, MessageData, RoleSpec, Session, Task, TaskStatus, iso
from teamexec.core.tasktable import deps_done
from teamexec.core.transitions import Reason, move

SUCCESS = "task_complete"
ERROR = "error"


class ConsensusSeverity(StrEnum):
    """``consensus_blocked`` severities (PROTOCOL §6): how far the team is from agreeing."""

    HIGH = "HIGH"  # a revision task, then a pause for the user if it happens again
    MEDIUM = "MEDIUM"  # a note in wisdom/issues.md
    LOW = "LOW"  # printed only


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str = ""  # why rejected, or why deferred
    updates: Mapping[str, Task] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    role_state: Mapping[str, Any] | None = None  # patch for meta.json's entry of the sender
    pause: bool = False
    wisdom_issue: str | None = None  # a paragraph for wisdom/issues.md
    deferred: bool = False  # leave in the inbox and look again later
    run: AgentRun | None = None  # the ended attempt's agent output (rate limits, spending)


@dataclass(frozen=True)
class Context:
    """Everything a message is judged against."""

    session: Session
    specs: Mapping[str, RoleSpec]
    tasks: Mapping[str, Task]
    now: float
    backoff_scale: float = 1.0
    artifact_exists: Callable[[str], bool] = lambda _path: True
    # what the attempt's log and deliverables say (attempt.py); None where nobody looked
    facts: Callable[[Task, Mapping[str, Any]], AttemptFacts | None] = lambda _task, _data: None
    # absolute, normalised directories a reported artifact may lie in (the session
    # first, then the agents' working directory, PROTOCOL §1); () checks nothing
    artifact_roots: tuple[str, ...] = ()


def artifact_outside(artifact: str, roots: tuple[str, ...]) -> bool:
    """Does ``artifact`` (absolute, or relative to a root) lie outside every root?

    String operations only (normpath folds ``..``): symlinks inside the session
    are the layout check's business.
    """
    if not roots:
        return False
    if os.path.isabs(artifact):
        candidates = [os.path.normpath(artifact)]
    else:
        candidates = [os.path.normpath(os.path.join(root, artifact)) for root in roots]
    return not any(
        path == root or path.startswith(root.rstrip("/") + "/")
        for path in candidates
        for root in roots
    )


def reject(reason: str) -> Verdict:
    return Verdict(accepted=False, reason=reason)


def screen(message: Message, ctx: Context) -> str | None:
    """The rejection reason for a message, or None when it may be applied.

    The message's shape was checked against its schema where it was read
    (storage/messages.py), so this judges only what needs the session.
    """
    sender = message["from"]
    if sender not in ctx.session.roles:
        return f"unknown role {sender!r}"
    task_id = message["data"]["task_id"]
    task = ctx.tasks.get(task_id)
    if task is None:
        return f"unknown task {task_id!r}"
    if task.owner != sender:
        return f"task {task_id} is owned by {task.owner!r}, not {sender!r}"
    return None


def message_kind(message: Message, spec: RoleSpec | None) -> str:
    """Map a role's own success/error type names onto the generic ones."""
    kind = str(message["type"])
    if spec is not None:
        if kind == spec.success_type:
            return SUCCESS
        if kind == spec.error_type:
            return ERROR
    if kind.endswith("_complete"):  # §6: any *_complete from the task (impl_complete, ...)
        return SUCCESS
    return kind


def as_owner(message: Message, ctx: Context) -> Message:
    """A message ``from`` its task id (CCW's team-worker writes ``from: "<task_id>"``, §6)
    speaks as the task's owner role."""
    sender, task_id = message["from"], message["data"]["task_id"]
    task = ctx.tasks.get(task_id)
    if sender == task_id and sender not in ctx.session.roles and task and task.owner:
        return cast(Message, {**message, "from": task.owner})
    return message


def apply_message(message: Message, ctx: Context) -> Verdict:
    message = as_owner(message, ctx)
    reason = screen(message, ctx)
    if reason is not None:
        return reject(reason)
    sender = message["from"]
    data = message["data"]
    task = ctx.tasks[data["task_id"]]
    spec = ctx.specs.get(sender)
    kind = message_kind(message, spec)
    handler = _HANDLERS.get(kind, _other)
    return handler(message, task, spec, ctx)


def log_tail_wanted(message: Message, tasks: Mapping[str, Task]) -> tuple[str, int] | None:
    """Which log's last lines a report lacks: ``(task_id, attempt)``, or None.

    A failed exit reported without ``log_tail`` (the lean worker sends none)
    needs it: failures.classify reads the tail to tell a transient failure
    from a permanent one.  Progress reports and clean exits need none.
    """
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict) or "log_tail" in data or message.get("type") == "progress":
        return None
    if "exit_code" not in data or data.get("exit_code") == 0:
        return None
    task = tasks.get(str(data.get("task_id")))
    number = data.get("attempt")
    if task is None or not isinstance(number, int):
        return None
    return task.id, number


def with_log_tail(message: Message, tail: str) -> Message:
    """A copy of the message whose ``data`` carries the log's last lines."""
    data: MessageData = {**message["data"], "log_tail": tail}
    return cast(Message, {**message, "data": data})


def _attempt_of(data: MessageData) -> int | None:
    value = data.get("attempt")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def complete_task(task: Task, *, artifact: str | None, now: float) -> Task:
    meta: dict[str, Any] = {"completed_at": iso(now), "retry_at": None}
    if artifact:
        meta["artifact"] = artifact
    log = attempts.closed(
        task.metadata, attempt=task.attempts, outcome=attempts.COMPLETED, ended_at=iso(now)
    )
    if log is not None:
        meta[attempts.KEY] = log
    return move(task, TaskStatus.COMPLETED, Reason.REPORTED_DONE, now=now, **meta)


def _done(task: Task) -> bool:
    return task.status is TaskStatus.COMPLETED


def _elapsed(reported: Any, done: Task) -> str:
    """`` (3.2 s)``: the agent's own figure, else claim to completion as recorded."""
    if isinstance(reported, int | float) and not isinstance(reported, bool):
        return f" ({reported:.1f} s)"
    seconds = done.recorded_duration()
    return f" ({seconds:.1f} s)" if seconds is not None else ""


def _complete(message: Any, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    sender = message["from"]
    data = message["data"]
    if task.status is TaskStatus.COMPLETED:
        # seen before: completion is idempotent; the agent's figures may come later
        # (a team_msg completion precedes the worker's own report at exit)
        facts = ctx.facts(task, data)
        if facts is None or facts.run is None or not facts.run.found:
            return Verdict(accepted=True)
        recorded = attempt.record(task, replace(facts, evidence=None), now=ctx.now)
        changed = recorded.data != task.data
        return Verdict(accepted=True, updates={task.id: recorded} if changed else {}, run=None)
    if task.status is TaskStatus.DELETED:
        return Verdict(accepted=True)  # the coordinator removed it: a late report changes nothing
    number, reset_after = _attempt_of(data), task.metadata.get("attempts_before_reset")
    if number is not None and isinstance(reset_after, int) and number <= reset_after:
        # `teamexec reset` is the way back (§8): a report of an attempt it put aside
        # (an inbox file left by a crash, read by the next run) never undoes it
        return reject(f"attempt {number} of {task.id} ran before the task was reset")
    if task.status is TaskStatus.PENDING and not deps_done(task, ctx.tasks):
        waiting = [d for d in task.blocked_by if d not in ctx.tasks or not _done(ctx.tasks[d])]
        return reject(
            f"task {task.id} is pending and waits for {', '.join(waiting)}: it cannot have run"
        )
    artifact = data.get("artifact")
    artifact = artifact if isinstance(artifact, str) and artifact else None
    if artifact is not None and artifact_outside(artifact, ctx.artifact_roots):
        return reject(f"artifact {artifact} lies outside the session")
    if artifact is not None and not ctx.artifact_exists(artifact):
        return Verdict(accepted=False, deferred=True, reason=f"artifact {artifact} not found yet")
    facts = ctx.facts(task, data)
    run = facts.run if facts is not None else None
    why = attempt.failure(facts) if task.status is TaskStatus.IN_PROGRESS else None
    if why is not None:
        kind, reason = why
        updated, event = fail_attempt(
            attempt.record(task, facts, now=ctx.now),
            kind=kind,
            reason=reason,
            log_tail=str(data.get("log_tail") or ""),
            spec=spec,
            now=ctx.now,
            backoff_scale=ctx.backoff_scale,
        )
        return Verdict(accepted=True, updates={task.id: updated}, events=(event,), run=run)
    done = attempt.record(complete_task(task, artifact=artifact, now=ctx.now), facts, now=ctx.now)
    elapsed = _elapsed(data.get("duration_s"), done)
    events = [Event(EventKind.COMPLETED, sender, f"{task.id} complete{elapsed}", task.id)]
    missing = done.metadata.get("evidence_missing")
    if missing:
        text = (
            f"{task.id} completed without a deliverable written during the attempt "
            f"(expected {', '.join(str(m) for m in missing)})"
        )
        events.append(Event(EventKind.EVIDENCE, "executor", text, task.id, {"missing": missing}))
    return Verdict(accepted=True, updates={task.id: done}, events=tuple(events), run=run)


def _partial(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    """``partial_completion`` (CCW's quality gate, 60-79 %): completed, marked partial."""
    verdict = _complete(message, task, spec, ctx)
    done = verdict.updates.get(task.id)
    if done is None:
        return verdict
    partial = done.evolve(metadata={"partial": True})
    text = f"{task.id} completed partially: {message.get('summary', '')}".rstrip(": ")
    event = Event(EventKind.COMPLETED, message["from"], text, task.id)
    return Verdict(accepted=True, updates={task.id: partial}, events=(event,))


def fail_attempt(
    task: Task,
    *,
    kind: FailureKind,
    reason: str,
    log_tail: str,
    spec: RoleSpec | None,
    now: float,
    backoff_scale: float = 1.0,
) -> tuple[Task, Event]:
    """Count a failed attempt: back to pending with a back-off, or ``failed``.

    A rate-limited attempt is not counted against ``max_retries`` (the limit is
    the agent kind's, PROTOCOL §10): the task goes back to pending at once and
    the rate-limit gate holds its next spawn until the reset.
    """
    attempt = task.attempts
    counted = task.attempts_since_reset  # the retry budget starts again after a reset
    max_retries = spec.max_retries if spec is not None else 2
    if kind is FailureKind.UNKNOWN and log_tail:
        kind = classify(log_tail, spec)
    last_error = {"attempt": attempt, "kind": kind.value, "reason": reason, "log_tail": log_tail}
    source = task.owner or "executor"
    history: dict[str, Any] = {}
    log = attempts.closed(
        task.metadata, attempt=attempt, outcome=kind.value, ended_at=iso(now), reason=reason
    )
    if log is not None:
        history[attempts.KEY] = log
    where = f"log {attempts.log_name(task.id, attempt)}"
    if kind is FailureKind.RATE_LIMITED:
        limited = task.metadata.get("rate_limited")
        count = (limited if isinstance(limited, int) else 0) + 1
        waiting = move(
            task,
            TaskStatus.PENDING,
            Reason.RATE_LIMITED,
            now=now,
            last_error=last_error,
            retry_at=None,
            rate_limited=count,
            **history,
        )
        text = (
            f"{task.id} attempt {attempt} {reason}: not counted; waits for the limit's reset "
            f"({where})"
        )
        return waiting, Event(EventKind.RETRY, source, text, task.id)
    limited = task.metadata.get("rate_limited")
    counted -= limited if isinstance(limited, int) else 0  # §10: a limit is no failed try
    if kind is FailureKind.PERMANENT or counted > max_retries:
        why = "permanent failure" if kind is FailureKind.PERMANENT else "retries exhausted"
        failed = move(
            task,
            TaskStatus.FAILED,
            Reason.PERMANENT if kind is FailureKind.PERMANENT else Reason.EXHAUSTED,
            now=now,
            last_error=last_error,
            retry_at=None,
            **history,
        )
        text = f"{task.id} failed after {attempt} attempt(s), {why}: {reason} ({where})"
        data = {"attempt": attempt, "reason": reason, "log": attempts.log_name(task.id, attempt)}
        return failed, Event(EventKind.FAILED, source, text, task.id, data)
    delay = backoff_s(task.id, counted, scale=backoff_scale)
    retried = move(
        task,
        TaskStatus.PENDING,
        Reason.RETRY,
        now=now,
        last_error=last_error,
        retry_at=iso(now + delay),
        **history,
    )
    text = (
        f"{task.id} attempt {attempt} failed ({kind.value}: {reason}; {where}); "
        f"retry in {delay:.1f} s"
    )
    data = {"attempt": attempt, "reason": reason, "retry_at": now + delay}
    return retried, Event(EventKind.RETRY, source, text, task.id, data)


def _error(message: Any, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    data = message["data"]
    number = _attempt_of(data)
    facts = ctx.facts(task, data)
    facts = replace(facts, evidence=None) if facts is not None else None
    if task.status is not TaskStatus.IN_PROGRESS or (
        number is not None and number != task.attempts
    ):
        # an older attempt, or applied before: its spending is still recorded
        recorded = attempt.record(task, facts, now=ctx.now)
        changed = recorded.data != task.data
        return Verdict(accepted=True, updates={task.id: recorded} if changed else {})
    tail = data.get("log_tail") or ""
    tail = tail if isinstance(tail, str) else "\n".join(str(x) for x in tail)
    code = data.get("exit_code")
    reason = message.get("summary") or (f"exit code {code}" if code is not None else "error")
    kind = FailureKind.UNKNOWN
    said = attempt.run_failure(facts.run if facts is not None else None)
    if said is not None and said[0] in (FailureKind.RATE_LIMITED, FailureKind.CONTEXT_OVERFLOW):
        kind, reason = said[0], f"{said[1]} ({reason})"
    updated, event = fail_attempt(
        attempt.record(task, facts, now=ctx.now),
        kind=kind,
        reason=str(reason),
        log_tail=f"{tail}\n{message.get('summary', '')}",
        spec=spec,
        now=ctx.now,
        backoff_scale=ctx.backoff_scale,
    )
    run = facts.run if facts is not None else None
    return Verdict(accepted=True, updates={task.id: updated}, events=(event,), run=run)


def _progress(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    data = message["data"]
    state: dict[str, Any] = {"task_id": task.id, "last_seen": iso(ctx.now)}
    for key in ("progress_pct", "phase"):
        if key in data:
            state[key] = data[key]
    if data.get("phase") == "claimed":  # an inner-loop worker's own note: the engine says it
        return Verdict(accepted=True, role_state=state)
    pct = f" {data['progress_pct']}%" if "progress_pct" in data else ""
    text = f"{task.id}{pct} {message.get('summary', '')}".rstrip()
    event = Event(EventKind.PROGRESS, message["from"], text, task.id)
    return Verdict(accepted=True, events=(event,), role_state=state)


def _state_update(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    state = {k: v for k, v in message["data"].items() if k != "task_id"}
    state.update(task_id=task.id, last_seen=iso(ctx.now))
    return Verdict(accepted=True, role_state=state)


def _blocker(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    summary = message.get("summary", "")
    state = {"task_id": task.id, "blocker": summary, "last_seen": iso(ctx.now)}
    event = Event(EventKind.BLOCKER, message["from"], f"{task.id} blocked: {summary}", task.id)
    return Verdict(accepted=True, events=(event,), role_state=state)


def _capability_gap(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    summary = message.get("summary", "")
    text = (
        f"capability gap on {task.id}: {summary} — teamexec never generates role-specs; "
        "add one by hand under role-specs/ and register it in team-session.json"
    )
    return Verdict(accepted=True, events=(Event(EventKind.CAPABILITY_GAP, "executor", text),))


def revision_id(task_id: str) -> str:
    return f"{task_id}-R1"


def _consensus(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    data = message["data"]
    # the schema allows these three, in either case
    severity = ConsensusSeverity(str(data.get("severity", "LOW")).upper())
    summary = message.get("summary", "")
    sender = message["from"]
    if severity is ConsensusSeverity.MEDIUM:
        note = f"## {iso(ctx.now)} {task.id} ({sender}): consensus blocked, MEDIUM\n\n{summary}\n"
        event = Event(EventKind.CONSENSUS, sender, f"{task.id} consensus MEDIUM: {summary}")
        return Verdict(accepted=True, events=(event,), wisdom_issue=note)
    if severity is not ConsensusSeverity.HIGH:
        text = f"{task.id} consensus {severity.value}: {summary}"
        event = Event(EventKind.CONSENSUS, sender, text)
        return Verdict(accepted=True, events=(event,))
    rev_id = revision_id(task.id)
    if task.metadata.get("revision_of") or rev_id in ctx.tasks:
        text = f"{task.id} consensus HIGH again after a revision: paused for the user ({summary})"
        return Verdict(
            accepted=True, events=(Event(EventKind.PAUSE, "executor", text),), pause=True
        )
    return _create_revision(task, rev_id, summary, ctx)


def _create_revision(task: Task, rev_id: str, summary: str, ctx: Context) -> Verdict:
    stamp = iso(ctx.now)
    revision = Task(
        {
            "id": rev_id,
            "subject": f"Revise {task.id}",
            "description": (
                f"{task.data.get('description', '')}\n\nREVISION of {task.id}: the team could "
                f"not reach consensus (HIGH). Address: {summary}"
            ),
            "activeForm": f"Revising {task.id}",
            "status": TaskStatus.PENDING.value,
            "owner": task.owner,
            "blocks": list(task.data.get("blocks") or ()),
            "blockedBy": [task.id],
            "metadata": {
                "created_at": stamp,
                "updated_at": stamp,
                "attempts": 0,
                "revision_of": task.id,
            },
        }
    )
    updates: dict[str, Task] = {rev_id: revision}
    blocks = list(task.data.get("blocks") or ())
    updates[task.id] = task.evolve(blocks=sorted({*blocks, rev_id}))
    for other in ctx.tasks.values():
        if task.id in other.blocked_by and other.id != rev_id:
            updates[other.id] = other.evolve(blockedBy=[*other.blocked_by, rev_id])
    text = f"{task.id} consensus HIGH: created {rev_id}; its dependents wait for it"
    return Verdict(
        accepted=True, updates=updates, events=(Event(EventKind.REVISION, "executor", text),)
    )


def _other(message: Message, task: Task, spec: RoleSpec | None, ctx: Context) -> Verdict:
    text = f"{message['type']}: {message.get('summary', '')}"
    return Verdict(accepted=True, events=(Event(EventKind.MESSAGE, message["from"], text),))


_HANDLERS: dict[str, Callable[[Message, Task, RoleSpec | None, Context], Verdict]] = {
    SUCCESS: _complete,
    ERROR: _error,
    "progress": _progress,
    "state_update": _state_update,
    "blocker": _blocker,
    "capability_gap": _capability_gap,
    "consensus_blocked": _consensus,
    "partial_completion": _partial,
}
