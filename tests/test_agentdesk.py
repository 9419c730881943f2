"""The agent desk (executor/agents.py): what the executor knows of each role's agent."""

from __future__ import annotations

from dataclasses import replace

from factories import make_session
from teamexec.core.agentout import AgentKind
from teamexec.executor.agents import AgentDesk
from teamexec.storage.paths import SessionPaths


def test_the_desk_works_a_roles_kind_out_once_per_role_spec(tmp_path):
    """Asked several times a task, resolved once; a reloaded role-spec is resolved again."""
    session = make_session({"DEV-001": []}, roles={"DEV": "developer"})
    specs = dict(session.specs)
    asked: list[str] = []

    def agent_for(role: str) -> tuple[str, ...] | None:
        asked.append(role)
        return specs[role].agent

    desk = AgentDesk(
        paths=SessionPaths(tmp_path),
        session=session,
        specs=specs,
        agent_for=agent_for,
        emit=lambda _event: None,
        now=0.0,
    )
    assert [desk.kind("developer") for _ in range(3)] == [AgentKind.PLAIN] * 3
    assert asked == ["developer"]
    specs["developer"] = replace(specs["developer"], agent=("claude", "-p"))  # reloaded
    assert desk.kind("developer") is AgentKind.CLAUDE
    assert desk.kind(None) is AgentKind.PLAIN and desk.kind("nobody") is AgentKind.PLAIN
