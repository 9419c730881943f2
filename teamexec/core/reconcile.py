"""Reconciliation (PROTOCOL §8 step 2) as one pure function.

``reconcile(world) -> Reconciliation``: the session, the task files, facts
about recorded workers (alive or not, told by executor/liveness.py), the messages
waiting in the inbox and the clock go in; the new task files, the new
team-session.json, what to do with each inbox file and the reasons come out.
Nothing here touches the disk: ``engine.apply_reconciliation`` writes it.

Order matters for "nothing runs twice": messages already in the inbox are
applied *before* in-progress tasks are judged, so a worker that finished and
reported while the executor was dead is seen as finished, not interrupted.
Every rule is idempotent: reconciling a reconciled session changes no byte.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from teamexec.core import dag
from teamexec.core.events import Event, EventKind
from teamexec.core.handling import Context, Verdict, apply_message, reject
from teamexec.core.model import (
    CLAIMER_KEY,
    Message,
    Session,
    Task,
    TaskStatus,
    iso,
    parse_iso,
    task_sort_key,
)
from teamexec.core.taskgen import new_task
from teamexec.core.transitions import Reason, move


@dataclass(frozen=True)
class WorkerFact:
    """What executor/liveness.py found about one ``active_workers`` entry."""

    alive: bool
    pid: int | None = None
    pid_started_at: float | None = None


@dataclass(frozen=True)
class InboxItem:
    name: str  # file name inside .msg/inbox/
    message: Message | None = None  # the parsed, schema-checked JSON
    error: str | None = None  # why it could not be read
    ctime: float | None = None  # when it was renamed into the inbox (for latency traces)


@dataclass(frozen=True)
class World:
    session: Session
    tasks: Mapping[str, Task]
    workers: Mapping[str, WorkerFact]  # keyed by worker_id
    now: float
    mtimes: Mapping[str, float] = field(default_factory=dict)  # task id -> file mtime
    inbox: Sequence[InboxItem] = ()
    seen_ids: frozenset[str] = frozenset()  # original message ids in messages.jsonl
    backoff_scale: float = 1.0
    host: str | None = None  # this machine's name: which claims are our own to judge
    claimers_alive: Mapping[str, bool] = field(default_factory=dict)  # task id -> claimer runs
    artifact_roots: tuple[str, ...] = ()  # where reported artifacts may lie (handling.Context)
    # completions recorded outside the task files and completed_tasks (a Claude task
    # list, messages.jsonl): task id -> where (§8's union of completions)
    completed_elsewhere: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageDecision:
    item: InboxItem
    verdict: Verdict
    log: bool  # append to messages.jsonl (accepted and not logged before)


@dataclass(frozen=True)
class Reconciliation:
    session_data: dict[str, Any]
    tasks: dict[str, Task]
    changed: tuple[str, ...]  # task ids whose file must be written
    session_changed: bool
    events: tuple[Event, ...]
    messages: tuple[MessageDecision, ...]
    recheck_at: float | None  # when a young orphan must be judged again
    pause: bool = False


def _entry_worker_id(entry: Mapping[str, Any]) -> str | None:
    wid = entry.get("worker_id")
    return wid if isinstance(wid, str) and wid else None


def merge_completions(
    tasks: dict[str, Task], completed_list: Sequence[str], now: float
) -> tuple[list[str], list[Event]]:
    """Union of completions: completed in either place is completed in both."""
    listed = dict.fromkeys(completed_list, "listed in completed_tasks")
    events = _complete_recorded(tasks, listed, Reason.LISTED_COMPLETED, now)
    return completed_union(completed_list, tasks), events


def completed_union(listed: Iterable[object], tasks: Mapping[str, Task]) -> list[str]:
    """completed_tasks as written: the listed ids in their order, then every other
    completed task in id order (reconcile, and the engine's session refresh)."""
    merged = [t for t in listed if isinstance(t, str)]
    known = set(merged)
    extra = [t.id for t in tasks.values() if t.status is TaskStatus.COMPLETED and t.id not in known]
    merged.extend(sorted(extra, key=task_sort_key))
    return merged


def merge_external(tasks: dict[str, Task], found: Mapping[str, str], now: float) -> list[Event]:
    """Completions recorded elsewhere count: completion is never lost (§8)."""
    return _complete_recorded(tasks, found, Reason.RECORDED_ELSEWHERE, now)


def _complete_recorded(
    tasks: dict[str, Task], found: Mapping[str, str], reason: Reason, now: float
) -> list[Event]:
    """Complete every task ``found`` names (id -> where it was recorded), in id order."""
    events: list[Event] = []
    for task_id in sorted(found, key=task_sort_key):
        task = tasks.get(task_id)
        if task is None or task.status in (TaskStatus.COMPLETED, TaskStatus.DELETED):
            continue
        tasks[task_id] = move(
            task, TaskStatus.COMPLETED, reason, now=now, claimed_by=None, retry_at=None
        )
        text = f"{task_id} marked completed: {found[task_id]}"
        events.append(Event(EventKind.COMPLETION_MERGED, "executor", text, task_id))
    return events


def create_missing(
    session: Session, tasks: dict[str, Task], now: float, *, described: bool = True
) -> list[Event]:
    """A task for every graph node without one, in id order.

    ``described=False`` shapes them for readiness only (`check`): no
    description and no ``blocks`` (readiness reads ``blockedBy``).
    """
    missing = [tid for tid in session.graph if tid not in tasks]
    if not missing:
        return []
    blocks: Mapping[str, Sequence[str]] = {}
    if described:
        blocks = dag.dependents({tid: node.depends_on for tid, node in session.graph.items()})
    completed = set(session.completed_tasks)
    stamp = iso(now)
    events = []
    for task_id in sorted(missing, key=task_sort_key):
        node = session.graph[task_id]
        tasks[task_id] = new_task(
            node,
            session=session,
            blocks=blocks.get(task_id, ()),
            completed=task_id in completed,
            now=now,
            described=described,
            stamp=stamp,
        )
        text = f"{task_id} created for {node.role} from the dependency graph"
        events.append(Event(EventKind.TASK_CREATED, "executor", text, task_id))
    return events


def in_order(items: Iterable[InboxItem]) -> list[InboxItem]:
    """Messages apply in their ``ts`` order, file name breaking ties (reconcile and the loop)."""

    def key(item: InboxItem) -> tuple[str, str]:
        return (str(item.message.get("ts", "")) if item.message else "", item.name)

    return sorted(items, key=key)


def judge(item: InboxItem, ctx: Context) -> Verdict:
    """One inbox file's verdict: rejected when it could not be read, else the message's."""
    if item.message is None:
        return reject(item.error or "unreadable")
    return apply_message(item.message, ctx)


def apply_inbox(world: World, tasks: dict[str, Task]) -> tuple[list[MessageDecision], bool]:
    """Apply waiting messages in ``ts`` order; returns the decisions and a pause flag."""
    decisions: list[MessageDecision] = []
    pause = False
    ctx = Context(
        session=world.session,
        specs=world.session.specs,
        tasks=tasks,  # updated in place: each message sees the effects of those before
        now=world.now,
        backoff_scale=world.backoff_scale,
        artifact_roots=world.artifact_roots,
    )
    for item in in_order(world.inbox):
        verdict = judge(item, ctx)
        tasks.update(verdict.updates)
        pause = pause or verdict.pause
        seen = item.message is not None and item.message.get("id") in world.seen_ids
        decisions.append(MessageDecision(item, verdict, verdict.accepted and not seen))
    return decisions, pause


def claimer_record(
    worker_id: str, *, host: str, pid: int, pid_started_at: float | None
) -> dict[str, Any]:
    """What a claim records so a later executor on this host can prove it dead (§8)."""
    return {"worker_id": worker_id, "host": host, "pid": pid, "pid_started_at": pid_started_at}


def claimer_of(task: Task) -> Mapping[str, Any] | None:
    """The claim's own record, when it belongs to the current claim (not a stale one)."""
    claimer = task.metadata.get(CLAIMER_KEY)
    if not isinstance(claimer, Mapping) or not task.claimed_by:
        return None
    return claimer if claimer.get("worker_id") == task.claimed_by else None


def own_dead_claim(task: Task, world: World) -> bool:
    """A claim made on this host by a process that is gone, whose worker never ran or is gone.

    Foreign claims (an LLM coordinator, another host, an old claim with no record)
    are not ours to prove dead: they wait for the orphan timer.
    """
    claimer = claimer_of(task)
    if claimer is None or world.host is None or claimer.get("host") != world.host:
        return False
    if world.claimers_alive.get(task.id, True):
        return False  # the claiming process still runs: it may be about to spawn
    fact = world.workers.get(task.claimed_by or "")
    return fact is not None and not fact.alive  # no process carries its worker id


@dataclass(frozen=True)
class OrphanVerdict:
    task: Task | None = None  # the reset task, when reset
    event: Event | None = None
    due: float | None = None  # when to judge again, when still young


def judge_unrecorded(
    task: Task, *, now: float, orphan_after: float, mtime: float | None, own_dead: bool
) -> OrphanVerdict:
    """An ``in_progress`` task no recorded worker holds: reset now, or judge again at ``due``."""
    if own_dead:
        reset = move(task, TaskStatus.PENDING, Reason.OWN_DEAD_CLAIM, now=now)
        text = f"{task.id} claimed by a dead executor of this host, never run or gone: pending"
        return OrphanVerdict(reset, Event(EventKind.TASK_ORPHANED, "executor", text, task.id))
    since = parse_iso(task.metadata.get("updated_at"))
    if since is None:
        since = mtime if mtime is not None else now
    if now - since >= orphan_after:
        reset = move(task, TaskStatus.PENDING, Reason.ORPHANED, now=now)
        text = (
            f"{task.id} orphaned (in progress {now - since:.0f} s, no worker recorded),"
            " back to pending"
        )
        return OrphanVerdict(reset, Event(EventKind.TASK_ORPHANED, "executor", text, task.id))
    return OrphanVerdict(due=since + orphan_after)


def judge_in_progress(
    world: World, tasks: dict[str, Task], entries: Sequence[Mapping[str, Any]]
) -> tuple[list[Event], float | None]:
    """Adopt live workers, reset interrupted tasks and old orphans."""
    by_worker = {wid: e for e in entries if (wid := _entry_worker_id(e))}
    by_task = {str(e.get("task_id")): e for e in entries if e.get("task_id")}
    orphan_after = world.session.executor.orphan_after_s
    events: list[Event] = []
    recheck: float | None = None
    for wid, entry in sorted(by_worker.items()):
        task = tasks.get(str(entry.get("task_id")))
        fact = world.workers.get(wid)
        if (
            task is not None
            and task.status is TaskStatus.PENDING
            and "retry_at" not in task.metadata  # not a failed attempt waiting to retry
            and fact is not None
            and fact.alive
        ):
            # a live worker is still on it: marking it running again is what keeps it
            # from being started a second time
            tasks[task.id] = move(
                task, TaskStatus.IN_PROGRESS, Reason.ADOPTED, now=world.now, claimed_by=wid
            )
            text = f"{task.id} was pending but worker {wid} is alive on it: in progress again"
            events.append(Event(EventKind.WORKER_ADOPTED, "executor", text, task.id))
    for task_id in sorted(tasks, key=task_sort_key):
        task = tasks[task_id]
        if task.status is not TaskStatus.IN_PROGRESS:
            continue
        held = by_worker.get(task.claimed_by or "") or by_task.get(task_id)
        if held is not None:
            wid = _entry_worker_id(held)
            fact = world.workers.get(wid) if wid else None
            if fact is not None and fact.alive:
                text = f"{task_id}: worker {wid} (pid {fact.pid}) is alive, adopted"
                events.append(Event(EventKind.WORKER_ADOPTED, "executor", text, task_id))
                continue
            tasks[task_id] = move(task, TaskStatus.PENDING, Reason.INTERRUPTED, now=world.now)
            text = f"{task_id} interrupted (worker {wid or '?'} is gone), back to pending"
            events.append(Event(EventKind.TASK_INTERRUPTED, "executor", text, task_id))
            continue
        verdict = judge_unrecorded(
            task,
            now=world.now,
            orphan_after=orphan_after,
            mtime=world.mtimes.get(task_id),
            own_dead=own_dead_claim(task, world),
        )
        if verdict.task is not None:
            tasks[task_id] = verdict.task
        if verdict.event is not None:
            events.append(verdict.event)
        if verdict.due is not None:
            recheck = verdict.due if recheck is None else min(recheck, verdict.due)
    return events, recheck


def unrecorded_workers(
    world: World, tasks: Mapping[str, Task], entries: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Entries for live workers that claimed a task but are missing from active_workers.

    An inner-loop worker claims its next task itself; liveness finds it by its
    worker id, and it is adopted like a recorded one.
    """
    known = {_entry_worker_id(e) for e in entries}
    found = []
    for task in sorted(tasks.values(), key=lambda t: task_sort_key(t.id)):
        wid = task.claimed_by
        fact = world.workers.get(wid or "")
        if task.status is not TaskStatus.IN_PROGRESS or wid in known or not fact or not fact.alive:
            continue
        found.append(
            {
                "worker_id": wid,
                "role": task.owner,
                "task_id": task.id,
                "pid": fact.pid,
                "pid_started_at": fact.pid_started_at,
                "started_at": task.metadata.get("started_at") or iso(world.now),
                "attempt": task.attempts,
            }
        )
        known.add(wid)
    return found


def live_entries(world: World, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``active_workers`` entries whose worker is alive, pids filled in."""
    kept = []
    for entry in entries:
        wid = _entry_worker_id(entry)
        fact = world.workers.get(wid) if wid else None
        if fact is None or not fact.alive:
            continue
        entry = dict(entry)
        if fact.pid is not None and entry.get("pid") != fact.pid:
            entry["pid"] = fact.pid
            entry["pid_started_at"] = fact.pid_started_at
        kept.append(entry)
    return kept


def pipeline_counters(
    data: dict[str, Any], tasks: Mapping[str, Task], workers: list[dict[str, Any]]
) -> None:
    """team-session.json's ``pipeline`` counters and ``active_workers``, set in ``data``."""
    live = [t for t in tasks.values() if t.status is not TaskStatus.DELETED]
    pipeline = dict(data.get("pipeline") or {})
    pipeline["tasks_total"] = len(live)
    pipeline["tasks_completed"] = sum(1 for t in live if t.status is TaskStatus.COMPLETED)
    data["pipeline"] = pipeline
    data["active_workers"] = workers


def reconcile(world: World) -> Reconciliation:
    session = world.session
    tasks = dict(world.tasks)
    data: dict[str, Any] = copy.deepcopy(dict(session.data))
    events = create_missing(session, tasks, world.now)
    completed_list, merged = merge_completions(tasks, list(session.completed_tasks), world.now)
    events.extend(merged)
    events.extend(merge_external(tasks, world.completed_elsewhere, world.now))
    decisions, pause = apply_inbox(world, tasks)
    for decision in decisions:
        events.extend(decision.verdict.events)
    entries = [e for e in data.get("active_workers") or () if isinstance(e, dict)]
    entries += unrecorded_workers(world, tasks, entries)
    judged, recheck = judge_in_progress(world, tasks, entries)
    events.extend(judged)
    # completions the inbox brought join the list; nothing new to merge back
    data["completed_tasks"], _ = merge_completions(tasks, completed_list, world.now)
    pipeline_counters(data, tasks, live_entries(world, entries))
    changed = tuple(
        tid
        for tid in sorted(tasks, key=task_sort_key)
        if world.tasks.get(tid) is None or world.tasks[tid].data != tasks[tid].data
    )
    return Reconciliation(
        session_data=data,
        tasks=tasks,
        changed=changed,
        session_changed=data != dict(session.data),
        events=tuple(events),
        messages=tuple(decisions),
        recheck_at=recheck,
        pause=pause,
    )
