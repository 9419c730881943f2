"""The prompt a built-in worker gives its agent on stdin (PROTOCOL §7).

The role assignment (role, role_spec, session, session_id, team_name,
requirement, inner_loop), then the task, then the role-spec body.
Standard library only.
"""

from __future__ import annotations


def split_frontmatter_body(text: str) -> str:
    """The markdown after a leading ``---`` ... ``---`` block (plain text, no YAML)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return text
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[index + 1 :]).lstrip("\n")
    return text


def build_prompt(
    *,
    role: str,
    role_spec: str,
    session: str,
    session_id: str,
    team_name: str,
    requirement: str,
    inner_loop: bool,
    task_id: str,
    task_subject: str,
    task_description: str,
    role_body: str,
) -> str:
    return (
        "## Role Assignment\n"
        f"role: {role}\n"
        f"role_spec: {role_spec}\n"
        f"session: {session}\n"
        f"session_id: {session_id}\n"
        f"team_name: {team_name}\n"
        f"requirement: {requirement}\n"
        f"inner_loop: {str(inner_loop).lower()}\n"
        "\n"
        f"## Task {task_id}: {task_subject}\n"
        "\n"
        f"{task_description.strip()}\n"
        "\n"
        "## Role Spec\n"
        "\n"
        f"{role_body.strip()}\n"
    )
