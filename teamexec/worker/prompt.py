"""The prompt a built-in worker gives its agent on stdin (PROTOCOL §7).

Built by the Python worker (``worker.py``) for each task it runs, and by the
executor (``workers.py``) for the lean shell worker, which cannot build it.
The order is the protocol's: the role assignment (role, role_spec, session,
session_id, team_name, requirement, inner_loop), then the task, then the
role-spec body.  Standard library only: the worker imports this.
"""

from __future__ import annotations

from teamexec.validation.frontsplit import split_frontmatter


def split_frontmatter_body(text: str) -> str:
    """The markdown after a leading ``---`` ... ``---`` block; ``text`` when there is none.

    A plain text split, no YAML: the executor has already validated the
    role-spec in force, and the worker must not pay for a YAML import.
    """
    parts = split_frontmatter(text.removeprefix("\ufeff"))
    return text if parts is None else parts[2].lstrip("\r\n")


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
    """The agent's whole prompt as markdown: assignment, task, then the role's phases.

    The assignment is one ``key: value`` line per field, which a role-spec's
    phases can refer to by name (``session``, ``requirement``...).
    """
    description = task_description.strip() or "(no description)"
    return (
        "## Role Assignment\n"
        "\n"
        f"role: {role}\n"
        f"role_spec: {role_spec}\n"
        f"session: {session}\n"
        f"session_id: {session_id}\n"
        f"team_name: {team_name}\n"
        f"requirement: {requirement.strip()}\n"
        f"inner_loop: {'true' if inner_loop else 'false'}\n"
        "\n"
        f"## Task {task_id}: {task_subject.strip()}\n"
        "\n"
        f"{description}\n"
        "\n"
        "## Role Spec\n"
        "\n"
        f"{role_body.strip()}\n"
    )
