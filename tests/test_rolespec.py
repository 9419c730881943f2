"""parse_role_spec: what it builds from a valid file, and that no text makes it raise.

The per-rule failures with their lines are in test_validate.py; here are the
parser's own decisions (YAML types, tags, aliases, line numbers, phases) and
a fuzz test, because the executor re-parses hand edits while it runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from teamexec.core.model import Issue, RoleSpec
from teamexec.validation.frontsplit import split_frontmatter
from teamexec.validation.rolespec import parse_role_spec, phase_issues

BODY = "# Role\n\n## Phase 2: In\n\n## Phase 3: Work\n\n## Phase 4: Out\n"
FRONT = "role: r\nprefix: R\ninner_loop: false\nmessage_types:\n  success: done\n  error: error\n"


def spec_text(extra: str = "", *, front: str = FRONT, body: str = BODY) -> str:
    return f"---\n{front}{extra}---\n{body}"


def parse(text: str, **kw: str | None) -> tuple[RoleSpec | None, list[Issue]]:
    kw.setdefault("expected_role", "r")
    kw.setdefault("expected_prefix", "R")
    return parse_role_spec(text, path="r.md", **kw)  # type: ignore[arg-type]


def only_spec(text: str) -> RoleSpec:
    spec, issues = parse(text)
    assert spec is not None and not issues, [str(i) for i in issues]
    return spec


def test_a_minimal_spec_gets_the_protocol_defaults() -> None:
    spec = only_spec(spec_text())
    assert (spec.role, spec.prefix, spec.inner_loop) == ("r", "R", False)
    assert (spec.success_type, spec.error_type) == ("done", "error")
    assert spec.body == BODY
    assert spec.agent is None and spec.worker is None
    assert spec.max_concurrent is None
    assert (spec.timeout_s, spec.max_retries, spec.stall_after_s) == (1800.0, 2, 600.0)
    assert spec.transient_patterns is None and spec.permanent_patterns is None
    assert spec.path == "r.md"


def test_every_teamexec_key_is_read() -> None:
    spec = only_spec(
        spec_text(
            "agent: claude -p --model 'big one'\n"
            "worker: [python3, my_worker.py]\n"
            "additional_prefixes: [R2, R3]\n"
            "max_concurrent: 3\ntimeout_s: 12.5\nmax_retries: 0\nstall_after_s: 9\n"
            "env: {A: x, B: 'y z'}\n"
            "transient_patterns: ['429', 'rate limit']\npermanent_patterns: []\n"
        )
    )
    assert spec.agent == ("claude", "-p", "--model", "big one")  # split, never a shell
    assert spec.worker == ("python3", "my_worker.py")
    assert spec.additional_prefixes == ("R2", "R3")
    assert (spec.max_concurrent, spec.timeout_s, spec.max_retries) == (3, 12.5, 0)
    assert spec.stall_after_s == 9.0
    assert spec.env == {"A": "x", "B": "y z"}
    assert spec.transient_patterns == ("429", "rate limit")
    assert spec.permanent_patterns == ()


def test_ccw_keys_are_kept_and_dates_stay_text() -> None:
    spec = only_spec(
        spec_text('subagents: [explore]\noutput_tag: "[r]"\nCLI tools: [a b]\nsince: 2026-11-24\n')
    )
    assert spec.frontmatter["subagents"] == ["explore"]
    assert spec.frontmatter["CLI tools"] == ["a b"]
    assert spec.frontmatter["since"] == "2026-11-24"


def test_rel_path_names_the_spec_and_path_the_messages() -> None:
    spec, _ = parse_role_spec(
        spec_text(), path="/x/r.md", expected_role=None, expected_prefix=None, rel_path="a/r.md"
    )
    assert spec is not None and spec.path == "a/r.md"
    _, issues = parse_role_spec(
        "nope", path="/x/r.md", expected_role=None, expected_prefix=None, rel_path="a/r.md"
    )
    assert issues[0].path == "/x/r.md"


def test_without_expectations_role_and_prefix_are_not_compared() -> None:
    spec, issues = parse(spec_text(), expected_role=None, expected_prefix=None)
    assert spec is not None and not issues


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(spec_text().replace("\n", "\r\n"), id="crlf"),
        pytest.param("\ufeff" + spec_text(), id="bom"),
        pytest.param(spec_text().replace("---\n#", "...\n#"), id="yaml-document-end"),
        pytest.param(spec_text().replace("---\n", "---  \n", 1), id="trailing-spaces"),
    ],
)
def test_frontmatter_variants_are_accepted(text: str) -> None:
    only_spec(text)


def test_lines_count_from_the_top_of_the_file() -> None:
    _, issues = parse(spec_text("\n\nmax_retries: x\n"))
    assert [(i.line, i.message) for i in issues] == [
        (10, "frontmatter /max_retries: 'x' is not of type 'integer'")
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param("x: !!python/name:os.system\n", "'!!python/name:os.system'", id="name"),
        pytest.param("x: !!binary aGk=\n", "'!!binary' not allowed", id="binary"),
        pytest.param("x: !!set {a}\n", "'!!set' not allowed", id="set"),
        pytest.param("x: !custom 1\n", "'!custom' not allowed", id="local-tag"),
        pytest.param("x: !!int nope\n", "'nope' is not a valid !!int value", id="bad-int"),
        pytest.param("x: {<<: {a: 1}}\n", "a key must be plain text", id="merge-key"),
        pytest.param("? [a]\n: 1\n", "a key must be plain text", id="sequence-key"),
        pytest.param("x: &a [*a]\n", "YAML aliases", id="recursive-alias"),
    ],
)
def test_only_plain_yaml_is_read(extra: str, message: str) -> None:
    spec, issues = parse(spec_text(extra))
    assert spec is None
    assert [i.line for i in issues] == [8]
    assert message in issues[0].message


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {target}']",
        "!!python/object/apply:subprocess.call [['touch', '{target}']]",
        "!!python/object/new:os.system ['touch {target}']",
        "!!python/object/apply:builtins.exec [\"open('{target}', 'w')\"]",
    ],
)
def test_python_tags_are_errors_and_never_run(tmp_path: Path, payload: str) -> None:
    target = tmp_path / "pwned"
    tagged = payload.format(target=target)
    for text in (
        spec_text(f"x: {tagged}\n"),  # an unknown key
        spec_text().replace("role: r", f"role: {tagged}"),  # a required key
        spec_text(f"env: {{A: {tagged}}}\n"),  # nested
    ):
        spec, issues = parse(text)
        assert spec is None
        assert any("not allowed" in i.message for i in issues), [str(i) for i in issues]
    assert not target.exists()


def test_a_billion_laughs_is_refused_quickly() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 10)}]")
    spec, issues = parse(spec_text("\n".join(levels) + "\n"))
    assert spec is None
    assert all("YAML aliases" in i.message for i in issues)
    assert len(issues) == 11  # once per aliased node, not once per use


def test_phases_inside_code_fences_do_not_count() -> None:
    body = "```\n## Phase 2\n## Phase 3\n## Phase 4\n```\n"
    issues = phase_issues(body, path="p", first_line=10)
    assert [(i.line, i.message) for i in issues] == [
        (14, "missing '## Phase 2' heading"),
        (14, "missing '## Phase 3' heading"),
        (14, "missing '## Phase 4' heading"),
    ]


@pytest.mark.parametrize(
    ("heading", "counts"),
    [
        ("## Phase 2: Context", True),
        ("## phase 2", True),
        ("##  Phase 2", True),
        ("### Phase 2", False),
        ("## Phase 23", False),
        ("# Phase 2", False),
        (" ## Phase 2", False),
    ],
)
def test_phase_heading_forms(heading: str, counts: bool) -> None:
    issues = phase_issues(f"{heading}\n## Phase 3\n## Phase 4\n", path="p", first_line=1)
    assert (not issues) is counts


def test_split_gives_body_and_its_first_line() -> None:
    assert split_frontmatter("---\na: 1\n---\nbody\n") == ("a: 1\n", 2, "body\n", 4)
    assert split_frontmatter("a: 1\n---\n") is None
    assert split_frontmatter("---\na: 1\n") is None
    assert split_frontmatter("") is None


def test_an_empty_frontmatter_is_not_a_mapping() -> None:
    spec, issues = parse("---\n---\n" + BODY)
    assert spec is None
    assert [(i.line, i.message) for i in issues] == [
        (2, "frontmatter must be a mapping of keys to values")
    ]


def test_frontmatter_and_phase_errors_are_reported_together() -> None:
    spec, issues = parse(spec_text("timeout_s: 0\n", body="## Phase 4\n"))
    assert spec is None
    messages = [i.message for i in issues]
    assert any("/timeout_s" in m for m in messages)
    assert any("missing '## Phase 2'" in m for m in messages)


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{}!&*|>'\"#?,.\n \t%@`0x\\~")), max_size=80)


@settings(max_examples=200, deadline=None)
@given(front=YAMLISH, body=st.text(max_size=60), prefix=st.sampled_from(["---\n", "", "---\r\n"]))
def test_never_raises_on_any_text(front: str, body: str, prefix: str) -> None:
    spec, issues = parse(f"{prefix}{front}\n---\n{body}")
    assert (spec is None) == bool(issues)
    assert all("cannot read role-spec" not in i.message for i in issues)  # no internal error
    assert all(isinstance(i.line, int) for i in issues)


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from(
        ["role", "prefix", "inner_loop", "agent", "worker", "env", "max_concurrent", "timeout_s"]
    ),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=8,
    ),
)
def test_never_raises_on_any_value_of_a_known_key(key: str, value: object) -> None:
    extra = yaml.safe_dump({key: value}, default_flow_style=True)
    spec, issues = parse(spec_text(extra.strip() + "\n"))
    assert (spec is None) == bool(issues)
    assert all("cannot read role-spec" not in i.message for i in issues)


@pytest.mark.parametrize(
    ("extra", "meant"),
    [
        pytest.param("timout_s: 5\n", "timeout_s", id="typo"),
        pytest.param("max_retires: 1\n", "max_retries", id="swap"),
        pytest.param("agent_knd: claude\n", "agent_kind", id="protocol-key"),
        pytest.param("Timeout_S: 5\n", "timeout_s", id="case"),
    ],
)
def test_a_near_miss_of_a_teamexec_key_warns_with_the_key_meant(extra: str, meant: str) -> None:
    spec, issues = parse(spec_text(extra))
    assert spec is not None  # kept, not an error
    assert [i.severity for i in issues] == ["warning"]
    assert f"did you mean {meant!r}" in issues[0].message
    assert issues[0].line == 8  # the key's own line
    assert spec.frontmatter[extra.split(":")[0]] is not None


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param('output_tag: "[r]"\n', id="ccw-output-tag"),
        pytest.param("CLI tools: [explore]\n", id="ccw-cli-tools"),
        pytest.param("subagents: []\n", id="ccw-subagents"),
        pytest.param("timeout_s: 5\nTimeout_s: 6\n", id="meant-key-present"),
        pytest.param("colour: blue\n", id="far-from-any"),
    ],
)
def test_unknown_keys_are_kept_silently(extra: str) -> None:
    spec, issues = parse(spec_text(extra))
    assert spec is not None and issues == []
