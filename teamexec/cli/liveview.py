"""The live view on a terminal: what is running, what waits, how far, how long, how much.

``LiveState`` is fed the run's events (``apply``) and drawn at any moment
(``render(now)``) — the running tasks with role, attempt, elapsed time and
last progress message; tasks in back-off and agent kinds behind a rate limit,
each with a countdown; a progress bar with an ETA from the completions so
far; the cost so far.  It is built only from the events, so the executor pays
nothing for it when stdout is no terminal, and each count is kept as the
events arrive (no scan of the task list per frame).

Events it reads, beyond their kind and task: ``data.role`` / ``data.attempt``
(spawned), ``data.retry_at`` (retry), ``data.cost_usd`` (one attempt's
spending) or ``data.spent_usd`` (the run's total), ``data.agent_kind`` with
``data.until`` (a rate limit until then; without ``until``: lifted).  Text is
drawn as ``rich.text.Text``, never parsed as markup, so nothing printed can
leak tags onto the screen.  A lock guards the state: rich
redraws from its own thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.console import Group
from rich.text import Text

from teamexec.core.events import Event, EventKind

BAR_WIDTH = 28
MAX_ROWS = 12  # running tasks shown; the rest are counted


def clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class Row:
    task_id: str
    role: str
    attempt: int | None
    started: float
    message: str = ""


@dataclass
class LiveState:
    total: int
    done: int
    started: float
    running: dict[str, Row] = field(default_factory=dict)
    waiting: dict[str, tuple[float, int | None, str]] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)  # agent kind -> until
    failed: int = 0
    done_here: int = 0  # completions in this execution: the ETA's rate
    cost_usd: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def apply(self, event: Event, now: float) -> None:
        with self.lock:
            self._apply(event, now)

    def _apply(self, event: Event, now: float) -> None:
        data = event.data or {}
        task = event.task_id
        cost = data.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            self.cost_usd += float(cost)  # one attempt's spending
        spent = data.get("spent_usd")
        if isinstance(spent, int | float) and not isinstance(spent, bool):
            self.cost_usd = float(spent)  # the run's total so far
        if "agent_kind" in data:  # a rate-limit event: closed until a time, or open again
            until = data.get("until", data.get("rate_limited_until"))
            agent = str(data["agent_kind"])
            if isinstance(until, int | float) and not isinstance(until, bool):
                self.limits[agent] = float(until)
            else:
                self.limits.pop(agent, None)
        if task is None:
            return
        kind = event.kind
        if kind in (EventKind.SPAWNED, EventKind.WORKER_ADOPTED):
            attempt = data.get("attempt")
            self.waiting.pop(task, None)
            self.running[task] = Row(
                task,
                str(data.get("role") or (event.source if event.source != "executor" else "?")),
                attempt if isinstance(attempt, int) else None,
                now,
            )
        elif kind is EventKind.PROGRESS and task in self.running:
            self.running[task].message = event.text.removeprefix(task).strip()
        elif kind is EventKind.COMPLETED:
            self.running.pop(task, None)
            self.waiting.pop(task, None)
            self.done += 1
            self.done_here += 1
        elif kind is EventKind.RETRY:
            self.running.pop(task, None)
            retry_at = data.get("retry_at")
            attempt = data.get("attempt")
            if isinstance(retry_at, int | float):
                self.waiting[task] = (
                    float(retry_at),
                    attempt + 1 if isinstance(attempt, int) else None,
                    str(data.get("reason") or ""),
                )
        elif kind is EventKind.FAILED:
            self.running.pop(task, None)
            self.waiting.pop(task, None)
            self.failed += 1

    # ------------------------------------------------------------- drawing
    def eta(self, now: float) -> float | None:
        """Seconds left at this execution's rate of completions; None before the first."""
        left = self.total - self.done - self.failed
        if self.done_here == 0 or left <= 0:
            return None
        return (now - self.started) / self.done_here * left

    def lines(self, now: float) -> list[Text]:
        with self.lock:
            return self._lines(now)

    def _lines(self, now: float) -> list[Text]:
        share = self.done / self.total if self.total else 1.0
        filled = round(BAR_WIDTH * share)
        head = Text("pipeline ", style="bold")
        head.append("━" * filled, style="green")
        head.append("━" * (BAR_WIDTH - filled), style="grey37")
        head.append(f" {self.done}/{self.total}")
        if self.failed:
            head.append(f" ({self.failed} failed)", style="red")
        head.append(f"  {clock(now - self.started)}")
        eta = self.eta(now)
        if eta is not None:
            head.append(f"  ETA ~{clock(eta)}", style="cyan")
        if self.cost_usd:
            head.append(f"  ${self.cost_usd:.2f}", style="yellow")
        out = [head]
        rows = sorted(self.running.values(), key=lambda r: r.started)
        for row in rows[:MAX_ROWS]:
            line = Text("  ▶ ", style="blue")
            line.append(f"{row.task_id:<18} ", style="bold")
            line.append(f"{row.role:<12} ")
            line.append(f"#{row.attempt if row.attempt is not None else '?'}  ")
            line.append(clock(now - row.started))
            if row.message:
                line.append(f"  {row.message[:60]}", style="dim")
            out.append(line)
        if len(rows) > MAX_ROWS:
            out.append(Text(f"  … and {len(rows) - MAX_ROWS} more running", style="dim"))
        for task_id, (at, attempt, reason) in sorted(self.waiting.items(), key=lambda w: w[1][0]):
            line = Text("  ↻ ", style="yellow")
            line.append(f"{task_id:<18} ", style="bold")
            which = f"attempt {attempt}" if attempt is not None else "retry"
            line.append(f"{which} in {clock(at - now)}")
            if reason:
                line.append(f"  after: {reason[:60]}", style="dim")
            out.append(line)
        for kind, until in sorted(self.limits.items()):
            if until > now:
                line = Text("  ⏸ ", style="magenta")
                line.append(f"{kind} rate-limited, spawns resume in {clock(until - now)}")
                out.append(line)
        return out

    def render(self, now: float) -> Group:
        return Group(*self.lines(now))
