"""The project's own docs stay the reference: every variable and key the code uses is in them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from teamexec.validation import schema
from teamexec.validation.rolespec import EXTRA_KEYS
from teamexec.validation.validate import EXECUTOR_EXTRA_KEYS

REPO = Path(__file__).resolve().parent.parent
FORMAT = (REPO / "docs" / "FORMAT.md").read_text(encoding="utf-8")
VARIABLE = re.compile(r"\b(TEAMEXEC_[A-Z_]+|CLAUDE_CODE_[A-Z_]+|CCW_PROJECT_ROOT)\b")


def sources() -> list[Path]:
    package = REPO / "teamexec"
    return sorted([*package.rglob("*.py"), *package.rglob("*.sh")])


def test_every_environment_variable_is_documented():
    used = {name for path in sources() for name in VARIABLE.findall(path.read_text())}
    assert "TEAMEXEC_TASK_ID" in used
    missing = sorted(name for name in used if f"`{name}`" not in FORMAT)
    assert missing == [], f"document these in docs/FORMAT.md §7: {missing}"


@pytest.mark.parametrize(
    ("kind", "path", "extra"),
    [
        ("role-spec", (), EXTRA_KEYS),
        ("team-session", ("properties", "executor"), EXECUTOR_EXTRA_KEYS),
    ],
    ids=["role-spec", "executor"],
)
def test_every_key_is_documented(kind, path, extra):
    keys = [*schema.property_names(kind, *path), *extra]
    missing = [k for k in keys if f"`{k}`" not in FORMAT and f"\n{k}:" not in FORMAT]
    assert missing == [], f"document these keys in docs/FORMAT.md: {missing}"


def test_the_readme_links_the_docs_and_nothing_points_outside_the_repo():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/FORMAT.md)" in readme and "docs/DESIGN.md" in readme
    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md"), REPO / "bench" / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text, doc
        assert "PROTOCOL v" not in text, f"{doc}: cite docs/FORMAT.md, the repo's own reference"
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc}: broken link {target}"
