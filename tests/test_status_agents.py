"""check's agent lines: what was spent against the budget, rate limits until when, evidence."""

from __future__ import annotations

from factories import make_session
from teamexec.core import ratelimit
from teamexec.core.model import ExecutorConfig, Task
from teamexec.core.status import _agent_lines, agent_view


def test_check_shows_spending_budget_rate_limit_and_missing_evidence():
    gates = ratelimit.limited({}, "claude", now=0.0, resets_at=3600.0 + 300, reason="429")
    session = make_session(
        {"A-001": [], "A-002": []},
        data={"rate_limits": ratelimit.to_json(gates)},
        executor=ExecutorConfig(budget_usd=1.0),
    )
    runs = [{"attempt": 1, "cost_usd": 0.25, "tokens": {"input": 10, "output": 5}, "turns": 2}]
    tasks = {
        "A-001": Task(
            {
                "id": "A-001",
                "status": "completed",
                "owner": "a",
                "metadata": {"runs": runs, "evidence_missing": ["artifacts/a.md"]},
            }
        ),
        "A-002": Task({"id": "A-002", "status": "pending", "owner": "a"}),
    }
    view = agent_view(session, tasks, now=60.0)
    assert view["usage"]["run"]["cost_usd"] == 0.25
    assert view["rate_limits"][0]["agent_kind"] == "claude"
    assert view["evidence_missing"] == ["A-001"]
    assert _agent_lines(view) == [
        "Spent: $0.2500, 1 attempt(s), 15 tokens (budget $1)",
        "Rate limit: claude rate-limited until 01:05 UTC (429)",
        "Completed without a deliverable written during the attempt: A-001",
    ]
