from teamexec.prompt import build_prompt, split_frontmatter_body


def test_prompt_has_assignment_then_task_then_role_body():
    text = build_prompt(
        role="writer",
        role_spec="/s/role-specs/writer.md",
        session="/s",
        session_id="S-1",
        team_name="team",
        requirement="Write it",
        inner_loop=False,
        task_id="DRAFT-001",
        task_subject="Draft",
        task_description="PURPOSE: draft",
        role_body="## Phase 2\nread",
    )
    assert text.index("role: writer") < text.index("## Task DRAFT-001") < text.index("## Phase 2")
    for line in (
        "session_id: S-1",
        "team_name: team",
        "requirement: Write it",
        "inner_loop: false",
    ):
        assert line in text


def test_split_frontmatter_body():
    assert split_frontmatter_body("---\na: 1\n---\n\n# Body\n") == "# Body\n"
    assert split_frontmatter_body("# No frontmatter\n") == "# No frontmatter\n"
