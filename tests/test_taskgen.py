"""The task description in dispatch.md's layout, for any JSON value in the hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from teamexec.core.model import ExecutorConfig, GraphNode, RoleSpec, Session, Task, TaskDetails
from teamexec.core.taskgen import describe, inline, items, new_task


def _session(inner: bool = False) -> Session:
    spec = RoleSpec(
        role="developer",
        prefix="IMPL",
        inner_loop=inner,
        success_type="impl_complete",
        error_type="error",
        body="",
        path="role-specs/developer.md",
    )
    return Session(
        root=Path("/p/.workflow/.team/TC-x"),
        data={"session_id": "TC-x", "task_description": "d", "status": "active"},
        analysis={},
        roles={},
        specs={"developer": spec},
        graph={},
        executor=ExecutorConfig(),
    )


def test_ccw_shapes_render_as_dispatch_md_lays_them_out():
    # analyze-task.md "Phase 4: Output": success_criteria and constraints are strings
    details = TaskDetails(
        goal="Implement the login form",
        steps=("step 1: build", "step 2: wire"),
        key_files=("src/a.ts", "src/b.ts"),
        upstream_artifacts=("design-spec.md",),
        success_criteria="Measurable completion condition",
        constraints="Scope limits, focus areas",
        artifacts=("implementation-summary.md",),
    )
    node = GraphNode("IMPL-001", ("DESIGN-001",), "developer", details)
    text = describe(
        node, session=_session(inner=True), spec=_session(inner=True).specs["developer"]
    )
    assert text == (
        "PURPOSE: Implement the login form | Success: Measurable completion condition\n"
        "TASK:\n"
        "  - step 1: build\n"
        "  - step 2: wire\n"
        "CONTEXT:\n"
        "  - Session: /p/.workflow/.team/TC-x\n"
        "  - Upstream artifacts: design-spec.md\n"
        "  - Key files: src/a.ts, src/b.ts\n"
        '  - Shared state: team_msg(operation="get_state", session_id=TC-x)\n'
        "EXPECTED: /p/.workflow/.team/TC-x/artifacts/implementation-summary.md"
        " + verified as the role-spec's Phase 4 says\n"
        "CONSTRAINTS: Scope limits, focus areas\n"
        "---\n"
        "InnerLoop: true\n"
        "RoleSpec: /p/.workflow/.team/TC-x/role-specs/developer.md"
    )


@pytest.mark.parametrize(
    ("value", "line", "bullets"),
    [
        pytest.param("a string", "a string", ["a string"], id="string"),
        pytest.param("two\nlines", "two lines", ["two", "lines"], id="multiline"),
        pytest.param(("a", "b"), "a; b", ["a", "b"], id="list"),
        pytest.param({"k": "v", "n": 2}, "k: v; n: 2", ["k: v", "n: 2"], id="object"),
        pytest.param(3, "3", ["3"], id="number"),
        pytest.param(True, "true", ["true"], id="bool"),
        pytest.param(None, "", [], id="null"),
        pytest.param(("a", {"x": [1, 2]}), "a; x: 1, 2", ["a", "x: 1, 2"], id="nested"),
    ],
)
def test_any_json_value_renders(value, line, bullets):
    assert inline(value) == line
    assert items(value) == bullets


def test_odd_values_never_break_the_description():
    details = TaskDetails(
        goal={"what": "x"},
        steps="do it",
        success_criteria=["a", "b"],
        constraints=None,
        key_files=7,
        artifacts="report.md",
    )
    node = GraphNode("IMPL-001", (), "developer", details)
    text = describe(node, session=_session(), spec=None)
    assert text.startswith("PURPOSE: what: x | Success: a; b\nTASK:\n  - do it\n")
    assert "  - Key files: 7\n" in text
    assert "artifacts/report.md" in text
    assert "CONSTRAINTS" not in text


def test_new_task_subject_is_the_task_id():
    node = GraphNode("IMPL-001", (), "developer", TaskDetails(goal="g"))
    task = new_task(node, session=_session(), blocks=(), completed=False, now=0.0)
    assert task.data["subject"] == "IMPL-001"


@pytest.mark.parametrize("completed", [False, True])
@pytest.mark.parametrize("role", ["developer", None, ""])
def test_the_fields_new_task_sets_are_what_its_data_says(completed, role):
    node = GraphNode("IMPL-002", ("IMPL-001", "DOC-3"), role, TaskDetails())
    task = new_task(node, session=_session(), blocks=(), completed=completed, now=0.0)
    again = Task(dict(task.data))  # computes every field from the data
    assert (task.status, task.owner, task.blocked_by) == (
        again.status,
        again.owner,
        again.blocked_by,
    )
