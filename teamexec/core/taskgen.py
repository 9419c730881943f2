"""Task files created from the dependency graph (PROTOCOL §3, §5, §8 step 2).

Reconciliation calls ``new_task`` for every graph node that has no task file.
The description follows the team-coordinate convention — PURPOSE / TASK /
CONTEXT / EXPECTED / CONSTRAINTS, then the InnerLoop and RoleSpec lines — so
that an agent prompted with it sees the same shape CCW's workers see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from teamexec.core.model import GraphNode, RoleSpec, Session, Task, TaskStatus, iso


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"  - {item}" for item in items)


def describe(node: GraphNode, *, session: Session, spec: RoleSpec | None) -> str:
    """The task description an agent reads, built from the graph node's details."""
    details = node.details
    purpose = details.goal or details.description or f"Carry out {node.task_id}"
    lines = [f"PURPOSE: {purpose}"]
    if details.steps:
        lines.append("TASK:\n" + _bullets(details.steps))
    elif details.description and details.description != purpose:
        lines.append(f"TASK: {details.description}")
    context = [f"Session: {session.root}", f"Requirement: {session.task_description}"]
    if node.depends_on:
        context.append("Upstream tasks: " + ", ".join(node.depends_on))
    if details.upstream_artifacts:
        context.append("Upstream artifacts: " + ", ".join(details.upstream_artifacts))
    if details.key_files:
        context.append("Key files: " + ", ".join(details.key_files))
    lines.append("CONTEXT:\n" + _bullets(context))
    expected = list(details.success_criteria)
    if details.artifacts:
        expected.append("Artifacts: " + ", ".join(f"artifacts/{a}" for a in details.artifacts))
    if expected:
        lines.append("EXPECTED:\n" + _bullets(expected))
    if details.constraints:
        lines.append("CONSTRAINTS:\n" + _bullets(details.constraints))
    inner = spec.inner_loop if spec is not None else False
    lines.append(f"InnerLoop: {str(inner).lower()}")
    role_spec_path = spec.path if spec is not None else f"role-specs/{node.role}.md"
    lines.append(f"RoleSpec: {session.root / role_spec_path}")
    return "\n".join(lines)


def new_task(
    node: GraphNode,
    *,
    session: Session,
    blocks: Sequence[str],
    completed: bool,
    now: float,
) -> Task:
    """A fresh task file for ``node``; ``completed`` when completed_tasks lists it."""
    spec = session.specs.get(node.role or "")
    subject = node.details.goal or node.details.description or node.task_id
    stamp = iso(now)
    data: Mapping[str, object] = {
        "id": node.task_id,
        "subject": subject.splitlines()[0][:200] if subject else node.task_id,
        "description": describe(node, session=session, spec=spec),
        "activeForm": f"Working on {node.task_id}",
        "status": (TaskStatus.COMPLETED if completed else TaskStatus.PENDING).value,
        "owner": node.role,
        "blocks": list(blocks),
        "blockedBy": list(node.depends_on),
        "metadata": {"created_at": stamp, "updated_at": stamp, "attempts": 0},
    }
    return Task(dict(data))
