"""The reporter: the one place that prints while a pipeline runs.

Core code returns ``Event`` records; the reporter turns them into one line
each (``[executor] spawned researcher for RESEARCH-001``), keeps a live
progress bar above them when stdout is a terminal (rich), and with
``--json`` prints only a final machine-readable summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from teamexec.core.events import Event, EventKind


class Reporter:
    def __init__(self, *, json_out: bool = False, out: TextIO | None = None) -> None:
        self.json_out = json_out
        self.out = out or sys.stdout
        self.live: Any = None
        self.progress: Any = None
        self.bar: Any = None
        self.done = 0

    # ------------------------------------------------------------- lifecycle
    def start(self, *, total: int, done: int) -> None:
        self.done = done
        if self.json_out or not self.out.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[bold]pipeline",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.out),
            transient=True,
        )
        self.bar = self.progress.add_task("pipeline", total=total, completed=done)
        self.progress.start()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # ---------------------------------------------------------------- output
    def line(self, text: str) -> None:
        if self.json_out:
            return
        if self.progress is not None:
            self.progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.out, flush=True)

    def event(self, event: Event) -> None:
        if event.kind is EventKind.COMPLETED and self.progress is not None:
            self.done += 1
            self.progress.update(self.bar, completed=self.done)
        self.line(event.line())

    def summary(self, value: Mapping[str, Any]) -> None:
        if self.json_out:
            print(json.dumps(value, indent=2, ensure_ascii=False), file=self.out, flush=True)

    def dry_run(self, view: Mapping[str, Any]) -> None:
        if self.json_out:
            print(json.dumps(view, indent=2, ensure_ascii=False), file=self.out)
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
