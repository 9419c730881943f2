"""The end-of-run report (PROTOCOL §8 step 5): report.json and the text summary.

``build_report`` is pure: tasks, timings and the outcome in, a JSON-ready
dict out.  ``report_lines`` renders the human summary in the team-executor's
familiar ``[executor]`` frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from teamexec.core import attempts
from teamexec.core.model import Task, TaskStatus, iso, task_sort_key
from teamexec.core.schedule import Stuck
from teamexec.core.usage import task_usage, totals


def task_duration(task: Task, tracked: Mapping[str, float]) -> float | None:
    seconds = tracked.get(task.id, task.recorded_duration())
    return None if seconds is None else round(seconds, 3)


def build_report(
    *,
    execution_id: str,
    session_id: str,
    status: str,
    tasks: Mapping[str, Task],
    tracked: Mapping[str, float],
    started: float,
    finished: float,
    stuck: Sequence[Stuck] = (),
    peak_rss_kb: int | None = None,
) -> dict[str, Any]:
    live = [t for t in tasks.values() if t.status is not TaskStatus.DELETED]
    live.sort(key=lambda t: task_sort_key(t.id))
    counts = {s.value: 0 for s in TaskStatus if s is not TaskStatus.DELETED}
    for task in live:
        counts[task.status.value] += 1
    rows = []
    for task in live:
        duration = task_duration(task, tracked)
        row: dict[str, Any] = {
            "id": task.id,
            "role": task.owner,
            "status": task.status.value,
            "attempts": task.attempts,
            "duration_s": duration,
            "artifact": task.metadata.get("artifact"),
            "usage": task_usage(task).as_dict() if "runs" in task.metadata else None,
            "evidence_missing": _missing(task),
        }
        history = attempts.entries(task.metadata)
        if history:
            row["attempt_log"] = history  # the report page draws its timeline from these
        if task.blocked_by:
            row["depends_on"] = list(task.blocked_by)
        if task.metadata.get("partial") is True:
            row["partial"] = True  # partial_completion: CCW's quality gate passed with warnings
        rows.append(row)
    # Only the work of this execution counts: tasks done in an earlier run (before a
    # resume) took none of this wall time, and a run with nothing left has no speedup.
    busy = sum(tracked.values())
    wall = max(finished - started, 1e-9)
    return {
        "execution_id": execution_id,
        "session_id": session_id,
        "status": status,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_s": round(finished - started, 3),
        "counts": {"total": len(live), **counts},
        "parallel_speedup": round(busy / wall, 2) if tracked else None,
        "peak_worker_rss_kb": peak_rss_kb,
        "tasks": rows,
        "usage": totals(live),
        "evidence_missing": [row["id"] for row in rows if row["evidence_missing"]],
        "stuck": [_stuck_row(s, tasks.get(s.task_id)) for s in stuck],
    }


def _missing(task: Task) -> list[str] | None:
    """The deliverables a task completed without (``evidence: warn``), or None."""
    missing = task.metadata.get("evidence_missing")
    if task.status is not TaskStatus.COMPLETED or not isinstance(missing, list) or not missing:
        return None
    return [str(m) for m in missing]


def usage_line(usage: Mapping[str, Any]) -> str | None:
    """``Spent: $0.4200, 12 attempt(s), 34500 tokens`` (None: nothing recorded)."""
    run = usage.get("run") if isinstance(usage, Mapping) else None
    if not isinstance(run, Mapping) or not run.get("runs"):
        return None
    text = f"Spent: ${run['cost_usd']:.4f}, {run['runs']} attempt(s), {run['tokens']} tokens"
    if run.get("rate_limited"):
        text += f", {run['rate_limited']} rate-limited (not counted)"
    return text


def _stuck_row(stuck: Stuck, task: Task | None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": stuck.task_id, "reason": stuck.reason}
    row["last_lines"] = last_lines(task)
    if task is not None and task.status is TaskStatus.FAILED and task.attempts:
        row["log"] = attempts.log_name(task.id, task.attempts)  # the shell: None if absent
    return row


def last_lines(task: Task | None, count: int = 5) -> list[str]:
    """The end of a failed task's last log, as its last error recorded it."""
    error = task.metadata.get("last_error") if task is not None else None
    tail = error.get("log_tail") if isinstance(error, dict) else None
    if not isinstance(tail, str):
        return []
    return [line for line in tail.splitlines() if line.strip()][-count:]


def deliverables(
    tasks: Mapping[str, Task], artifacts_dir: Path, root: Path, *, agents_cwd: Path | None = None
) -> list[str]:
    """Reported artifacts with their role, then other files under artifacts/.

    A reported path may be relative to the session or, as CCW's workers write
    it (``.workflow/.team/<id>/artifacts/x.md``), to the agents' directory.
    """
    lines, named = [], set()
    for task in sorted(tasks.values(), key=lambda t: task_sort_key(t.id)):
        artifact = task.metadata.get("artifact")
        if isinstance(artifact, str) and artifact:
            lines.append(f"{artifact} ({task.owner})")
            named.add(str((root / artifact).resolve()))
            if agents_cwd is not None:
                named.add(str((agents_cwd / artifact).resolve()))
    if artifacts_dir.is_dir():
        for path in sorted(p for p in artifacts_dir.rglob("*") if p.is_file()):
            if str(path.resolve()) not in named:
                lines.append(f"{path.relative_to(root)}")
    return lines


def report_lines(
    report: Mapping[str, Any], *, roles: Sequence[str], session_path: str, delivered: Sequence[str]
) -> list[str]:
    bar = "=" * 44
    title = {
        "completed": "TASK COMPLETE",
        "failed": "PIPELINE FAILED",
        "stalled": "PIPELINE STALLED",
    }.get(str(report["status"]), str(report["status"]).upper())
    counts = report["counts"]
    body = [bar, title, ""]
    body.append("Deliverables:")
    body.extend([f"- {d}" for d in delivered] or ["- (none)"])
    body.append("")
    body.append(f"Pipeline: {counts['completed']}/{counts['total']} tasks")
    if report["stuck"]:
        body.append("Not done:")
        for row in report["stuck"]:
            body.append(f"- {row['id']}: {row['reason']}")
            if row.get("log"):
                body.append(f"    log: {Path(session_path) / row['log']}")
            elif "log" in row:  # None: a silent agent has no log file
                body.append("    no log output")
            body.extend(f"    | {line}" for line in row["last_lines"])
    missing = [r for r in report["tasks"] if r.get("evidence_missing")]
    if missing:
        body.append("Completed without a deliverable written during the attempt:")
        body.extend(f"- {r['id']}: expected {', '.join(r['evidence_missing'])}" for r in missing)
    body.append(f"Roles: {', '.join(roles)}")
    spent = usage_line(report.get("usage") or {})
    if spent:
        body.append(spent)
    speedup = report["parallel_speedup"]
    how = f"parallel speedup {speedup}x" if speedup is not None else "no task ran in this execution"
    body.append(f"Duration: {report['duration_s']:.1f} s ({how})")
    body.append("")
    body.append(f"Session: {session_path}")
    body.append(bar)
    return [f"[executor] {line}".rstrip() for line in body]
