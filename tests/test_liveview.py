"""The live view: drawn from the run's events into a rich Console writing to a file."""

from __future__ import annotations

import io

from rich.console import Console

from teamexec.cli.liveview import LiveState, clock
from teamexec.cli.reporter import Reporter
from teamexec.core.events import Event, EventKind

T0 = 1_800_000_000.0


def spawned(task, role, attempt):
    return Event(
        EventKind.SPAWNED,
        "executor",
        f"spawned {role} for {task}",
        task,
        {"role": role, "attempt": attempt},
    )


def draw(state: LiveState, now: float) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(state.render(now))
    return out.getvalue()


def test_running_tasks_with_role_attempt_elapsed_and_last_message():
    state = LiveState(total=4, done=0, started=T0)
    state.apply(spawned("DRAFT-001", "writer", 2), T0 + 1)
    state.apply(Event(EventKind.PROGRESS, "writer", "DRAFT-001 50% halfway", "DRAFT-001"), T0 + 2)
    text = draw(state, T0 + 8)
    assert "pipeline" in text and "0/4" in text and "0:08" in text
    row = next(line for line in text.splitlines() if "DRAFT-001" in line)
    assert "writer" in row and "#2" in row and "0:07" in row and "50% halfway" in row


def test_eta_from_the_completions_so_far():
    state = LiveState(total=4, done=0, started=T0)
    for n, task in enumerate(("A-1", "A-2")):
        state.apply(spawned(task, "a", 1), T0)
        state.apply(Event(EventKind.COMPLETED, "a", f"{task} complete", task), T0 + 5 * (n + 1))
    assert state.eta(T0 + 10) == 10.0  # 2 done in 10 s, 2 left
    text = draw(state, T0 + 10)
    assert "2/4" in text and "ETA ~0:10" in text
    assert "A-1" not in text  # finished tasks leave the running list


def test_back_off_and_rate_limit_countdowns_and_cost():
    state = LiveState(total=2, done=0, started=T0)
    state.apply(spawned("B-1", "b", 1), T0)
    retry = {"attempt": 1, "retry_at": T0 + 30, "reason": "agent exited 3"}
    state.apply(Event(EventKind.RETRY, "b", "B-1 attempt 1 failed", "B-1", retry), T0 + 5)
    limit = {"until": T0 + 125, "agent_kind": "claude"}
    state.apply(Event(EventKind.WARNING, "executor", "rate limited", None, limit), T0 + 5)
    state.apply(Event(EventKind.WARNING, "executor", "spent", None, {"spent_usd": 0.25}), T0 + 5)
    text = draw(state, T0 + 5)
    assert "B-1" in text and "attempt 2 in 0:25" in text and "after: agent exited 3" in text
    assert "claude rate-limited, spawns resume in 2:00" in text
    assert "$0.25" in text
    lifted = {"agent_kind": "claude"}
    state.apply(Event(EventKind.WARNING, "executor", "limit over", None, lifted), T0 + 6)
    assert "rate-limited" not in draw(state, T0 + 6)


def test_no_markup_leaks_through_the_reporter():
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    reporter = Reporter(out=out)
    reporter.start(total=2, done=0, console=console)
    reporter.event(spawned("A-1", "a", 1))
    reporter.line("[a] printed [bold]as is[/bold]")
    reporter.stop()
    text = out.getvalue()
    assert "[bold]as is[/bold]" in text  # what a task printed is shown literally
    assert text.count("[bold]") == 1  # and nothing of the view's own styling leaks


def test_clock():
    assert [clock(s) for s in (0, 7.9, 754, 3723)] == ["0:00", "0:07", "12:34", "1:02:03"]
