"""Random damage to session files: `check` answers 0 or 1, never a traceback.

Hypothesis truncates files, flips bytes, swaps in random JSON values and YAML
junk, nests deeply and writes binary; validation must report issues (or
accept the session) and never raise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from teamexec.cli.app import app
from teamexec.storage.loader import read_session_files
from teamexec.validation.validate import validate_session

FIXTURE = Path(__file__).parent / "fixtures" / "valid"
FILES = ["team-session.json", "task-analysis.json", "role-specs/planner.md", "role-specs/coder.md"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def damage(draw):
    rel = draw(st.sampled_from(FILES))
    kind = draw(
        st.sampled_from(["truncate", "flip", "json", "yaml", "deep", "binary", "replace-key"])
    )
    return rel, kind, draw(st.data())


def apply(root: Path, rel: str, kind: str, data) -> None:
    path = root / rel
    raw = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, len(raw)))])
    elif kind == "flip" and raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        path.write_bytes(raw[:i] + bytes([data.draw(st.integers(0, 255))]) + raw[i + 1 :])
    elif kind == "json":
        path.write_text(json.dumps(data.draw(json_values)))
    elif kind == "yaml":
        junk = data.draw(
            st.sampled_from(["!!python/name:os.system", "{[", "- - -", "a: b: c", "? x"])
        )
        path.write_text(f"---\n{junk}\n---\n## Phase 2\n## Phase 3\n## Phase 4\n")
    elif kind == "deep":
        depth = data.draw(st.integers(100, 50000))
        path.write_text("[" * depth + "]" * depth)
    elif kind == "binary":
        path.write_bytes(data.draw(st.binary(min_size=1, max_size=64)))
    elif kind == "replace-key":
        text = raw.decode("utf-8", "replace")
        key = data.draw(
            st.sampled_from(["role", "prefix", "status", "name", "roles", "depends_on"])
        )
        path.write_text(text.replace(key, data.draw(st.text(max_size=5)), 1))


FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(damages=st.lists(damage(), min_size=1, max_size=3))
def test_validation_never_raises(tmp_path_factory, damages):
    root = tmp_path_factory.mktemp("fuzz") / "s"
    shutil.copytree(FIXTURE, root)
    for rel, kind, data in damages:
        if (root / rel).exists():
            apply(root, rel, kind, data)
    session, issues = validate_session(read_session_files(root))
    assert session is not None or issues


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(damages=st.lists(damage(), min_size=1, max_size=2))
def test_check_exits_0_or_1_without_traceback(tmp_path_factory, damages):
    root = tmp_path_factory.mktemp("fuzzcli") / "s"
    shutil.copytree(FIXTURE, root)
    for rel, kind, data in damages:
        if (root / rel).exists():
            apply(root, rel, kind, data)
    result = CliRunner().invoke(app, ["check", str(root)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
