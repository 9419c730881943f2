"""What ``teamexec check`` shows, computed without touching anything.

``build_status`` is pure: the session, the task files as they are (possibly
missing — "not created yet"), facts about recorded workers and the clock in,
a JSON-ready view out.  ``status_lines`` renders it for a terminal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from teamexec.core import attempts, dag, ratelimit
from teamexec.core.agentcmd import NO_AGENT
from teamexec.core.errors import CycleError
from teamexec.core.model import Session, Task, TaskStatus, iso, parse_iso, task_sort_key
from teamexec.core.priority import expected_durations, remaining_paths, role_means
from teamexec.core.readiness import iter_ready
from teamexec.core.reconcile import (
    WorkerFact,
    create_missing,
    merge_completions,
    merge_external,
)
from teamexec.core.report import usage_line
from teamexec.core.usage import totals

MARKS = {
    "completed": "✓",
    "in_progress": "▶",
    "pending": "○",
    "failed": "✗",
    "deleted": "-",
    "not_created": "·",
}


def graph_order(session: Session, tasks: Mapping[str, Task]) -> list[str]:
    deps: dict[str, tuple[str, ...]] = {t: n.depends_on for t, n in session.graph.items()}
    for task in tasks.values():
        deps.setdefault(task.id, task.blocked_by)
    try:
        return dag.topological_order(deps)
    except CycleError:  # a hand-edited task list can loop even when the graph does not
        return sorted(deps, key=task_sort_key)


def as_reconciled(
    session: Session, tasks: Mapping[str, Task], now: float, elsewhere: Collection[str] = ()
) -> dict[str, Task]:
    """The task list as reconciliation will shape it, for the ready list: graph nodes
    without a file are created, completions from every source merged (§8's union:
    completed_tasks, a Claude task list, messages.jsonl) — reconcile's own rules,
    applied to a copy."""
    shaped = dict(tasks)
    create_missing(session, shaped, now, described=False)  # readiness needs no prose
    merge_completions(shaped, session.completed_tasks, now)
    merge_external(shaped, dict.fromkeys(elsewhere, "recorded elsewhere"), now)
    return shaped


def build_status(
    session: Session,
    tasks: Mapping[str, Task],
    *,
    workers: Mapping[str, WorkerFact],
    runnable_roles: Collection[str],
    now: float,
    locked_by: Mapping[str, Any] | None,
    history: Mapping[str, float] | None = None,
    completed_elsewhere: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The view; ``history`` (role means from an earlier report.json) means the
    critical-path schedule, whose order the ready list then shows; None: fifo.
    ``completed_elsewhere``: completions outside the task files (§8's union)."""
    order = graph_order(session, tasks)
    done_ids = set(session.completed_tasks) | set(completed_elsewhere or {})
    rows = []
    for task_id in order:
        task = tasks.get(task_id)
        node = session.graph.get(task_id)
        state = task.status.value if task else "not_created"
        if task_id in done_ids and state != TaskStatus.DELETED.value:
            state = TaskStatus.COMPLETED.value  # completion is never lost (§8)
        row: dict[str, Any] = {
            "id": task_id,
            "role": task.owner if task else (node.role if node else None),
            "status": state,
            "depends_on": list(task.blocked_by if task else node.depends_on if node else ()),
            "attempts": task.attempts if task else 0,
        }
        if task is not None and state != TaskStatus.COMPLETED.value:
            row.update(_why(task, now))
        rows.append(row)
    live = [r for r in rows if r["status"] != TaskStatus.DELETED.value]
    done = sum(1 for r in live if r["status"] == "completed")
    active = []
    for entry in session.active_workers:
        wid = entry.get("worker_id")
        fact = workers.get(wid) if isinstance(wid, str) else None
        started = parse_iso(entry.get("started_at"))
        active.append(
            {
                "worker_id": wid,
                "role": entry.get("role"),
                "task_id": entry.get("task_id"),
                # a worker killed before its pid was recorded is found by its id
                "pid": entry.get("pid")
                if entry.get("pid") is not None
                else (fact.pid if fact else None),
                "alive": bool(fact and fact.alive),
                "elapsed_s": round(now - started, 1) if started is not None else None,
            }
        )
    # a claim whose worker runs but is not in team-session.json yet (the executor
    # writes active_workers at most a second after a spawn; an inner-loop worker
    # claims by itself): shown too, so check is exact while a run goes on
    listed = {e.get("worker_id") for e in session.active_workers}
    for task in tasks.values():
        wid = task.claimed_by
        fact = workers.get(wid) if wid else None
        if task.status is not TaskStatus.IN_PROGRESS or wid in listed or not fact or not fact.alive:
            continue
        started = parse_iso(task.metadata.get("started_at"))
        active.append(
            {
                "worker_id": wid,
                "role": task.owner,
                "task_id": task.id,
                "pid": fact.pid,
                "alive": True,
                "elapsed_s": round(now - started, 1) if started is not None else None,
            }
        )
        listed.add(wid)
    shaped = as_reconciled(session, tasks, now, done_ids)
    schedule: dict[str, Any] = {"name": "fifo"}
    ranks = None
    if history is not None:
        expected = expected_durations(role_means(shaped), history)
        ranks = remaining_paths(shaped, expected)
        schedule = {
            "name": "critical_path",
            "expected_s": {r: round(s, 3) for r, s in expected.items()},
        }
    ready = [t.id for t in iter_ready(shaped, session.specs.keys(), now, ranks=ranks)]
    if ranks is not None:
        schedule["remaining_s"] = {t: ranks[t] for t in ready}
    warnings = [str(w) for w in session.warnings]
    for role in sorted(session.specs):
        if role not in runnable_roles:
            where = session.root / session.specs[role].path
            warnings.append(f"{where}: warning: {NO_AGENT.format(role=role)}; `run` will refuse")
    return {
        "session": str(session.root),
        "session_id": session.session_id,
        "status": session.status.value,
        "progress": {
            "done": done,
            "total": len(live),
            "percent": round(100 * done / len(live)) if live else 100,
        },
        "tasks": rows,
        "active_workers": active,
        "ready": ready,
        "schedule": schedule,
        "warnings": warnings,
        "executor": dict(locked_by) if locked_by else None,
        **agent_view(session, tasks, now=now),
    }


def _why(task: Task, now: float) -> dict[str, Any]:
    """A failed task's reason and log; a task in back-off, when it is tried again."""
    extra: dict[str, Any] = {}
    error = task.metadata.get("last_error")
    if task.status is TaskStatus.FAILED:
        reason = error.get("reason") if isinstance(error, dict) else None
        extra["reason"] = str(reason) if reason else "failed"
        if task.attempts:  # the shell sets it to None when there is no such file
            extra["log"] = attempts.log_name(task.id, task.attempts)
    elif task.status is TaskStatus.PENDING:
        retry_at = parse_iso(task.metadata.get("retry_at"))
        if retry_at is not None and retry_at > now:
            extra["retry_in_s"] = round(retry_at - now, 1)
    return extra


def agent_view(session: Session, tasks: Mapping[str, Task], *, now: float) -> dict[str, Any]:
    """What the agents spent, which agent kinds wait out a rate limit, what lacks evidence."""
    gates = ratelimit.from_json(session.data.get("rate_limits"), now=now)
    executor = session.executor
    budget = {"usd": executor.budget_usd, "tokens": executor.budget_tokens}
    return {
        "usage": totals(tasks.values()),
        "budget": budget if any(v is not None for v in budget.values()) else None,
        "rate_limits": [
            {"agent_kind": kind, "until": iso(gate.until), "reason": gate.reason}
            for kind, gate in sorted(gates.items())
        ],
        "rate_limit_lines": ratelimit.describe(gates, now=now),
        "evidence_missing": sorted(
            (t.id for t in tasks.values() if _without_evidence(t)), key=task_sort_key
        ),
    }


def _without_evidence(task: Task) -> bool:
    missing = task.metadata.get("evidence_missing")
    return task.status is TaskStatus.COMPLETED and isinstance(missing, list) and bool(missing)


def _elapsed(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def status_lines(view: Mapping[str, Any]) -> list[str]:
    progress = view["progress"]
    lines = [
        f"Session {view['session_id']} ({view['status']}) — {view['session']}",
        f"Progress: {progress['done']}/{progress['total']} ({progress['percent']}%)",
    ]
    if view["executor"]:
        holder = view["executor"]
        lines.append(f"Executor: running, pid {holder.get('pid')} since {holder.get('started_at')}")
    lines.append("")
    lines.append("Execution graph:")
    for row in view["tasks"]:
        deps = f"  ← {', '.join(row['depends_on'])}" if row["depends_on"] else ""
        label = (
            "not created yet" if row["status"] == "not_created" else row["status"].replace("_", " ")
        )
        if "retry_in_s" in row:
            label += f", retry in {_elapsed(row['retry_in_s'])}"
        lines.append(
            f"  {MARKS[row['status']]} {row['id']:<20} {row['role'] or '?':<14} {label}{deps}"
        )
        if "reason" in row:
            log = f" — log: {view['session']}/{row['log']}" if row.get("log") else ""
            if "log" in row and row["log"] is None:  # a silent agent has no log file
                log = " — no log output"
            lines.append(f"      {row['reason']}{log}")
    lines.append("  (✓ done  ▶ running  ○ pending  ✗ failed  · not created yet)")
    if view["active_workers"]:
        lines.append("")
        lines.append("Active workers:")
        for w in view["active_workers"]:
            if w["pid"] is None and not w["alive"]:
                state = "starting"
            else:
                state = f"pid {w['pid']}, " + ("alive" if w["alive"] else "exited")
            lines.append(f"  {w['role']} on {w['task_id']} — {state}, {_elapsed(w['elapsed_s'])}")
    lines.append("")
    schedule = view["schedule"]
    if schedule["name"] == "critical_path" and view["ready"]:
        paths = schedule["remaining_s"]
        lines.append("Ready, longest remaining path first (expected seconds, 1 when unknown):")
        lines.append("  " + ", ".join(f"{t} ({paths[t]:g})" for t in view["ready"]))
    else:
        lines.append("Ready: " + (", ".join(view["ready"]) if view["ready"] else "(none)"))
    waiting = [r for r in view["tasks"] if "retry_in_s" in r]
    if waiting:
        soonest = min(waiting, key=lambda r: r["retry_in_s"])
        lines.append(
            f"Next retry: {soonest['id']} in {_elapsed(soonest['retry_in_s'])}"
            + (f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else "")
        )
    failed = [r for r in view["tasks"] if r["status"] == "failed"]
    if failed:
        lines.append(
            f"Failed: {', '.join(r['id'] for r in failed)} — retry with: "
            f"teamexec resume {view['session']} --retry-failed"
        )

    lines.extend(_agent_lines(view))
    lines.extend(view["warnings"])
    return lines


def _agent_lines(view: Mapping[str, Any]) -> list[str]:
    lines = []
    spent = usage_line(view.get("usage") or {})
    budget = view.get("budget")
    if spent or budget:
        text = spent or "Spent: nothing recorded yet"
        if budget:
            caps = [f"${budget['usd']:g}" if budget.get("usd") is not None else None]
            caps.append(f"{budget['tokens']} tokens" if budget.get("tokens") is not None else None)
            text += f" (budget {', '.join(c for c in caps if c)})"
        lines.append(text)
    lines.extend(f"Rate limit: {line}" for line in view.get("rate_limit_lines") or ())
    if view.get("evidence_missing"):
        lines.append(
            "Completed without a deliverable written during the attempt: "
            + ", ".join(view["evidence_missing"])
        )
    return lines
