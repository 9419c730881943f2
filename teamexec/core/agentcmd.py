"""Which command runs a role's agent (PROTOCOL §4), decided without running anything.

First found: the role-spec's ``agent``, ``--agent`` on the command line,
``TEAMEXEC_AGENT`` in the environment, team-session.json ``executor.agent``.
A string is split like a shell would split it, but never run by one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from teamexec.core.model import ExecutorConfig, RoleSpec


def split_command(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    argv = tuple(shlex.split(value)) if isinstance(value, str) else tuple(value)
    return argv or None


def resolve_agent(
    spec: RoleSpec,
    *,
    cli_agent: str | None,
    env: Mapping[str, str],
    executor: ExecutorConfig,
) -> tuple[str, ...] | None:
    for candidate in (spec.agent, cli_agent, env.get("TEAMEXEC_AGENT"), executor.agent):
        argv = split_command(candidate)
        if argv:
            return argv
    return None


def runnable(spec: RoleSpec, agent: tuple[str, ...] | None) -> bool:
    """A role can run when it has an agent for the built-in worker, or its own worker."""
    return agent is not None or spec.worker is not None


NO_AGENT = (
    "role {role} has no agent command: set `agent:` in its frontmatter, "
    "or pass --agent, or set TEAMEXEC_AGENT or executor.agent"
)


def roles_without_agent(
    specs: Mapping[str, RoleSpec],
    *,
    cli_agent: str | None,
    env: Mapping[str, str],
    executor: ExecutorConfig,
) -> list[str]:
    """The roles ``run`` refuses to start (sorted): no agent and no worker of their own.

    One check for ``run``'s refusal, ``check``'s warning and the engine's set
    of runnable roles.
    """
    return sorted(
        role
        for role, spec in specs.items()
        if not runnable(spec, resolve_agent(spec, cli_agent=cli_agent, env=env, executor=executor))
    )
