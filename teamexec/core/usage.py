"""What the agents spent, summed per task, role and run (PROTOCOL §10): pure.

Each attempt's figures are kept in its task's ``metadata.runs`` (one entry per
attempt, written when the attempt ends, see attempt.py).  The report,
``check`` and the budget all add them up here, over every attempt recorded in
the session — a resumed run counts what earlier runs spent, which is what a
budget for "the run" must do for "raise it and resume" to mean anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from teamexec.core.model import ExecutorConfig, Task, TaskStatus


@dataclass(frozen=True)
class Usage:
    cost_usd: float = 0.0
    tokens: int = 0
    turns: int = 0
    runs: int = 0  # attempts that reported figures
    rate_limited: int = 0  # attempts turned away by a rate limit

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            cost_usd=self.cost_usd + other.cost_usd,
            tokens=self.tokens + other.tokens,
            turns=self.turns + other.turns,
            runs=self.runs + other.runs,
            rate_limited=self.rate_limited + other.rate_limited,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost_usd": round(self.cost_usd, 6),
            "tokens": self.tokens,
            "turns": self.turns,
            "runs": self.runs,
            "rate_limited": self.rate_limited,
        }


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def run_usage(record: Mapping[str, Any]) -> Usage:
    """One ``metadata.runs`` entry."""
    tokens = record.get("tokens")
    count = sum(int(_number(v)) for v in tokens.values()) if isinstance(tokens, dict) else 0
    return Usage(
        cost_usd=_number(record.get("cost_usd")),
        tokens=count,
        turns=int(_number(record.get("turns"))),
        runs=1,
        rate_limited=1 if record.get("rate_limited") else 0,
    )


def runs_of(task: Task) -> list[Mapping[str, Any]]:
    runs = task.metadata.get("runs")
    return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []


def task_usage(task: Task) -> Usage:
    total = Usage()
    for record in runs_of(task):
        total = total + run_usage(record)
    return total


def totals(tasks: Iterable[Task]) -> dict[str, Any]:
    """``{"run": {...}, "roles": {role: {...}}}`` over every recorded attempt."""
    run = Usage()
    roles: dict[str, Usage] = {}
    for task in tasks:
        if task.status is TaskStatus.DELETED or "runs" not in task.metadata:
            continue
        used = task_usage(task)
        run = run + used
        role = task.owner or "?"
        roles[role] = roles.get(role, Usage()) + used
    return {
        "run": run.as_dict(),
        "roles": {role: used.as_dict() for role, used in sorted(roles.items())},
    }


def over_budget(spent: Usage, executor: ExecutorConfig) -> str | None:
    """Why no new worker may start ("spent $0.42 of the $0.40 budget"), or None."""
    parts = []
    if executor.budget_usd is not None and spent.cost_usd >= executor.budget_usd:
        parts.append(f"spent ${spent.cost_usd:.4f} of the ${executor.budget_usd:g} budget")
    if executor.budget_tokens is not None and spent.tokens >= executor.budget_tokens:
        parts.append(f"used {spent.tokens} of the {executor.budget_tokens} token budget")
    return "; ".join(parts) or None
