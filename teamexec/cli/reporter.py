"""The reporter: the one place that prints while a pipeline runs.

Core code returns ``Event`` records; the reporter turns them into one line
each (``[executor] spawned researcher for RESEARCH-001``), keeps the live
view (liveview.py) below them when stdout is a terminal (rich), prints plain
lines when it is not, and with ``--json`` prints only a final
machine-readable summary.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from teamexec.cli import jsonout
from teamexec.core.events import Event, EventKind


class _Frame:
    """What rich redraws a few times a second: the state as of that moment."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def __rich__(self) -> Any:
        return self.state.render(time.time())


class Reporter:
    def __init__(self, *, json_out: bool = False, out: TextIO | None = None) -> None:
        self.json_out = json_out
        self.out = out or sys.stdout
        self.live: Any = None
        self.state: Any = None  # liveview.LiveState while the live view runs
        self.early: list[Event] = []  # adoptions reported before the view starts
        self.session: str | None = None  # named in the retry command of a failure line

    # ------------------------------------------------------------- lifecycle
    def start(self, *, total: int, done: int, console: Any = None) -> None:
        """The live view, on a terminal only (``console`` lets tests draw it into a file)."""
        early, self.early = self.early, []
        if console is None and (self.json_out or not self.out.isatty()):
            return
        from rich.console import Console
        from rich.live import Live

        from teamexec.cli.liveview import LiveState

        now = time.time()
        self.state = LiveState(total=total, done=done, started=now)
        for event in early:
            self.state.apply(event, now)
        self.live = Live(
            _Frame(self.state),
            console=console or Console(file=self.out),
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    # ---------------------------------------------------------------- output
    def line(self, text: str) -> None:
        if self.json_out:
            return
        if self.live is not None:
            from rich.text import Text

            # a Text is never parsed as markup: "[bold]" in a task's output stays literal
            self.live.console.print(Text(text), highlight=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def event(self, event: Event) -> None:
        if self.state is not None:
            self.state.apply(event, time.time())
        elif event.kind is EventKind.WORKER_ADOPTED and not self.json_out:
            self.early.append(event)
        text = event.line()
        if event.kind is EventKind.FAILED and self.session is not None:
            # the run goes on (it holds the lock): the command is for when it has ended
            text += (
                f"; once the run ends: teamexec resume {shlex.quote(self.session)} --retry-failed"
            )
        self.line(text)

    def summary(self, value: Mapping[str, Any]) -> None:
        if self.json_out:
            print(jsonout.dumps(value), file=self.out, flush=True)

    def dry_run(self, view: Mapping[str, Any]) -> None:
        if self.json_out:
            print(jsonout.dumps(view), file=self.out)
            return
        print(f"Dry run for {view['session']} — nothing written", file=self.out)
        print("Reconcile:", file=self.out)
        for action in view["actions"] or [{"reason": "nothing to change"}]:
            print(f"  - {action['reason']}", file=self.out)
        for msg in view["messages"]:
            verdict = "apply" if msg["accepted"] else f"reject ({msg['reason']})"
            print(f"  - inbox {msg['file']}: {verdict}", file=self.out)
        print("Would start:", file=self.out)
        for spawn in view["spawn"] or [{"role": "-", "task_id": "nothing ready"}]:
            print(f"  - {spawn['role']} for {spawn['task_id']}", file=self.out)
        for warning in view["missing_agents"]:
            print(warning, file=self.out)

    # ----------------------------------------------------------- interaction
    def interactive(self) -> bool:
        return not self.json_out and sys.stdin.isatty() and self.out.isatty()

    def ask(self, question: str) -> str:
        self.out.write(question)
        self.out.flush()
        answer = sys.stdin.readline()
        if not answer:
            raise EOFError
        return answer
