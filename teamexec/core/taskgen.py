"""Task files created from the dependency graph (PROTOCOL §3, §5, §8 step 2).

Reconciliation calls ``new_task`` for every graph node that has no task file.
The description is laid out as CCW's team-coordinate dispatch.md lays out the
description of its TaskCreate calls — PURPOSE / TASK / CONTEXT / EXPECTED /
CONSTRAINTS, a ``---`` line, then ``InnerLoop:`` and ``RoleSpec:`` — so that an
agent prompted with it sees the shape CCW's team-worker expects.  The subject
is the task id, as dispatch.md's ``subject: "<PREFIX>-<NNN>"``.

The task details are hints written by an LLM planner (PROTOCOL §0: lenient
where teamexec only passes on): each may be a string, a list or any JSON
value, and is rendered sensibly — strings as they are, lists item by item,
objects as ``key: value`` pairs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from teamexec.core.model import GraphNode, RoleSpec, Session, Task, TaskStatus, iso


def inline(value: Any, *, sep: str = "; ") -> str:
    """One line for any JSON value: lists joined with ``sep``, objects as ``k: v``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split()) if "\n" in value else value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, Mapping):
        parts = (f"{k}: {inline(v, sep=', ')}" for k, v in value.items())
        return sep.join(p for p in parts if not p.endswith(": "))
    if isinstance(value, Sequence):
        return sep.join(text for item in value if (text := inline(item, sep=", ")))
    return str(value)


def items(value: Any) -> list[str]:
    """The bullets of a value: list items, object entries, or a string's non-empty lines."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, Mapping):
        return [f"{k}: {text}" for k, v in value.items() if (text := inline(v, sep=", "))]
    if isinstance(value, Sequence):
        return [text for item in value if (text := inline(item, sep=", "))]
    text = inline(value)
    return [text] if text else []


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"  - {line}" for line in lines)


def describe(node: GraphNode, *, session: Session, spec: RoleSpec | None) -> str:
    """The task description an agent reads, in dispatch.md's "Task Description Template"."""
    details = node.details
    root = session.root
    purpose = inline(details.goal) or inline(details.description) or f"Carry out {node.task_id}"
    success = inline(details.success_criteria)
    lines = [f"PURPOSE: {purpose}" + (f" | Success: {success}" if success else "")]
    steps = items(details.steps)
    if not steps and inline(details.description) and inline(details.description) != purpose:
        steps = items(details.description)
    if steps:
        lines.append("TASK:\n" + _bullets(steps))
    context = [f"Session: {root}"]
    if upstream := inline(details.upstream_artifacts, sep=", "):
        context.append(f"Upstream artifacts: {upstream}")
    if key_files := inline(details.key_files, sep=", "):
        context.append(f"Key files: {key_files}")
    context.append(
        f'Shared state: team_msg(operation="get_state", session_id={session.session_id})'
    )
    lines.append("CONTEXT:\n" + _bullets(context))
    paths = [
        a if a.startswith(("/", "artifacts/")) else f"artifacts/{a}"
        for a in items(details.artifacts)
    ]
    expected = ", ".join(str(root / p) if not p.startswith("/") else p for p in paths)
    if expected:
        lines.append(f"EXPECTED: {expected} + verified as the role-spec's Phase 4 says")
    if constraints := inline(details.constraints):
        lines.append(f"CONSTRAINTS: {constraints}")
    inner = spec.inner_loop if spec is not None else False
    role_spec_path = spec.path if spec is not None else f"role-specs/{node.role}.md"
    lines.append("---")
    lines.append(f"InnerLoop: {str(inner).lower()}")
    lines.append(f"RoleSpec: {root / role_spec_path}")
    return "\n".join(lines)


def new_task(
    node: GraphNode,
    *,
    session: Session,
    blocks: Sequence[str],
    completed: bool,
    now: float,
    described: bool = True,
    stamp: str | None = None,
) -> Task:
    """A fresh task file for ``node``; ``completed`` when completed_tasks lists it.

    ``described=False`` leaves the description empty: `check` shapes the
    missing tasks only to judge readiness, and describing 10 000 of them was
    ~0.3 s, more than half of its budget.
    """
    spec = session.specs.get(node.role or "")
    stamp = iso(now) if stamp is None else stamp  # a caller creating thousands formats it once
    status = TaskStatus.COMPLETED if completed else TaskStatus.PENDING
    data: dict[str, object] = {
        "id": node.task_id,
        "subject": node.task_id,  # dispatch.md: subject "<PREFIX>-<NNN>"; Claude lists map by it
        "description": describe(node, session=session, spec=spec) if described else "",
        "activeForm": f"Working on {node.task_id}",
        "status": status.value,
        "owner": node.role,
        "blocks": list(blocks),
        "blockedBy": list(node.depends_on),
        "metadata": {"created_at": stamp, "updated_at": stamp, "attempts": 0},
    }
    blocked_by = tuple(map(str, node.depends_on))
    return Task.known(data, status=status, owner=node.role or None, blocked_by=blocked_by)
