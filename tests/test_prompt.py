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


def test_prompt_follows_the_v2_worker_spawn_template():
    # PROTOCOL v2 §7: Role Assignment, Progress Milestones, the role_spec line, task, body
    text = build_prompt(**ARGS)
    assert text.startswith(
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
        "## Progress Milestones\n"
        "\n"
        "session_id: S-1\n"
    )
    order = [
        "## Role Assignment",
        "## Progress Milestones",
        "teamexec msg progress",
        "teamexec msg blocker",
        "teamexec msg task_complete",
        "team_msg",
        "Read role_spec file to load Phase 2-4 domain instructions.",
        "## Task DRAFT-001: Draft\n\nPURPOSE: draft\n",
        "## Role Spec\n\n## Phase 2\nread\n",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert text.endswith("## Phase 2\nread\n")
    assert 'from="DRAFT-001"' in text  # team_msg lines name the task, as team-worker does


def test_role_spec_and_session_paths_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = build_prompt(**{**ARGS, "role_spec": "s/role-specs/w.md", "session": "s"})
    assert f"role_spec: {tmp_path}/s/role-specs/w.md\n" in text
    assert f"session: {tmp_path}/s\n" in text


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
