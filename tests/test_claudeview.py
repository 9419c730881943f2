"""claudeview: the mirror leads a team-worker's Phase 1 to the task teamexec chose for it."""

from __future__ import annotations

from teamexec.core.claudeview import agent_view
from teamexec.core.model import Task


def task(tid: str, status: str, owner: str = "impl", deps: tuple[str, ...] = ()) -> Task:
    return Task({"id": tid, "status": status, "owner": owner, "blockedBy": list(deps)})


def test_chosen_task_pending_siblings_blocked_by_held_tasks_other_roles_untouched():
    tasks = {
        "IMPL-001": task("IMPL-001", "pending"),
        "IMPL-002": task("IMPL-002", "in_progress"),
        "IMPL-003": task("IMPL-003", "in_progress"),
        "IMPL-004": task("IMPL-004", "pending", deps=("IMPL-001",)),
        "TEST-001": task("TEST-001", "pending", owner="test"),
    }
    view = {
        t.id: t
        for t in agent_view(tasks, fresh=["IMPL-003"], held={"impl": {"IMPL-002", "IMPL-003"}})
    }
    assert view["IMPL-003"].status.value == "pending"  # the agent claims it itself
    assert "IMPL-002" not in view  # held by a running agent: left as it is
    assert view["IMPL-001"].blocked_by == ("IMPL-002", "IMPL-003")
    assert view["IMPL-004"].blocked_by == ("IMPL-001", "IMPL-002", "IMPL-003")
    assert "TEST-001" not in view
    assert tasks["IMPL-003"].status.value == "in_progress"  # the task files keep the truth


def test_staggered_starts_one_unclaimed_claude_agent_per_role():
    from teamexec.core.claudeview import staggered
    from teamexec.core.schedule import Spawn

    plan = [Spawn("IMPL-001", "impl"), Spawn("IMPL-002", "impl"), Spawn("TEST-001", "test")]
    assert staggered(plan, roles={"impl"}, waiting=set()) == plan[:1] + plan[2:]
    assert staggered(plan, roles={"impl"}, waiting={"impl"}) == plan[2:]
    assert staggered(plan, roles=set(), waiting=set()) == plan
