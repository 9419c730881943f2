"""Sessions written exactly as CCW's team-coordinate writes them, run unchanged.

The fixtures come from tests/ccwkit.py (built from CCW's analyze-task.md,
dispatch.md and role-spec-template.md); the stand-in worker reports the way a
CCW team-worker does (tests/agents/ccw_agent.py, team_msg.py).
"""

from __future__ import annotations

import json

from ccwkit import FIVE, write_ccw_session
from sessionkit import teamexec


def test_a_ccw_session_passes_check_unchanged(tmp_path):
    root = write_ccw_session(tmp_path / "proj")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = teamexec("check", str(root), "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["progress"] == {"done": 0, "total": 5, "percent": 0}
    assert view["ready"] == ["RESEARCH-001"]
    assert not [w for w in view["warnings"] if "no agent command" not in w]
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert set(FIVE) == {row["id"] for row in view["tasks"]}


def test_check_shows_a_near_miss_with_file_and_line(tmp_path):
    root = write_ccw_session(tmp_path / "proj")
    spec = root / "role-specs" / "tester.md"
    spec.write_text(
        spec.read_text().replace("inner_loop: false\n", "inner_loop: false\ntimout_s: 60\n")
    )
    result = teamexec("check", str(root))
    assert result.returncode == 0, result.stderr
    assert f"{spec}:5: warning: unknown key 'timout_s': did you mean 'timeout_s'?" in (
        result.stdout + result.stderr
    )
