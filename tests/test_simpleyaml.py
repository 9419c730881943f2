"""simpleyaml.py reads frontmatter exactly as the PyYAML path (yamlfront.py) does, or declines.

Frontmatter is generated from the tokens where YAML 1.1 surprises (``on``,
``010``, ``1_0``, ``2026-11-24``, ``~``, quotes, comments, tabs, nesting);
whenever the simple reader answers, its value and line numbers must be
PyYAML's, with no issue on PyYAML's side.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from teamexec.validation.rolespec import load_frontmatter
from teamexec.validation.simpleyaml import simple_frontmatter
from teamexec.validation.yamlfront import compose_frontmatter

SCALARS = [
    "coder",
    "IMPL",
    "claude -p",
    "a - b",
    "true",
    "True",
    "TRUE",
    "tRue",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "null",
    "Null",
    "NULL",
    "nul",
    "~",
    "0",
    "-0",
    "7",
    "-12",
    "010",
    "0x1F",
    "1_000",
    "1.5",
    "-0.25",
    "1.",
    ".5",
    "1e3",
    ".inf",
    "2026-11-24",
    "12:30",
    '"quoted"',
    '"a, b"',
    '"-p"',
    '"esc\\n"',
    "'single'",
    "'it''s'",
    "x # comment",
    "a:b",
    "[]",
    '["claude", "-p"]',
    "[a, 1, yes, 'q']",
    "[a,b]",
    "[ a , b ]",
    "[a, ]",
    "{a: 1}",
    "é",
    "tab\there",
    "&anchor x",
    "!!str 5",
    "@at",
    "`tick",
    "%pct",
]
KEYS = ["role", "prefix", "inner_loop", "agent", "timeout_s", "on", "yes", "x-y", "_k", "1", "a b"]


@st.composite
def frontmatter(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from(KEYS))
        shape = draw(st.sampled_from(["scalar", "scalar", "nested", "empty", "blank", "odd"]))
        if shape == "scalar":
            lines.append(f"{key}: {draw(st.sampled_from(SCALARS))}")
        elif shape == "nested":
            lines.append(f"{key}:")
            indent = " " * draw(st.sampled_from([2, 2, 4, 1]))
            for _ in range(draw(st.integers(0, 3))):
                sub = draw(st.sampled_from(KEYS))
                lines.append(f"{indent}{sub}: {draw(st.sampled_from(SCALARS))}")
            if draw(st.booleans()):
                lines.append(f"{indent}  deeper: x")
        elif shape == "empty":
            lines.append(f"{key}:")
        elif shape == "blank":
            lines.append(draw(st.sampled_from(["", "  ", "# a comment"])))
        else:
            lines.append(draw(st.sampled_from([f"{key}:x", f"  {key}: x", f"{key}:  x", "- x"])))
        if draw(st.integers(0, 9)) == 0:
            lines[-1] += draw(st.sampled_from(["  ", " ", "\t"]))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


# the shapes the simple reader accepts, with YAML 1.1's traps inside them
PLAIN_KEYS = ["role", "prefix", "inner_loop", "agent", "on", "yes", "x-y", "_k", "null", "n"]
PLAIN_SCALARS = [s for s in SCALARS if not any(c in s for c in "#\t{&!@`%é")]


@st.composite
def plain_frontmatter(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for key in draw(st.lists(st.sampled_from(PLAIN_KEYS), min_size=1, max_size=5, unique=True)):
        if draw(st.integers(0, 3)) == 0:
            lines.append(f"{key}:")
            indent = " " * draw(st.sampled_from([1, 2, 4]))
            for sub in draw(st.lists(st.sampled_from(PLAIN_KEYS), max_size=3, unique=True)):
                lines.append(f"{indent}{sub}: {draw(st.sampled_from(PLAIN_SCALARS))}")
        else:
            lines.append(f"{key}: {draw(st.sampled_from(PLAIN_SCALARS))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=500, deadline=None)
@given(
    front=st.one_of(frontmatter(), plain_frontmatter(), plain_frontmatter()),
    first_line=st.integers(1, 5),
)
def test_the_simple_reader_agrees_with_pyyaml_or_declines(front: str, first_line: int) -> None:
    quick = simple_frontmatter(front, first_line=first_line)
    if quick is None:
        return
    value, lines, issues = compose_frontmatter(front, path="r.md", first_line=first_line)
    assert issues == []
    assert quick == (value, lines)
    assert {k: type(v) for k, v in quick[0].items()} == {k: type(v) for k, v in value.items()}


def test_the_usual_role_spec_is_read_without_pyyaml() -> None:
    front = (
        "role: coder\nprefix: IMPL\ninner_loop: false\ntimeout_s: 600\nmax_budget_usd: 1.5\n"
        'agent: ["claude", "-p"]\nmessage_types:\n  success: impl_complete\n  error: error\n'
    )
    value, lines = simple_frontmatter(front, first_line=2) or ({}, {})
    assert value["agent"] == ["claude", "-p"] and value["inner_loop"] is False
    assert lines["/message_types/error"] == 10 and lines["/agent/1"] == 7
    assert load_frontmatter(front, path="r.md", first_line=2) == (value, lines, [])


def test_what_yaml_types_otherwise_goes_to_pyyaml() -> None:
    for text in ("created: 2026-11-24\n", "mode: 0755\n", "a: b\na: c\n", "x: 1  # n\n"):
        assert simple_frontmatter(text, first_line=2) is None
