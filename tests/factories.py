"""Builders for in-memory sessions and tasks, so core tests need no files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from teamexec.core.model import (
    ExecutorConfig,
    GraphNode,
    RoleDef,
    RoleSpec,
    Session,
    Task,
    TaskStatus,
)


def make_spec(role: str, prefix: str, **overrides: Any) -> RoleSpec:
    fields: dict[str, Any] = {
        "role": role,
        "prefix": prefix,
        "inner_loop": False,
        "success_type": f"{prefix.lower()}_complete",
        "error_type": "error",
        "body": "## Phase 2\n## Phase 3\n## Phase 4\n",
        "path": f"role-specs/{role}.md",
        "agent": ("true",),
    }
    fields.update(overrides)
    return RoleSpec(**fields)


def make_session(
    graph: Mapping[str, Sequence[str]],
    *,
    roles: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    executor: ExecutorConfig | None = None,
    specs: Mapping[str, RoleSpec] | None = None,
    root: Path = Path("/tmp/session"),
) -> Session:
    """``graph`` maps task id -> deps; a task's role is its prefix lower-cased by default."""
    roles = dict(roles or {})
    nodes = {}
    for task_id, deps in graph.items():
        prefix = task_id.rsplit("-", 1)[0]
        role = roles.get(prefix, prefix.lower())
        roles.setdefault(prefix, role)
        nodes[task_id] = GraphNode(task_id, tuple(deps), role)
    role_defs = {r: RoleDef(r, p, f"role-specs/{r}.md") for p, r in roles.items()}
    all_specs = {r: make_spec(r, p) for p, r in roles.items()}
    all_specs.update(specs or {})
    base: dict[str, Any] = {
        "session_id": "S-1",
        "task_description": "test",
        "status": "active",
        "team_name": "t",
        "roles": [{"name": r, "prefix": p} for p, r in roles.items()],
    }
    base.update(data or {})
    return Session(
        root=root,
        data=base,
        analysis={},
        roles=role_defs,
        specs=all_specs,
        graph=nodes,
        executor=executor or ExecutorConfig(),
    )


def make_task(
    task_id: str,
    status: TaskStatus | str = TaskStatus.PENDING,
    *,
    deps: Sequence[str] = (),
    owner: str | None = None,
    **metadata: Any,
) -> Task:
    meta = {"attempts": 0, **metadata}
    return Task(
        {
            "id": task_id,
            "subject": task_id,
            "description": "",
            "activeForm": task_id,
            "status": TaskStatus(status).value,
            "owner": owner or task_id.rsplit("-", 1)[0].lower(),
            "blocks": [],
            "blockedBy": list(deps),
            "metadata": meta,
        }
    )
