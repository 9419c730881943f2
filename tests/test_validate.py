"""One failing fixture per validation rule: the message, the file and the line.

Each case copies the valid fixture session (tests/fixtures/valid) to tmp_path,
damages it one way, and checks that validation names the right file and line
with the right message — and that the valid fixture and the example sessions
under sessions/ pass.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from teamexec import loader
from teamexec.errors import InvalidSession
from teamexec.loader import load_session, read_session_files
from teamexec.model import Severity
from teamexec.validate import validate_session

FIXTURE = Path(__file__).parent / "fixtures" / "valid"
REPO = Path(__file__).resolve().parent.parent


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, f"fixture lacks {old!r}"
        path.write_text(text.replace(old, new, 1))

    return apply


def write(rel: str, content: bytes | str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return apply


def remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def symlink_out(root: Path) -> None:
    outside = root.parent / "outside.md"
    shutil.copy(root / "role-specs" / "planner.md", outside)
    (root / "role-specs" / "planner.md").unlink()
    (root / "role-specs" / "planner.md").symlink_to(outside)


TS, TA = "team-session.json", "task-analysis.json"
PLANNER = "role-specs/planner.md"

CASES = [
    pytest.param(remove(TS), TS, None, "missing", id="team-session-missing"),
    pytest.param(remove(TA), TA, None, "missing", id="task-analysis-missing"),
    pytest.param(
        edit(TS, '"team_name": "fixture",', '"team_name": "fixture"'),
        TS,
        6,
        "not valid JSON",
        id="team-session-bad-json",
    ),
    pytest.param(
        edit(TS, '"session_id": "FX-valid",', ""),
        TS,
        1,
        "'session_id' is required",
        id="required-key",
    ),
    pytest.param(
        edit(TS, '"status": "active"', '"status": "running"'),
        TS,
        4,
        "/status: 'running' is not one of",
        id="status-enum",
    ),
    pytest.param(
        edit(TS, '"name": "coder", "prefix": "IMPL"', '"name": "Coder!", "prefix": "IMPL"'),
        TS,
        8,
        "does not match",
        id="role-name-pattern",
    ),
    pytest.param(
        edit(TS, '"name": "coder", "prefix": "IMPL"', '"name": "planner", "prefix": "IMPL"'),
        TS,
        8,
        "registered twice",
        id="duplicate-role",
    ),
    pytest.param(
        edit(TS, '"name": "coder", "prefix": "IMPL"', '"name": "coder", "prefix": "PLAN"'),
        TS,
        8,
        "prefix 'PLAN' is used by 'planner' too",
        id="duplicate-prefix",
    ),
    pytest.param(
        edit(TS, '"completion_action": "auto_keep"', '"completion_action": "later"'),
        TS,
        10,
        "/completion_action",
        id="completion-action",
    ),
    pytest.param(
        edit(TS, '"max_workers": 2', '"max_workers": 0'),
        TS,
        11,
        "/executor/max_workers: 0 is less than the minimum",
        id="max-workers",
    ),
    pytest.param(
        edit(TS, '"agent": "true"', '"agent": "claude \\"-p"'),
        TS,
        11,
        "executor.agent: cannot split",
        id="agent-quoting",
    ),
    pytest.param(
        remove("role-specs/coder.md"),
        "role-specs/coder.md",
        None,
        "missing",
        id="role-spec-missing",
    ),
    pytest.param(
        edit(TS, '"role_spec": "role-specs/planner.md"', '"role_spec": "../planner.md"'),
        "../planner.md",
        None,
        "must not contain '..'",
        id="role-spec-dotdot",
    ),
    pytest.param(
        edit(TS, '"role_spec": "role-specs/planner.md"', '"role_spec": "/etc/passwd"'),
        "/etc/passwd",
        None,
        "relative to the session",
        id="role-spec-absolute",
    ),
    pytest.param(
        symlink_out, PLANNER, None, "outside the session directory", id="role-spec-symlink-escape"
    ),
    pytest.param(
        edit(PLANNER, "---\nrole", "role"), PLANNER, 1, "no YAML frontmatter", id="no-frontmatter"
    ),
    pytest.param(
        edit(PLANNER, "inner_loop: false", "inner_loop: [false"),
        PLANNER,
        5,
        "frontmatter:",
        id="yaml-syntax",
    ),
    pytest.param(
        edit(
            PLANNER,
            "inner_loop: false",
            "inner_loop: !!python/object/apply:os.system ['touch pwned']",
        ),
        PLANNER,
        4,
        "YAML tag not allowed",
        id="yaml-python-tag",
    ),
    pytest.param(
        edit(PLANNER, "message_types:\n  success: plan_complete\n  error: error\n", ""),
        PLANNER,
        1,
        "'message_types' is required",
        id="required-frontmatter-key",
    ),
    pytest.param(
        edit(PLANNER, "inner_loop: false", "inner_loop: maybe"),
        PLANNER,
        4,
        "/inner_loop: 'maybe' is not of type 'boolean'",
        id="frontmatter-type",
    ),
    pytest.param(
        edit(PLANNER, "message_types:\n  success: plan_complete", "message_types:\n  success: 7"),
        PLANNER,
        6,
        "/message_types/success: 7 is not of type 'string'",
        id="nested-type",
    ),
    pytest.param(
        edit(PLANNER, "role: planner", "role: coder"),
        PLANNER,
        2,
        "role 'coder' does not match 'planner'",
        id="role-mismatch",
    ),
    pytest.param(
        edit(PLANNER, "prefix: PLAN", "prefix: PLN"),
        PLANNER,
        3,
        "prefix 'PLN' does not match team-session.json's 'PLAN'",
        id="prefix-mismatch",
    ),
    pytest.param(
        edit(PLANNER, "## Phase 3: Plan\n", ""),
        PLANNER,
        14,
        "missing '## Phase 3' heading",
        id="phase-missing",
    ),
    pytest.param(
        edit(PLANNER, "## Phase 2: Context", "## Phase 5: Context"),
        PLANNER,
        15,
        "missing '## Phase 2' heading",
        id="phase-2-missing",
    ),
    pytest.param(
        edit(
            PLANNER,
            "## Phase 3: Plan\n\n## Phase 4: Check",
            "## Phase 4: Check\n\n## Phase 3: Plan",
        ),
        PLANNER,
        13,
        "'## Phase 4' comes before '## Phase 3'",
        id="phase-order",
    ),
    pytest.param(
        edit(PLANNER, "inner_loop: false", "inner_loop: false\ntransient_patterns: ['(unclosed']"),
        PLANNER,
        5,
        "invalid regex",
        id="bad-regex",
    ),
    pytest.param(
        edit(PLANNER, "inner_loop: false", "inner_loop: false\nmax_concurrent: 0"),
        PLANNER,
        5,
        "/max_concurrent: 0 is less than the minimum",
        id="max-concurrent",
    ),
    pytest.param(
        edit(PLANNER, "inner_loop: false", "inner_loop: false\ntimeout_s: -1"),
        PLANNER,
        5,
        "/timeout_s: -1 is less than or equal to the minimum",
        id="timeout",
    ),
    pytest.param(
        edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": ["PLAN-009"]'),
        TA,
        8,
        "task IMPL-001 depends on unknown task 'PLAN-009'",
        id="unknown-dependency",
    ),
    pytest.param(
        edit(TA, '"PLAN-001": []', '"PLAN-001": ["IMPL-001"]'),
        TA,
        8,
        "dependency cycle: IMPL-001 -> PLAN-001 -> IMPL-001",
        id="cycle",
    ),
    pytest.param(
        edit(TA, '"IMPL-001": ["PLAN-001"]', '"TEST-001": ["PLAN-001"]'),
        TA,
        8,
        "task TEST-001 has no role",
        id="no-role",
    ),
    pytest.param(
        edit(TA, '"role": "coder"', '"role": "tester"'),
        TA,
        9,
        "role 'tester' is not in team-session.json",
        id="unregistered-role",
    ),
    pytest.param(
        edit(TA, '"PLAN-001": [],', '"PLAN 001": [],'), TA, 7, "does not match", id="bad-task-id"
    ),
    pytest.param(
        edit(TA, '"dependency_graph"', '"graph"'),
        TA,
        1,
        "'dependency_graph' is required",
        id="graph-missing",
    ),
    pytest.param(
        edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": "PLAN-001"'),
        TA,
        8,
        "/dependency_graph/IMPL-001",
        id="graph-entry-type",
    ),
    pytest.param(write(TS, b'{"a": "\x00"}'), TS, None, "binary file", id="binary"),
    pytest.param(write(TS, b'{"session_id": "\xff\xfe"}'), TS, 1, "not UTF-8", id="non-utf8"),
    pytest.param(write(TS, "[" * 100000 + "]" * 100000), TS, None, "nested too deeply", id="deep"),
]


@pytest.fixture
def session(tmp_path):
    root = tmp_path / "s"
    shutil.copytree(FIXTURE, root)
    return root


def test_the_fixture_is_valid(session):
    loaded = load_session(session)
    assert set(loaded.roles) == {"planner", "coder"}
    assert loaded.graph["IMPL-002"].role == "coder"
    assert loaded.graph["IMPL-001"].role == "coder"  # from the capability's tasks
    assert loaded.graph["IMPL-001"].details.artifacts == ("impl.md",)
    assert loaded.specs["coder"].path == "role-specs/coder.md"
    assert loaded.executor.agent == ("true",)


@pytest.mark.parametrize(("damage", "rel", "line", "message"), CASES)
def test_each_rule_has_a_failing_fixture(session, damage, rel, line, message):
    damage(session)
    with pytest.raises(InvalidSession) as caught:
        load_session(session)
    shown = rel if rel.startswith("/") or rel.startswith("..") else str(session / rel)
    if rel.startswith(".."):
        shown = str(session / rel)
    matching = [i for i in caught.value.issues if i.path == shown and message in i.message]
    assert matching, "\n".join(str(i) for i in caught.value.issues)
    assert matching[0].line == line, str(matching[0])
    assert str(matching[0]).startswith(f"{shown}:{line}: " if line else f"{shown}: ")


def test_python_tag_never_runs(session, tmp_path):
    target = tmp_path / "pwned"
    edit(
        PLANNER,
        "inner_loop: false",
        f"inner_loop: !!python/object/apply:os.system ['touch {target}']",
    )(session)
    with pytest.raises(InvalidSession):
        load_session(session)
    assert not target.exists()


def test_all_errors_are_collected_not_only_the_first(session):
    edit(PLANNER, "role: planner", "role: coder")(session)
    edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": ["PLAN-009"]')(session)
    edit(TS, '"max_workers": 2', '"max_workers": 0')(session)
    with pytest.raises(InvalidSession) as caught:
        load_session(session)
    files = {i.path.rsplit("/", 1)[-1] for i in caught.value.issues}
    assert files == {"planner.md", TA, TS}


def test_huge_file_is_refused(session, monkeypatch):
    monkeypatch.setattr(loader, "MAX_JSON_BYTES", 100)
    with pytest.raises(InvalidSession, match=r"too large: \d+ bytes \(limit 100\)"):
        load_session(session)


def test_both_graph_forms_and_prefix_resolution(session):
    edit(TA, '"capabilities": [', '"capabilities": [\n    {"name": "coder", "tasks": []},')(session)
    loaded = load_session(session)
    assert {n.role for n in loaded.graph.values()} == {"planner", "coder"}


@pytest.mark.parametrize("name", ["demo", "ccw-example"])
def test_example_sessions_validate(name):
    files = read_session_files(REPO / "sessions" / name)
    session, issues = validate_session(files)
    assert session is not None, "\n".join(map(str, issues))
    assert not [i for i in issues if i.severity is Severity.ERROR]


def test_ccw_example_is_shaped_like_team_coordinate_output():
    root = REPO / "sessions" / "ccw-example"
    analysis = json.loads((root / "task-analysis.json").read_text())
    assert all(isinstance(d, list) for d in analysis["dependency_graph"].values())
    for spec in (root / "role-specs").glob("*.md"):
        text = spec.read_text()
        assert "agent:" not in text and "output_tag:" in text
