"""The report as one self-contained HTML page (``teamexec report --html``): a pure function.

``render_page(report, log_tails=...)`` turns report.json (with each task's
``attempt_log``) into a page with inline CSS and SVG only — no script, no
font, no request to any network — that a browser shows the same offline:

- a timeline with one lane per worker slot and one bar per attempt, coloured
  by its outcome (completed, failed, interrupted, still open);
- durations per role; failures with their reasons and log tails;
- cost and tokens, when the agents reported them (``runs`` per task, or
  ``cost_usd`` / ``tokens`` on a task row or the report);
- the dependency graph, each node coloured by its task's status.

The shell (cli/commands.py) reads report.json and the failed attempts' log
tails and writes the file; nothing here touches the disk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from teamexec.core.model import parse_iso

OUTCOME_COLOURS = {
    "completed": "#2e9d57",
    "interrupted": "#9aa0a6",
    "open": "#3b78e7",
}
FAILED_COLOUR = "#d93025"  # every failure kind: transient, permanent, timeout, stalled, ...
STATUS_COLOURS = {
    "completed": "#2e9d57",
    "failed": FAILED_COLOUR,
    "in_progress": "#3b78e7",
    "pending": "#c7ccd1",
}
LANE_H, LANE_GAP, LEFT, WIDTH = 26, 6, 70, 960
MAX_GRAPH_NODES = 300

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#202124}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#5f6368}.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff}
table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #e0e0e0;text-align:left}
th{font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;max-height:320px;font-size:12px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.meter{display:inline-block;height:10px;background:#3b78e7;vertical-align:middle}
svg text{font:11px system-ui,sans-serif}
"""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s"


def outcome_colour(outcome: str | None) -> str:
    return OUTCOME_COLOURS.get(outcome or "open", FAILED_COLOUR)


# ------------------------------------------------------------------ timeline
def attempt_bars(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One bar per recorded attempt: task, role, attempt, start, end, outcome, lane.

    Attempts without a recorded slot (older runs, another executor) are put in
    the first lane free at their start, after the recorded lanes.
    """
    finished = parse_iso(report.get("finished_at"))
    bars: list[dict[str, Any]] = []
    for row in report.get("tasks") or ():
        for entry in row.get("attempt_log") or ():
            start = parse_iso(entry.get("started_at"))
            if start is None:
                continue
            end = parse_iso(entry.get("ended_at"))
            outcome = entry.get("outcome") if end is not None else "open"
            slot = entry.get("slot")
            bars.append(
                {
                    "task": str(row.get("id")),
                    "role": str(row.get("role") or "?"),
                    "attempt": entry.get("attempt"),
                    "start": start,
                    "end": end if end is not None else max(finished or start, start),
                    "outcome": str(outcome or "unknown"),
                    "reason": entry.get("reason"),
                    "slot": slot if isinstance(slot, int) and slot >= 0 else None,
                }
            )
    bars.sort(key=lambda b: (b["start"], b["task"]))
    used = {b["slot"] for b in bars if b["slot"] is not None}
    free_from: dict[int, float] = {}
    first_extra = max(used, default=-1) + 1
    for bar in bars:
        if bar["slot"] is None:
            lane = first_extra
            while free_from.get(lane, float("-inf")) > bar["start"]:
                lane += 1
            bar["slot"] = lane
            free_from[lane] = bar["end"]
    return bars


def tick_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most about 8 ticks."""
    power = 10.0 ** math.floor(math.log10(max(span, 1e-3) / 8))
    return next(power * m for m in (1, 2, 5, 10) if span / (power * m) <= 8)


def timeline_svg(bars: Sequence[Mapping[str, Any]]) -> str:
    if not bars:
        return '<p class="muted">No attempt was recorded (the session ran before attempt logs).</p>'
    t0 = min(b["start"] for b in bars)
    span = max(max(b["end"] for b in bars) - t0, 1e-3)
    lanes = max(b["slot"] for b in bars) + 1
    plot = WIDTH - LEFT - 10
    height = lanes * (LANE_H + LANE_GAP) + 30
    scale = plot / span
    parts = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="timeline of every attempt">'
    ]
    for lane in range(lanes):
        y = lane * (LANE_H + LANE_GAP)
        parts.append(
            f'<rect x="{LEFT}" y="{y}" width="{plot}" height="{LANE_H}" fill="#f1f3f4"/>'
            f'<text x="4" y="{y + LANE_H * 0.65:.0f}">slot {lane}</text>'
        )
    axis_y = lanes * (LANE_H + LANE_GAP) + 14
    step = tick_step(span)
    ticks = int(span / step) + 1
    for i in range(ticks):
        x = LEFT + step * i * scale
        anchor = "end" if x > WIDTH - 40 else "middle"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{axis_y - 10}" stroke="#dadce0"/>'
            f'<text x="{x:.1f}" y="{axis_y + 4}" text-anchor="{anchor}">'
            f"{step * i:g} s</text>"
        )
    for bar in bars:
        x = LEFT + (bar["start"] - t0) * scale
        w = max((bar["end"] - bar["start"]) * scale, 2.0)
        y = bar["slot"] * (LANE_H + LANE_GAP)
        seconds = bar["end"] - bar["start"]
        tip = (
            f"{bar['task']} ({bar['role']}), attempt {bar['attempt']}: {bar['outcome']}, "
            f"{_fmt_s(seconds)}" + (f" — {bar['reason']}" if bar.get("reason") else "")
        )
        parts.append(
            f'<g class="bar" data-task="{escape(bar["task"])}" data-attempt="{bar["attempt"]}" '
            f'data-outcome="{escape(bar["outcome"])}"><title>{escape(tip)}</title>'
            f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{LANE_H - 4}" rx="3" '
            f'fill="{outcome_colour(bar["outcome"])}"/>'
        )
        label = bar["task"] if bar["attempt"] == 1 else f"{bar['task']} #{bar['attempt']}"
        if w > 7 * len(label):
            parts.append(
                f'<text x="{x + 4:.1f}" y="{y + LANE_H * 0.65:.0f}" fill="#fff">'
                f"{escape(label)}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{name}</span>'
        for name, colour in (
            ("completed", OUTCOME_COLOURS["completed"]),
            ("failed (any kind)", FAILED_COLOUR),
            ("interrupted", OUTCOME_COLOURS["interrupted"]),
            ("still running", OUTCOME_COLOURS["open"]),
        )
    )
    return "".join(parts) + f'<p class="legend">{legend}</p>'


# --------------------------------------------------------------------- tables
def role_durations(bars: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per role: attempts, tasks, total and longest attempt, in seconds."""
    by_role: dict[str, dict[str, Any]] = {}
    for bar in bars:
        row = by_role.setdefault(
            bar["role"], {"role": bar["role"], "attempts": 0, "tasks": set(), "total": 0.0}
        )
        seconds = bar["end"] - bar["start"]
        row["attempts"] += 1
        row["tasks"].add(bar["task"])
        row["total"] += seconds
        row["longest"] = max(row.get("longest", 0.0), seconds)
    out = []
    for role in sorted(by_role):
        row = by_role[role]
        out.append({**row, "tasks": len(row["tasks"]), "mean": row["total"] / row["attempts"]})
    return out


def _roles_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No durations recorded.</p>'
    top = max(r["total"] for r in rows) or 1.0
    body = "".join(
        f"<tr><td>{escape(r['role'])}</td><td class=num>{r['tasks']}</td>"
        f"<td class=num>{r['attempts']}</td><td class=num>{_fmt_s(r['total'])}</td>"
        f"<td class=num>{_fmt_s(r['mean'])}</td><td class=num>{_fmt_s(r['longest'])}</td>"
        f'<td><span class="meter" style="width:{160 * r["total"] / top:.0f}px"></span></td></tr>'
        for r in rows
    )
    return (
        '<table id="roles"><tr><th>role</th><th>tasks</th><th>attempts</th><th>total</th>'
        f"<th>mean attempt</th><th>longest</th><th></th></tr>{body}</table>"
    )


def _failures(
    report: Mapping[str, Any], bars: Sequence[Mapping[str, Any]], tails: Mapping[str, str]
) -> str:
    failed = [b for b in bars if b["outcome"] not in ("completed", "interrupted", "open")]
    stuck = list(report.get("stuck") or ())
    missing = [str(t) for t in report.get("evidence_missing") or ()]
    if not failed and not stuck and not missing:
        return '<p class="muted">No attempt failed.</p>'
    parts = []
    if missing:
        parts.append(
            "<p>Completed without writing a deliverable during the attempt (evidence): "
            f"{escape(', '.join(missing))}</p>"
        )
    for bar in failed:
        key = f"{bar['task']}.{bar['attempt']}"
        tail = tails.get(key)
        parts.append(
            f'<div class="failure"><b>{escape(bar["task"])}</b> attempt {bar["attempt"]} '
            f"({escape(bar['role'])}): {escape(bar['outcome'])}"
            + (f" — {escape(str(bar['reason']))}" if bar.get("reason") else "")
            + (
                f' <span class="muted">logs/{escape(key)}.log</span><pre>{escape(tail)}</pre>'
                if tail
                else ' <span class="muted">(no log output)</span>'
            )
            + "</div>"
        )
    if stuck:
        items = "".join(
            f"<li><b>{escape(str(s.get('id')))}</b>: {escape(str(s.get('reason')))}</li>"
            for s in stuck
        )
        parts.append(f"<p>Not done when the run ended:</p><ul>{items}</ul>")
    return "".join(parts)


def _usage_row(usage: Mapping[str, Any]) -> dict[str, float]:
    return {
        key: _num(usage.get(key)) or 0.0 for key in ("cost_usd", "tokens", "turns", "rate_limited")
    }


def spend(report: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Cost (USD), tokens, turns and rate-limited attempts per role; {} when none was reported.

    From report.json's ``usage.roles`` (the agent adapters' totals), else from
    each task row's ``usage``, ``runs[]`` or ``cost_usd``/``tokens``.
    """
    usage = report.get("usage")
    roles = usage.get("roles") if isinstance(usage, dict) else None
    if isinstance(roles, dict):
        return {
            str(role): _usage_row(u)
            for role, u in sorted(roles.items())
            if isinstance(u, dict) and (_num(u.get("runs")) or _num(u.get("cost_usd")))
        }
    per_role: dict[str, dict[str, float]] = {}
    for row in report.get("tasks") or ():
        role = str(row.get("role") or "?")
        found = row.get("usage")
        runs = [found] if isinstance(found, dict) else row.get("runs") or [row]
        for run in runs:
            if not isinstance(run, dict):
                continue
            cost = _num(run.get("cost_usd"))
            tokens = run.get("tokens")
            count = (
                sum(v for v in tokens.values() if _num(v) is not None)
                if isinstance(tokens, dict)
                else _num(tokens)
            )
            if cost is None and count is None:
                continue
            slot = per_role.setdefault(
                role, {"cost_usd": 0.0, "tokens": 0.0, "turns": 0.0, "rate_limited": 0.0}
            )
            slot["cost_usd"] += cost or 0.0
            slot["tokens"] += count or 0.0
            slot["turns"] += _num(run.get("turns")) or 0.0
            slot["rate_limited"] += _num(run.get("rate_limited")) or 0.0
    return per_role


def _spend_table(per_role: Mapping[str, Mapping[str, float]]) -> str:
    if not per_role:
        return (
            '<p class="muted">No cost or token figures were recorded: the agents printed none '
            "teamexec reads (plain agents report only their exit code).</p>"
        )

    def cells(r: Mapping[str, float], tag: str) -> str:
        return (
            f"<{tag} class=num>${r['cost_usd']:.4f}</{tag}>"
            f"<{tag} class=num>{int(r['tokens']):,}</{tag}>"
            f"<{tag} class=num>{int(r['turns'])}</{tag}>"
            f"<{tag} class=num>{int(r['rate_limited'])}</{tag}>"
        )

    total = {k: sum(r[k] for r in per_role.values()) for k in next(iter(per_role.values()))}
    body = "".join(
        f"<tr><td>{escape(role)}</td>{cells(r, 'td')}</tr>" for role, r in sorted(per_role.items())
    )
    return (
        '<table id="spend"><tr><th>role</th><th>cost</th><th>tokens</th><th>turns</th>'
        f"<th>rate-limited attempts</th></tr>{body}<tr><th>total</th>{cells(total, 'th')}</tr>"
        "</table>"
    )


# ---------------------------------------------------------------------- graph
def graph_layers(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each task's column: the length of its longest chain of dependencies.

    Iterative (no recursion limit on long chains); a cycle in a hand-edited
    task list is cut where it closes instead of looping.
    """
    deps = {str(r.get("id")): [str(d) for d in r.get("depends_on") or ()] for r in rows}
    depth: dict[str, int] = {}
    visiting: set[str] = set()
    for start in deps:
        stack = [(start, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                known = [d for d in deps[node] if d in depth]
                depth[node] = 1 + max((depth[d] for d in known), default=-1)
                visiting.discard(node)
                continue
            if node in depth or node in visiting:
                continue
            visiting.add(node)
            stack.append((node, True))
            stack.extend((d, False) for d in deps[node] if d in deps and d not in depth)
    return depth


def graph_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No tasks.</p>'
    depth = graph_layers(rows)
    if len(rows) > MAX_GRAPH_NODES:  # a drawing of thousands of boxes helps no one
        layers: dict[int, dict[str, int]] = {}
        for row in rows:
            count = layers.setdefault(depth.get(str(row.get("id")), 0), {})
            count[str(row.get("status"))] = count.get(str(row.get("status")), 0) + 1
        body = "".join(
            f"<tr><td class=num>{layer}</td><td class=num>{sum(c.values())}</td>"
            f"<td>{escape(', '.join(f'{n} {s}' for s, n in sorted(c.items())))}</td></tr>"
            for layer, c in sorted(layers.items())
        )
        return (
            f'<p class="muted">{len(rows)} tasks: too many to draw; the graph by depth '
            "(the longest chain of dependencies before a task):</p>"
            f'<table id="graph"><tr><th>depth</th><th>tasks</th><th>status</th></tr>{body}</table>'
        )
    columns: dict[int, list[str]] = {}
    for row in rows:
        columns.setdefault(depth.get(str(row.get("id")), 0), []).append(str(row.get("id")))
    status = {str(r.get("id")): str(r.get("status")) for r in rows}
    node_w, node_h, col_w, row_h = 130, 26, 170, 38
    pos = {
        task: (10 + col * col_w, 10 + i * row_h)
        for col, tasks in columns.items()
        for i, task in enumerate(tasks)
    }
    width = 20 + (max(columns) + 1) * col_w
    height = 20 + max(len(t) for t in columns.values()) * row_h
    parts = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
    ]
    for row in rows:
        tx, ty = pos[str(row.get("id"))]
        for dep in row.get("depends_on") or ():
            if str(dep) not in pos:
                continue
            sx, sy = pos[str(dep)]
            parts.append(
                f'<path d="M{sx + node_w},{sy + node_h / 2} C{sx + node_w + 25},{sy + node_h / 2} '
                f'{tx - 25},{ty + node_h / 2} {tx},{ty + node_h / 2}" fill="none" '
                'stroke="#9aa0a6"/>'
            )
    for task, (x, y) in pos.items():
        colour = STATUS_COLOURS.get(status[task], "#c7ccd1")
        parts.append(
            f'<g class="node" data-task="{escape(task)}"><title>{escape(task)}: '
            f"{escape(status[task])}</title>"
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="5" fill="{colour}"/>'
            f'<text x="{x + 6}" y="{y + 17}" fill="#fff">{escape(task[:20])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ----------------------------------------------------------------------- page
def render_page(
    report: Mapping[str, Any], *, log_tails: Mapping[str, str] | None = None, title: str = ""
) -> str:
    """The whole page as one string; ``log_tails`` maps ``<task>.<attempt>`` to log text."""
    bars = attempt_bars(report)
    rows = [r for r in report.get("tasks") or () if isinstance(r, dict)]
    counts = report.get("counts") or {}
    status = str(report.get("status", "?"))
    badge = STATUS_COLOURS.get(status, FAILED_COLOUR if status != "completed" else "")
    per_role = spend(report)
    speedup = report.get("parallel_speedup")
    heading = escape(title or str(report.get("session_id", "")))
    summary = (
        f'<span class="badge" style="background:{badge}">{escape(status)}</span> '
        f"{counts.get('completed', 0)}/{counts.get('total', 0)} tasks, "
        f"{len(bars)} attempts in {_fmt_s(_num(report.get('duration_s')))}"
        + (f", parallel speedup {speedup}x" if speedup is not None else "")
    )
    if per_role:
        summary += f", ${sum(r['cost_usd'] for r in per_role.values()):.4f}"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>teamexec report — {heading}</title><style>{CSS}</style></head><body>"
        f"<h1>{heading}</h1>"
        f'<p class="muted">session {escape(str(report.get("session_id", "")))} · '
        f"execution {escape(str(report.get('execution_id', '')))} · "
        f"{escape(str(report.get('started_at', '')))} → "
        f"{escape(str(report.get('finished_at', '')))}</p>"
        f'<p id="summary">{summary}</p>'
        f"<h2>Timeline</h2>{timeline_svg(bars)}"
        f"<h2>Durations per role</h2>{_roles_table(role_durations(bars))}"
        f"<h2>Failures</h2>{_failures(report, bars, log_tails or {})}"
        f"<h2>Cost and tokens</h2>{_spend_table(per_role)}"
        f"<h2>Graph</h2>{graph_svg(rows)}"
        "</body></html>\n"
    )
