"""The agent's prompt: assignment, then task, then role-spec body; frontmatter split by hand."""

from __future__ import annotations

import pytest

from teamexec.worker.prompt import build_prompt, split_frontmatter_body

ARGS = {
    "role": "writer",
    "role_spec": "/s/.msg/role-specs/writer.md",
    "session": "/s",
    "session_id": "S-1",
    "team_name": "team",
    "requirement": "Write it\n",
    "inner_loop": False,
    "task_id": "DRAFT-001",
    "task_subject": "Draft",
    "task_description": "PURPOSE: draft\n",
    "role_body": "## Phase 2\nread\n",
}


def test_prompt_has_assignment_then_task_then_role_body():
    assert build_prompt(**ARGS) == (
        "## Role Assignment\n"
        "\n"
        "role: writer\n"
        "role_spec: /s/.msg/role-specs/writer.md\n"
        "session: /s\n"
        "session_id: S-1\n"
        "team_name: team\n"
        "requirement: Write it\n"
        "inner_loop: false\n"
        "\n"
        "## Task DRAFT-001: Draft\n"
        "\n"
        "PURPOSE: draft\n"
        "\n"
        "## Role Spec\n"
        "\n"
        "## Phase 2\n"
        "read\n"
    )


def test_prompt_says_inner_loop_and_marks_a_missing_description():
    text = build_prompt(**{**ARGS, "inner_loop": True, "task_description": "  "})
    assert "inner_loop: true\n" in text
    assert "## Task DRAFT-001: Draft\n\n(no description)\n" in text


@pytest.mark.parametrize(
    ("text", "body"),
    [
        pytest.param("---\na: 1\n---\n\n# Body\n", "# Body\n", id="frontmatter"),
        pytest.param("# No frontmatter\n", "# No frontmatter\n", id="none"),
        pytest.param("---\na: 1\n...\n# Body\n", "# Body\n", id="dots-end"),
        pytest.param("---\r\na: 1\r\n---\r\n\r\n# Body\r\n", "# Body\r\n", id="crlf"),
        pytest.param("\ufeff---\na: 1\n---\n# Body\n", "# Body\n", id="bom"),
        pytest.param("---\na: 1\n---\n# B\n\n---\nafter\n", "# B\n\n---\nafter\n", id="rule"),
        pytest.param("---\na: 1\n# never closed\n", "---\na: 1\n# never closed\n", id="open"),
        pytest.param("", "", id="empty"),
    ],
)
def test_split_frontmatter_body(text, body):
    assert split_frontmatter_body(text) == body
