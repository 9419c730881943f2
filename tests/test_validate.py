"""One failing fixture per validation rule: the message, the file and the line.

Each case copies the valid fixture session (tests/fixtures/valid) to
tmp_path, damages it one way, and checks that ``load_session`` names the
right file and line with the right message.  The valid fixture and both
example sessions under sessions/ must pass.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sessionkit import example
from teamexec.core.errors import InvalidSession
from teamexec.core.model import Issue, Severity
from teamexec.storage import loader
from teamexec.storage.loader import load_session, read_session_files
from teamexec.validation.validate import SessionFiles, validate_session

FIXTURE = Path(__file__).parent / "fixtures" / "valid"
REPO = Path(__file__).resolve().parent.parent
TS, TA = "team-session.json", "task-analysis.json"
PLANNER, CODER, TESTER = "role-specs/planner.md", "role-specs/coder.md", "role-specs/tester.md"

Damage = Callable[[Path], None]


def edit(rel: str, old: str, new: str) -> Damage:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, f"fixture {rel} lacks {old!r}"
        path.write_text(text.replace(old, new, 1))

    return apply


def write(rel: str, content: bytes | str) -> Damage:
    def apply(root: Path) -> None:
        data = content if isinstance(content, bytes) else content.encode()
        (root / rel).write_bytes(data)

    return apply


def remove(rel: str) -> Damage:
    return lambda root: (root / rel).unlink()


def symlink_out(rel: str) -> Damage:
    def apply(root: Path) -> None:
        outside = root.parent / "outside"
        shutil.copy(root / rel, outside)
        (root / rel).unlink()
        (root / rel).symlink_to(outside)

    return apply


def front(rel: str, extra: str) -> Damage:
    """Add frontmatter lines after ``inner_loop`` (line 4), so they start on line 5."""
    return edit(rel, "inner_loop: false\n", f"inner_loop: false\n{extra}\n")


def case(damage: Damage, rel: str, line: int | None, message: str, id: str) -> object:
    return pytest.param(damage, rel, line, message, id=id)


TEAM_SESSION_CASES = [
    case(remove(TS), TS, None, "missing: every session needs team-session.json", "ts-missing"),
    case(
        edit(TS, '"team_name": "fixture",', '"team_name": "f"'), TS, 6, "not valid JSON", "ts-json"
    ),
    case(write(TS, "[]"), TS, 1, "/: [] is not of type 'object'", "ts-not-object"),
    case(edit(TS, '"orphan_after_s": 60', '"orphan_after_s": NaN'), TS, 12, "NaN is not", "ts-nan"),
    case(
        edit(TS, '"orphan_after_s": 60', '"orphan_after_s": 1e999'),
        TS,
        12,
        "number 1e999 is too large",
        "ts-overflow",
    ),
    case(edit(TS, '"session_id": "FX-valid",', ""), TS, 1, "'session_id' is required", "ts-id"),
    case(
        edit(TS, '"task_description": "A valid fixture session",', ""),
        TS,
        1,
        "'task_description' is required",
        "ts-description",
    ),
    case(edit(TS, '"team_name": "fixture",', ""), TS, 1, "'team_name' is required", "ts-team"),
    case(edit(TS, '"status": "active"', '"status": "running"'), TS, 4, "/status:", "ts-status"),
    case(edit(TS, '"session_id": "FX-valid"', '"session_id": 7'), TS, 2, "not of type", "ts-type"),
    case(
        edit(TS, '"completion_action": "auto_keep"', '"completion_action": "later"'),
        TS,
        11,
        "/completion_action: 'later' is not one of",
        "completion-action",
    ),
    case(
        edit(TS, '"roles": [', '"roles": [], "x": ['),
        TS,
        6,
        "/roles: [] should be non-empty",
        "roles-empty",
    ),
    case(
        edit(TS, '"name": "tester", ', '"name": "Tester!", '),
        TS,
        9,
        "/roles/2/name: 'Tester!' does not match",
        "role-name-pattern",
    ),
    case(
        edit(TS, '"name": "tester", "prefix": "TEST"', '"name": "tester"'),
        TS,
        9,
        "/roles/2: 'prefix' is required",
        "role-prefix-missing",
    ),
    case(
        edit(TS, '"name": "tester", ', '"name": "planner", '),
        TS,
        9,
        "role 'planner' is registered twice",
        "duplicate-role",
    ),
    case(
        edit(TS, '"prefix": "TEST"', '"prefix": "PLAN"'),
        TS,
        9,
        "prefix 'PLAN' is used by role 'planner' too",
        "duplicate-prefix",
    ),
    case(
        edit(TS, '"additional_prefixes": ["FIX"]', '"additional_prefixes": ["PLAN"]'),
        TS,
        8,
        "prefix 'PLAN' is used by role 'planner' too",
        "duplicate-additional-prefix",
    ),
    case(
        edit(TESTER, "additional_prefixes: [QA]", "additional_prefixes: [FIX]"),
        TESTER,
        9,
        "prefix 'FIX' is used by role 'coder' too",
        "duplicate-prefix-in-role-spec",
    ),
    case(
        edit(TS, '"role_spec": "role-specs/planner.md"', '"role_spec": "../planner.md"'),
        TS,
        7,
        "role_spec '../planner.md' must not contain '..'",
        "role-spec-dotdot",
    ),
    case(
        edit(TS, '"role_spec": "role-specs/planner.md"', '"role_spec": "/etc/passwd"'),
        TS,
        7,
        "must be a path relative to the session directory",
        "role-spec-absolute",
    ),
    case(symlink_out(PLANNER), PLANNER, None, "resolves outside the session directory", "symlink"),
    case(symlink_out(TS), TS, None, "resolves outside the session directory", "ts-symlink"),
    case(remove(CODER), CODER, None, "missing: role 'coder' needs this role-spec", "spec-missing"),
    case(
        edit(TS, '"max_workers": 2', '"max_workers": 0'),
        TS,
        12,
        "/executor/max_workers: 0 is less than the minimum of 1",
        "max-workers",
    ),
    case(
        edit(TS, '"max_workers": 2', '"max_workers": 2.5'),
        TS,
        12,
        "/executor/max_workers: 2.5 is not of type 'integer'",
        "max-workers-type",
    ),
    case(
        edit(TS, '"orphan_after_s": 60', '"orphan_after_s": -1'),
        TS,
        12,
        "/executor/orphan_after_s: -1 is less than the minimum of 0",
        "orphan-after",
    ),
    case(
        edit(TS, '"agent": "true"', '"agent": "claude \\"-p"'),
        TS,
        12,
        "executor.agent: cannot split: No closing quotation",
        "agent-quoting",
    ),
    case(edit(TS, '"agent": "true"', '"agent": []'), TS, 12, "/executor/agent", "agent-empty"),
    case(edit(TS, '"agent": "true"', '"agent": 5'), TS, 12, "/executor/agent", "agent-type"),
    case(edit(TS, '"cwd": "."', '"cwd": 5'), TS, 12, "/executor/cwd: 5 is not of type", "cwd"),
    case(
        edit(TS, '"executor": {', '"executor": 3, "x": {'),
        TS,
        12,
        "/executor: 3 is not of type 'object'",
        "executor-type",
    ),
    case(write(TS, b'{"a": "\x00"}'), TS, 1, "binary file (contains NUL bytes)", "binary"),
    case(write(TS, b'{\n"session_id": "\xff"}'), TS, 2, "not UTF-8 text (byte 0xff)", "non-utf8"),
    case(write(TS, "[" * 100000 + "]" * 100000), TS, None, "JSON nested too deeply", "deep"),
]

TASK_ANALYSIS_CASES = [
    case(remove(TA), TA, None, "missing: every session needs task-analysis.json", "ta-missing"),
    case(edit(TA, '"dependency_graph"', '"graph"'), TA, 1, "'dependency_graph' is", "graph-key"),
    case(edit(TA, '"capabilities"', '"caps"'), TA, 1, "'capabilities' is required", "caps-key"),
    case(edit(TA, '"roles": [{', '"r": [{'), TA, 1, "'roles' is required", "ta-roles-key"),
    case(
        edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": "PLAN-001"'),
        TA,
        8,
        "/dependency_graph/IMPL-001: 'PLAN-001' is not of type 'array', 'object'",
        "graph-entry-type",
    ),
    case(
        edit(TA, '{"depends_on": ["IMPL-001"]}', '{"depends_on": "IMPL-001"}'),
        TA,
        9,
        "/dependency_graph/IMPL-002/depends_on: 'IMPL-001' is not of type 'array'",
        "depends-on-type",
    ),
    case(
        edit(TA, '"PLAN-001": [],', '"PLAN 001": [],'),
        TA,
        7,
        "/dependency_graph/PLAN 001: 'PLAN 001' does not match",
        "task-id-pattern",
    ),
    case(
        edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": [\n"PLAN-009"]'),
        TA,
        9,
        "task IMPL-001 depends on unknown task 'PLAN-009'",
        "unknown-dependency",
    ),
    case(
        edit(TA, '{"depends_on": ["IMPL-001"]}', '{"depends_on": ["IMPL-009"]}'),
        TA,
        9,
        "task IMPL-002 depends on unknown task 'IMPL-009'",
        "unknown-dependency-object-form",
    ),
    case(
        edit(TA, '"PLAN-001": []', '"PLAN-001": ["IMPL-001"]'),
        TA,
        7,
        "dependency cycle: PLAN-001 -> IMPL-001 -> PLAN-001",
        "cycle",
    ),
    case(
        edit(TA, '"QA-001": ["TEST-001"]', '"QA-001": ["QA-001"]'),
        TA,
        13,
        "dependency cycle: QA-001 -> QA-001",
        "self-dependency",
    ),
    case(
        edit(TA, '"QA-001": ["TEST-001"]', '"DOC-001": ["TEST-001"]'),
        TA,
        13,
        "task DOC-001 has no role",
        "no-role",
    ),
    case(
        edit(TA, '"role": "coder"', '"role": "auditor"'),
        TA,
        10,
        "task FIX-001: role 'auditor' (from its graph entry) is not a role of team-session.json",
        "unknown-role",
    ),
    case(
        edit(TA, '{"name": "planner", "tasks"', '{"name": "boss", "tasks"'),
        TA,
        3,
        "task PLAN-001: role 'boss' (from capability 'boss') is not a role",
        "unknown-capability-role",
    ),
    case(
        edit(TA, '"id": "IMPL-001"', '"id": 7'),
        TA,
        4,
        "/capabilities/1/tasks/0/id: 7 is not of type 'string'",
        "capability-task-id",
    ),
]

ROLE_SPEC_CASES = [
    case(edit(PLANNER, "---\nrole", "role"), PLANNER, 1, "no YAML frontmatter", "no-frontmatter"),
    case(
        edit(PLANNER, "---\n# Planner", "# Planner"), PLANNER, 1, "no YAML frontmatter", "unclosed"
    ),
    case(write(PLANNER, "---\n- a\n---\n"), PLANNER, 2, "must be a mapping", "not-a-mapping"),
    case(
        edit(PLANNER, "inner_loop: false", "inner_loop: [false"),
        PLANNER,
        5,
        "frontmatter: invalid YAML",
        "yaml-syntax",
    ),
    case(
        front(PLANNER, "x: !!python/object/apply:os.system ['true']"),
        PLANNER,
        5,
        "YAML tag '!!python/object/apply:os.system' not allowed",
        "yaml-python-tag",
    ),
    case(front(PLANNER, "x: &a [1]\ny: *a"), PLANNER, 5, "YAML aliases", "yaml-alias"),
    case(
        front(PLANNER, "role: planner"),
        PLANNER,
        5,
        "key 'role' is repeated (first on line 2)",
        "yaml-duplicate-key",
    ),
    case(edit(PLANNER, "role: planner\n", ""), PLANNER, 1, "'role' is required", "role-required"),
    case(
        edit(PLANNER, "prefix: PLAN\n", ""), PLANNER, 1, "'prefix' is required", "prefix-required"
    ),
    case(
        edit(PLANNER, "inner_loop: false\n", ""),
        PLANNER,
        1,
        "'inner_loop' is required",
        "inner-loop-required",
    ),
    case(
        edit(PLANNER, "message_types:\n  success: plan_complete\n  error: error\n", ""),
        PLANNER,
        1,
        "'message_types' is required",
        "message-types-required",
    ),
    case(
        edit(PLANNER, "  error: error\n", ""),
        PLANNER,
        5,
        "frontmatter /message_types: 'error' is required",
        "message-types-error-required",
    ),
    case(
        edit(PLANNER, "inner_loop: false", "inner_loop: maybe"),
        PLANNER,
        4,
        "frontmatter /inner_loop: 'maybe' is not of type 'boolean'",
        "inner-loop-type",
    ),
    case(
        edit(PLANNER, "success: plan_complete", "success: 7"),
        PLANNER,
        6,
        "frontmatter /message_types/success: 7 is not of type 'string'",
        "message-type-type",
    ),
    case(
        edit(PLANNER, "role: planner", "role: coder"),
        PLANNER,
        2,
        "role 'coder' does not match 'planner'",
        "role-mismatch",
    ),
    case(
        edit(PLANNER, "prefix: PLAN", "prefix: PLN"),
        PLANNER,
        3,
        "prefix 'PLN' does not match team-session.json's 'PLAN'",
        "prefix-mismatch",
    ),
    case(front(PLANNER, "agent: ''"), PLANNER, 5, "/agent: '' should be non-empty", "agent"),
    case(
        front(PLANNER, "agent: 'claude \"-p'"),
        PLANNER,
        5,
        "agent: cannot split: No closing quotation",
        "agent-split",
    ),
    case(front(PLANNER, "worker: 5"), PLANNER, 5, "frontmatter /worker", "worker-type"),
    case(
        front(PLANNER, "additional_prefixes: X"),
        PLANNER,
        5,
        "/additional_prefixes: 'X' is not of type 'array'",
        "additional-prefixes-type",
    ),
    case(
        front(PLANNER, "max_concurrent: 0"),
        PLANNER,
        5,
        "/max_concurrent: 0 is less than the minimum of 1",
        "max-concurrent",
    ),
    case(
        front(PLANNER, "max_concurrent: true"),
        PLANNER,
        5,
        "/max_concurrent: True is not of type 'integer'",
        "max-concurrent-bool",
    ),
    case(
        front(PLANNER, "timeout_s: -1"),
        PLANNER,
        5,
        "/timeout_s: -1 is less than or equal to the minimum of 0",
        "timeout",
    ),
    case(front(PLANNER, "timeout_s: .nan"), PLANNER, 5, "timeout_s: must be a finite", "nan"),
    case(
        front(PLANNER, "max_retries: -1"),
        PLANNER,
        5,
        "/max_retries: -1 is less than the minimum of 0",
        "max-retries",
    ),
    case(
        front(PLANNER, "stall_after_s: 0"),
        PLANNER,
        5,
        "/stall_after_s: 0 is less than or equal to the minimum of 0",
        "stall-after",
    ),
    case(
        front(PLANNER, "env:\n  A: 1"),
        PLANNER,
        6,
        "frontmatter /env/A: 1 is not of type 'string'",
        "env-type",
    ),
    case(
        front(PLANNER, "transient_patterns:\n  - ok\n  - '(unclosed'"),
        PLANNER,
        7,
        "transient_patterns[1]: invalid regex: missing ), unterminated subpattern",
        "bad-transient-regex",
    ),
    case(
        front(PLANNER, "permanent_patterns: ['[z-a]']"),
        PLANNER,
        5,
        "permanent_patterns[0]: invalid regex: bad character range",
        "bad-permanent-regex",
    ),
    case(
        front(PLANNER, "permanent_patterns: [5]"),
        PLANNER,
        5,
        "/permanent_patterns/0: 5 is not of type 'string'",
        "pattern-type",
    ),
    case(
        edit(PLANNER, "## Phase 3: Plan\n", ""),
        PLANNER,
        14,  # where it belongs: before Phase 4
        "missing '## Phase 3' heading",
        "phase-3-missing",
    ),
    case(
        edit(PLANNER, "## Phase 2: Context", "## Phase 5: Context"),
        PLANNER,
        13,
        "missing '## Phase 2' heading",
        "phase-2-missing",
    ),
    case(
        edit(PLANNER, "## Phase 4: Check", "Check"),
        PLANNER,
        15,
        "missing '## Phase 4' heading",
        "phase-4-missing",
    ),
    case(
        edit(
            PLANNER, "## Phase 3: Plan\n\n## Phase 4: Check", "## Phase 4: Check\n\n## Phase 3: P"
        ),
        PLANNER,
        13,
        "'## Phase 4' comes before '## Phase 3': swap them",
        "phase-order",
    ),
    case(
        edit(PLANNER, "## Phase 2: Context", "```\n## Phase 2: Context\n```"),
        PLANNER,
        15,
        "missing '## Phase 2' heading",
        "phase-in-code-fence",
    ),
    case(write(PLANNER, b"---\x00"), PLANNER, 1, "binary file", "spec-binary"),
    case(write(PLANNER, b"---\nrole: \xe9\n"), PLANNER, 2, "not UTF-8 text", "spec-non-utf8"),
]


@pytest.fixture
def session(tmp_path: Path) -> Path:
    root = tmp_path / "s"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


def errors_of(root: Path) -> list[Issue]:
    with pytest.raises(InvalidSession) as caught:
        load_session(root)
    return list(caught.value.issues)


@pytest.mark.parametrize(
    ("damage", "rel", "line", "message"),
    TEAM_SESSION_CASES + TASK_ANALYSIS_CASES + ROLE_SPEC_CASES,
)
def test_each_rule_has_a_failing_fixture(
    session: Path, damage: Damage, rel: str, line: int | None, message: str
) -> None:
    damage(session)
    issues = errors_of(session)
    shown = str(session / rel)
    matching = [i for i in issues if i.path == shown and message in i.message]
    assert matching, "\n".join(str(i) for i in issues)
    assert matching[0].line == line, str(matching[0])
    assert str(matching[0]).startswith(f"{shown}:{line}: " if line else f"{shown}: ")
    assert all("\n" not in str(i) for i in issues)


def test_the_fixture_is_valid(session: Path) -> None:
    loaded = load_session(session)
    assert set(loaded.roles) == {"planner", "coder", "tester"}
    assert loaded.warnings == ()
    roles = {task: node.role for task, node in loaded.graph.items()}
    assert roles == {
        "PLAN-001": "planner",  # the capability listing it
        "IMPL-001": "coder",  # the capability listing it
        "IMPL-002": "coder",  # prefix
        "FIX-001": "coder",  # the graph entry's role
        "FIX-002": "coder",  # additional prefix from team-session.json
        "TEST-001": "tester",  # prefix
        "QA-001": "tester",  # additional prefix from the role-spec
    }
    assert loaded.graph["TEST-001"].depends_on == ("IMPL-002", "FIX-002")
    assert loaded.graph["IMPL-001"].details.artifacts == ("impl.md",)
    assert loaded.graph["IMPL-001"].details.description == "Build"
    assert loaded.graph["PLAN-001"].details.steps == ("a", "b")
    assert loaded.specs["coder"].path == "role-specs/coder.md"  # the default path
    assert loaded.specs["coder"].frontmatter["output_tag"] == "[coder]"  # unknown keys kept
    assert loaded.executor.agent == ("true",)
    assert loaded.executor.max_workers == 2
    assert loaded.executor.orphan_after_s == 60.0
    assert loaded.executor.cwd == "."
    assert loaded.data["x-unknown"] == {"kept": True}


def test_python_tag_never_runs(session: Path, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    front(PLANNER, f"x: !!python/object/apply:os.system ['touch {target}']")(session)
    errors_of(session)
    assert not target.exists()


def test_all_errors_are_collected_not_only_the_first(session: Path) -> None:
    edit(PLANNER, "role: planner", "role: coder")(session)
    edit(TA, '"IMPL-001": ["PLAN-001"]', '"IMPL-001": ["PLAN-009"]')(session)
    edit(TA, '"QA-001": ["TEST-001"]', '"QA-001": ["QA-001"]')(session)
    edit(TS, '"max_workers": 2', '"max_workers": 0')(session)
    edit(TS, '"status": "active"', '"status": "running"')(session)
    remove(CODER)(session)
    messages = [f"{Path(i.path).name}: {i.message}" for i in errors_of(session)]
    for expected in (
        "planner.md: role 'coder' does not match",
        "coder.md: missing",
        "task-analysis.json: task IMPL-001 depends on unknown task",
        "task-analysis.json: dependency cycle: QA-001 -> QA-001",
        "team-session.json: /executor/max_workers",
        "team-session.json: /status",
    ):
        assert any(m.startswith(expected) for m in messages), (expected, messages)


def test_graph_is_checked_even_when_team_session_is_broken(session: Path) -> None:
    write(TS, "{")(session)
    edit(TA, '"PLAN-001": []', '"PLAN-001": ["IMPL-001"]')(session)
    messages = [i.message for i in errors_of(session)]
    assert any(m.startswith("dependency cycle") for m in messages)
    assert not any("has no role" in m for m in messages)  # roles unknown: not judged


@pytest.mark.parametrize(
    ("damage", "rel", "line", "message"),
    [
        case(
            edit(TS, '"team_name": "fixture",', '"team_name": "fixture", "team_name": "x",'),
            TS,
            5,
            "key 'team_name' appears twice in one object: the last one is used",
            "json-duplicate-key",
        ),
        case(
            edit(TA, '{"name": "tester"}', '{"name": "tester"}, {"name": "ghost"}'),
            TA,
            15,
            "role 'ghost' is not registered in team-session.json",
            "analysis-role-unregistered",
        ),
        case(
            edit(TA, '"id": "IMPL-001"', '"id": "IMPL-009"'),
            TA,
            4,
            "task IMPL-009 is listed in capabilities but not in the dependency graph",
            "listed-not-in-graph",
        ),
        case(
            edit(TA, '{"id": "IMPL-001", ', '{"id": "PLAN-001"}, {"id": "IMPL-001", '),
            TA,
            4,
            "task PLAN-001 is listed by capability 'planner' already",
            "listed-twice",
        ),
        case(
            edit(TS, '"inner_loop": true', '"inner_loop": false'),
            TS,
            8,
            "inner_loop is false here but true in role-specs/coder.md",
            "inner-loop-disagrees",
        ),
        case(
            front(PLANNER, "timout_s: 5"),
            PLANNER,
            5,
            "unknown key 'timout_s': did you mean 'timeout_s'?",
            "role-spec-near-miss",
        ),
        case(
            edit(TS, '"max_workers": 2', '"max_worker": 2'),
            TS,
            12,
            "executor: unknown key 'max_worker': did you mean 'max_workers'?",
            "executor-near-miss",
        ),
    ],
)
def test_warnings_do_not_fail_validation(
    session: Path, damage: Damage, rel: str, line: int, message: str
) -> None:
    damage(session)
    loaded = load_session(session)
    matching = [w for w in loaded.warnings if message in w.message]
    assert matching, "\n".join(map(str, loaded.warnings))
    assert matching[0].path == str(session / rel)
    assert matching[0].line == line
    assert matching[0].severity is Severity.WARNING
    assert str(matching[0]).startswith(f"{session / rel}:{line}: warning: ")


def test_huge_file_is_refused(session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_JSON_BYTES", 100)
    issues = errors_of(session)
    assert any(i.message.endswith("bytes (limit 100 bytes)") for i in issues)


def test_session_directory_missing(tmp_path: Path) -> None:
    issues = errors_of(tmp_path / "nowhere")
    assert [str(i) for i in issues] == [
        f"{tmp_path / 'nowhere'}: no such directory: give the session directory, "
        "the one holding team-session.json"
    ]


def test_paths_are_printed_as_the_user_named_the_session(
    session: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(PLANNER, "prefix: PLAN", "prefix: PLN")(session)
    monkeypatch.chdir(session.parent)
    issues = errors_of(Path("s"))
    assert str(issues[0]).startswith("s/role-specs/planner.md:3: prefix 'PLN'")


def test_validate_session_is_pure_and_takes_texts(tmp_path: Path) -> None:
    texts = {
        rel: (FIXTURE / rel).read_text()
        for rel in (TS, TA, PLANNER, CODER, TESTER)  # nothing is read from tmp_path
    }
    session, issues = validate_session(SessionFiles(tmp_path / "nowhere", texts))
    assert session is not None, issues
    assert session.root == tmp_path / "nowhere"
    del texts[CODER]
    session, issues = validate_session(SessionFiles(tmp_path, texts))
    assert session is None
    assert [i.message for i in issues] == ["role-spec of role 'coder' was not read"]


@pytest.mark.parametrize("name", ["demo", "ccw-example"])
def test_example_sessions_validate(name: str, tmp_path: Path) -> None:
    session, issues = validate_session(read_session_files(example(name, tmp_path)))
    assert session is not None, "\n".join(map(str, issues))
    assert issues == []


def test_demo_session_shape(tmp_path: Path) -> None:
    session = load_session(example("demo", tmp_path))
    assert set(session.roles) == {"researcher", "writer", "reviewer"}
    deps = {t: n.depends_on for t, n in session.graph.items()}
    fan_out = [t for t, d in deps.items() if d == ("RESEARCH-001",)]
    assert len(fan_out) == 3
    assert any(set(fan_out) <= set(d) for d in deps.values())  # and the fan-in
    assert session.executor.max_workers == 3
    assert session.executor.agent == ("python3", "agents/demo_agent.py")
    assert session.status == "active"


def test_ccw_example_is_shaped_like_team_coordinate_output(tmp_path: Path) -> None:
    root = example("ccw-example", tmp_path)
    analysis = json.loads((root / TA).read_text())
    assert all(isinstance(d, list) for d in analysis["dependency_graph"].values())
    assert all("role_spec_metadata" in r for r in analysis["roles"])
    team = json.loads((root / TS).read_text())
    assert team["active_workers"] == [] and team["completed_tasks"] == []
    assert "executor" not in team
    session = load_session(root)
    assert all(spec.agent is None for spec in session.specs.values())  # check warns: no agent
    assert all(spec.frontmatter.get("output_tag") for spec in session.specs.values())
    inner = [name for name, spec in session.specs.items() if spec.inner_loop]
    assert inner == ["writer"]
    writer_tasks = sorted(t for t, n in session.graph.items() if n.role == "writer")
    assert session.graph[writer_tasks[1]].depends_on == (writer_tasks[0],)  # two, in series


def test_a_fifo_in_place_of_a_role_spec_is_not_read(session: Path) -> None:
    (session / PLANNER).unlink()
    os.mkfifo(session / PLANNER)
    issues = errors_of(session)  # returns: the FIFO is never opened for a blocking read
    assert any(
        i.path == str(session / PLANNER) and "not a regular file" in i.message for i in issues
    )


def test_a_loader_validates_again_only_when_the_texts_changed(tmp_path, monkeypatch):
    root = tmp_path / "s"
    shutil.copytree(FIXTURE, root)
    calls: list[int] = []
    real = loader.validate_session

    def counting(files: SessionFiles):
        calls.append(1)
        return real(files)

    monkeypatch.setattr(loader, "validate_session", counting)
    reader = loader.SessionLoader(root)
    first = reader.load()
    assert reader.load() is first and len(calls) == 1  # same texts: the same session
    path = root / TS
    path.write_text(path.read_text().replace('"status": "active"', '"status": "paused"', 1))
    again = reader.load()
    assert len(calls) == 2 and again is not first and again.status.value == "paused"
    path.write_text("{")  # broken now: the error is raised, not the last good session returned
    with pytest.raises(InvalidSession):
        reader.load()
