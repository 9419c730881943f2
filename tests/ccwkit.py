"""Sessions written the way CCW's team-coordinate skill writes them (CCW 07491b04).

Every shape below comes from a CCW file, cited where it is used:

- the directory ``<project>/.workflow/.team/TC-<slug>-<date>/`` and its
  contents: .claude/skills/team-coordinate/SKILL.md ("Session Directory") and
  roles/coordinator/role.md (Phase 2 steps 7-10);
- task-analysis.json: roles/coordinator/commands/analyze-task.md ("Phase 4:
  Output") — ``success_criteria`` and ``constraints`` are *strings* there;
- role-specs: specs/role-spec-template.md ("Template": role, prefix,
  inner_loop, output_tag, CLI tools, message_types; the Phase 2-4 body);
- team-session.json: SKILL.md ("team-session.json Schema") and
  team-executor/specs/session-schema.md, with ``pipeline`` filled by
  dispatch.md step 5 ("Update team-session.json with pipeline and tasks_total");
- .msg/: the coordinator's "Session initialized" ``state_update`` through
  team_msg (role.md Phase 2 step 9), i.e. what ccw/src/tools/team-msg.ts
  writes (tests/agents/team_msg.py reproduces it);
- the Claude Code task list dispatch.md's TaskCreate/TaskUpdate calls make:
  ``<n>.json`` with subject = task id, numeric blockedBy, owner = role
  (PROTOCOL §5).

Nothing here is copied from teamexec's own examples.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "agents"))

import team_msg

CCW_AGENT = [sys.executable, str(Path(__file__).parent / "agents" / "ccw_agent.py")]

# analyze-task.md Step 1 (signal table): capability -> prefix, responsibility type;
# Step 2 (default artifacts); Step 6 (message_types.success = <prefix>_complete)
CAPABILITIES: dict[str, tuple[str, str, str]] = {
    "researcher": ("RESEARCH", "orchestration", "research-findings.md"),
    "planner": ("PLAN", "orchestration", "execution-plan.md"),
    "designer": ("DESIGN", "orchestration", "design-spec.md"),
    "writer": ("DRAFT", "code-gen (docs)", "draft.md"),
    "developer": ("IMPL", "code-gen (code)", "implementation-summary.md"),
    "analyst": ("ANALYSIS", "read-only", "analysis-report.md"),
    "tester": ("TEST", "validation", "test-report.md"),
}

# a five-task pipeline over analyze-task.md's tiers: research -> design -> impl x2 -> test
FIVE = {
    "RESEARCH-001": [],
    "DESIGN-001": ["RESEARCH-001"],
    "IMPL-001": ["DESIGN-001"],
    "IMPL-002": ["IMPL-001"],
    "TEST-001": ["IMPL-002"],
}


def role_of(task_id: str) -> str:
    prefix = task_id.rsplit("-", 1)[0]
    return next(name for name, (p, _r, _a) in CAPABILITIES.items() if p == prefix)


def serial_chain(graph: Mapping[str, Sequence[str]], role: str) -> bool:
    """analyze-task.md Step 6: inner_loop when 2+ same-prefix tasks form a serial chain."""
    mine = sorted(t for t in graph if role_of(t) == role)
    return len(mine) >= 2 and all(mine[i - 1] in graph[mine[i]] for i in range(1, len(mine)))


def task_analysis(description: str, graph: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """task-analysis.json as analyze-task.md "Phase 4: Output" shows it."""
    roles = sorted({role_of(t) for t in graph}, key=list(CAPABILITIES).index)
    capabilities = []
    for role in roles:
        prefix, responsibility, artifact = CAPABILITIES[role]
        tasks = [
            {
                "id": task_id,
                "goal": f"{task_id}: what this task achieves and why",
                "steps": [
                    "step 1: specific action with clear verb",
                    "step 2: specific action with clear verb",
                    "step 3: specific action with clear verb",
                ],
                "key_files": ["src/path/to/relevant.ts", "src/path/to/other.ts"],
                "upstream_artifacts": [CAPABILITIES[role_of(d)][2] for d in graph[task_id]],
                "success_criteria": "Measurable completion condition",
                "constraints": "Scope limits, focus areas",
            }
            for task_id in sorted(graph)
            if role_of(task_id) == role
        ]
        capabilities.append(
            {
                "name": role,
                "prefix": prefix,
                "responsibility_type": responsibility,
                "tasks": tasks,
                "artifacts": [artifact],
            }
        )
    role_entries = [
        {
            "name": role,
            "prefix": CAPABILITIES[role][0],
            "responsibility_type": CAPABILITIES[role][1],
            "task_count": sum(1 for t in graph if role_of(t) == role),
            "inner_loop": serial_chain(graph, role),
            "role_spec_metadata": {
                "CLI tools": ["explore"],
                "pattern_hint": "research",
                "output_type": "artifact",
                "message_types": {
                    "success": f"{CAPABILITIES[role][0].lower()}_complete",
                    "error": "error",
                },
            },
        }
        for role in roles
    ]
    return {
        "task_description": description,
        "capabilities": capabilities,
        "dependency_graph": {t: list(d) for t, d in graph.items()},
        "roles": role_entries,
        "complexity": {
            "capability_count": len(roles),
            "cross_domain_factor": len(roles) >= 3,
            "parallel_tracks": 0,
            "serial_depth": len(graph),
            "total_score": len(roles) + len(graph),
            "level": "medium",
        },
        "needs_research": False,
        "artifacts": [
            {"name": CAPABILITIES[r][2], "producer": r, "path": f"artifacts/{CAPABILITIES[r][2]}"}
            for r in roles
        ],
    }


def role_spec(role: str, *, inner_loop: bool) -> str:
    """A role-spec from specs/role-spec-template.md's "Template", placeholders filled."""
    prefix = CAPABILITIES[role][0]
    title = role.capitalize()
    return f"""---
role: {role}
prefix: {prefix}
inner_loop: {str(inner_loop).lower()}
output_tag: "[{role}]"
CLI tools: [explore]
message_types:
  success: {prefix.lower()}_complete
  error: error
---

# {title} — Phase 2-4

Tag: [{role}] | Prefix: {prefix}-*
Responsibility: {CAPABILITIES[role][1]}

### MUST
- Work only on {prefix}-* tasks

### MUST NOT
- Execute work outside assigned prefix
- Modify artifacts from other roles
- Skip Phase 4 verification

## Phase 2: Context Loading

Load upstream artifacts and `team_msg(operation="get_state")`.

## Phase 3: Execution

Produce the deliverable for the task.

## Phase 4: Verification

Verify the artifact exists in `<session>/artifacts/` and update shared state via
`team_msg(operation="log", type="state_update", data={{...}})`.

## Error Handling

| Scenario | Resolution |
|----------|------------|
| Upstream artifact missing | Report blocker |
| Verification fails | Retry Phase 3 (max 2) |
| Still fails | Report partial_completion |
"""


def write_ccw_session(
    project: Path,
    graph: Mapping[str, Sequence[str]] = FIVE,
    *,
    session_id: str = "TC-demo-2026-11-26",
    description: str = "research, design, implement and test a demo feature",
) -> Path:
    """Lay out a session as team-coordinate's coordinator leaves it after Phase 3.

    Returns the session directory ``<project>/.workflow/.team/<session_id>``.
    """
    root = project / ".workflow" / ".team" / session_id
    root.mkdir(parents=True)
    analysis = task_analysis(description, graph)
    (root / "task-analysis.json").write_text(team_msg.stringify(analysis, 2))
    roles = [r["name"] for r in analysis["roles"]]
    (root / "role-specs").mkdir()
    for entry in analysis["roles"]:
        text = role_spec(entry["name"], inner_loop=entry["inner_loop"])
        (root / "role-specs" / f"{entry['name']}.md").write_text(text)
    for name, header in (
        ("learnings.md", "# Learnings"),
        ("decisions.md", "# Decisions"),
        ("issues.md", "# Issues"),
    ):  # role.md Phase 2 step 8: "empty with headers"
        (root / "wisdom").mkdir(exist_ok=True)
        (root / "wisdom" / name).write_text(header + "\n")
    (root / "explorations").mkdir()
    (root / "explorations" / "cache-index.json").write_text('{ "entries": [] }')
    (root / "discussions").mkdir()
    old = os.environ.get("CCW_PROJECT_ROOT")
    os.environ["CCW_PROJECT_ROOT"] = str(project)
    try:  # role.md Phase 2 step 9: pipeline metadata through team_msg
        team_msg.log(
            session_id,
            sender="coordinator",
            type_="state_update",
            summary="Session initialized",
            data={
                "pipeline_mode": "dynamic",
                "pipeline_stages": roles,
                "roles": ["coordinator", *roles],
                "team_name": "demo",
            },
        )
    finally:
        if old is None:
            os.environ.pop("CCW_PROJECT_ROOT", None)
        else:
            os.environ["CCW_PROJECT_ROOT"] = old
    session = {  # role.md Phase 2 step 10, SKILL.md "team-session.json Schema"
        "session_id": session_id,
        "task_description": description,
        "status": "active",
        "team_name": "demo",
        "roles": [
            {
                "name": entry["name"],
                "prefix": entry["prefix"],
                "responsibility_type": entry["responsibility_type"],
                "inner_loop": entry["inner_loop"],
                "role_spec": f"role-specs/{entry['name']}.md",
            }
            for entry in analysis["roles"]
        ],
        "pipeline": {  # dispatch.md step 5
            "dependency_graph": analysis["dependency_graph"],
            "tasks_total": len(graph),
            "tasks_completed": 0,
        },
        "active_workers": [],
        "completed_tasks": [],
        "completion_action": "interactive",
        "created_at": team_msg.now_iso(),
    }
    (root / "team-session.json").write_text(team_msg.stringify(session, 2))
    return root


def claude_list(
    directory: Path,
    session: Path,
    graph: Mapping[str, Sequence[str]] = FIVE,
    *,
    done: Sequence[str] = (),
    trackers: Sequence[str] = (),
) -> dict[str, int]:
    """The Claude Code task list dispatch.md's TaskCreate/TaskUpdate calls leave.

    Tasks are created in topological order (dispatch.md step 2), numbered from 1;
    ``trackers`` are Claude's own to-dos, not graph nodes.  Returns subject -> number.
    """
    directory.mkdir(parents=True, exist_ok=True)
    number: dict[str, int] = {}
    order: list[str] = []
    while len(order) < len(graph):
        for task_id in sorted(graph):
            if task_id not in order and all(d in order for d in graph[task_id]):
                order.append(task_id)
    for subject in [*trackers, *order]:
        number[subject] = len(number) + 1
    for subject, n in number.items():
        deps = graph.get(subject, ())
        entry = {
            "id": str(n),
            "subject": subject,
            "description": f"RoleSpec: {session}/role-specs/{role_of(subject)}.md"
            if subject in graph
            else "a to-do of Claude's own",
            "activeForm": f"Working on {subject}",
            "status": "completed" if subject in done else "pending",
            "owner": role_of(subject) if subject in graph else "",
            "blocks": [str(number[t]) for t in graph if subject in graph.get(t, ())],
            "blockedBy": [str(number[d]) for d in deps],
        }
        (directory / f"{n}.json").write_text(json.dumps(entry, indent=2))
    return number
