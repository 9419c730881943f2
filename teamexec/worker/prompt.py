"""The prompt a built-in worker gives its agent on stdin (PROTOCOL §7).

Built by the Python worker (``main.py``) for each task it runs, and by the
executor (``pool.py``) for the lean shell worker, which cannot build it.
It follows CCW's team-executor "v2 Worker Spawn" template, so an agent that
knows CCW's team-worker contract finds what it expects, and one that does not
is told how to report:

1. ``## Role Assignment`` — role, role_spec (an absolute path), session,
   session_id, team_name, requirement, inner_loop, one ``key: value`` a line;
2. ``## Progress Milestones`` — how to report progress, blockers and
   completion with ``teamexec msg`` (and with team_msg where CCW's tools are);
3. "Read role_spec file to load Phase 2-4 domain instructions.";
4. the task: subject and description;
5. the role-spec body (Phase 2-4), so an agent without file tools has it too.

Standard library only: the worker imports this.
"""

from __future__ import annotations

import os

from teamexec.validation.frontsplit import split_frontmatter


def split_frontmatter_body(text: str) -> str:
    """The markdown after a leading ``---`` ... ``---`` block; ``text`` when there is none.

    A plain text split, no YAML: the executor has already validated the
    role-spec in force, and the worker must not pay for a YAML import.
    """
    parts = split_frontmatter(text.removeprefix("\ufeff"))
    return text if parts is None else parts[2].lstrip("\r\n")


def milestones(*, session_id: str, task_id: str, role: str) -> str:
    """The ``## Progress Milestones`` block: CCW's three lines, then the exact commands.

    ``teamexec msg`` reads the task and the inbox from the environment the
    worker passes on; team_msg lines (CCW's tool) land in the same session's
    ``.msg/messages.jsonl`` and are applied once, whichever way arrives first.
    """
    tag = f"[{task_id}]"
    return (
        "## Progress Milestones\n"
        "\n"
        f"session_id: {session_id}\n"
        "Report progress at natural phase boundaries "
        "(context loaded -> core work done -> verification).\n"
        "Report blockers immediately.\n"
        "Report completion after the deliverable is written, as the last step.\n"
        "\n"
        "With teamexec (always available to you):\n"
        "\n"
        f'    teamexec msg progress --summary "{tag} <phase done> (<pct>%)" '
        '--data \'{"progress_pct": 30, "phase": "context loaded"}\'\n'
        f'    teamexec msg blocker --summary "{tag} BLOCKED: <what blocks you>"\n'
        f'    teamexec msg task_complete --summary "{tag} Complete: <one-line result>" '
        '--data \'{"artifact": "artifacts/<file>"}\'\n'
        f'    teamexec msg partial_completion --summary "{tag} <what is missing>" '
        "--data '{\"score\": <0-100>}'   (quality gate still failing after 2 retries)\n"
        f'    teamexec msg error --summary "{tag} <why it cannot be done>"\n'
        "\n"
        "Where CCW's tools are available, log the same with team_msg "
        f'(operation="log", session_id="{session_id}", from="{task_id}", '
        'to="coordinator", type="progress" | "blocker" | "task_complete", '
        f'data={{task_id: "{task_id}", role: "{role}", ...}}); '
        "either way is applied once.\n"
    )


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
    """The agent's whole prompt as markdown (see the module docstring for its parts).

    ``role_spec`` and ``session`` are made absolute: the agent runs in the
    project root, not in the session, and team-worker reads the role_spec
    file by that path.
    """
    description = task_description.strip() or "(no description)"
    return (
        "## Role Assignment\n"
        "\n"
        f"role: {role}\n"
        f"role_spec: {os.path.abspath(role_spec) if role_spec else role_spec}\n"
        f"session: {os.path.abspath(session) if session else session}\n"
        f"session_id: {session_id}\n"
        f"team_name: {team_name}\n"
        f"requirement: {requirement.strip()}\n"
        f"inner_loop: {'true' if inner_loop else 'false'}\n"
        "\n"
        f"{milestones(session_id=session_id, task_id=task_id, role=role)}"
        "\n"
        "Read role_spec file to load Phase 2-4 domain instructions.\n"
        "\n"
        f"## Task {task_id}: {task_subject.strip()}\n"
        "\n"
        f"{description}\n"
        "\n"
        "## Role Spec\n"
        "\n"
        f"{role_body.strip()}\n"
    )
