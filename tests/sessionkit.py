"""Write real session directories for integration tests.

``write_session`` lays out team-session.json, task-analysis.json and one
role-spec per role for a dependency graph; the agent defaults to the
scripted agent in tests/agents/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

AGENT = [sys.executable, str(Path(__file__).parent / "agents" / "script_agent.py")]
REPO = Path(__file__).resolve().parent.parent
# Two layers of overlapping pairs and a join: every crash and recovery test's
# pipeline, small enough to run in a second, wide enough to run tasks in parallel.
CRASH_GRAPH = {
    "A-001": [],
    "A-002": [],
    "A-003": [],
    "B-001": ["A-001", "A-002"],
    "B-002": ["A-002", "A-003"],
    "C-001": ["B-001", "B-002"],
}


def role_spec(role: str, prefix: str, **extra: Any) -> str:
    front = {"role": role, "prefix": prefix, "inner_loop": False}
    front.update(extra)
    front.setdefault("message_types", {"success": f"{prefix.lower()}_complete", "error": "error"})
    body = "\n".join(f"{k}: {json.dumps(v)}" for k, v in front.items())
    return (
        f"---\n{body}\n---\n# {role} — Phase 2-4\n\n## Phase 2: Context\n\nRead inputs.\n\n"
        "## Phase 3: Work\n\nDo the work.\n\n## Phase 4: Check\n\nVerify.\n"
    )


def write_session(
    root: Path,
    graph: Mapping[str, Sequence[str]],
    *,
    specs: Mapping[str, Mapping[str, Any]] | None = None,
    executor: Mapping[str, Any] | None = None,
    behaviour: Mapping[str, Any] | None = None,
    completion_action: str = "auto_keep",
) -> Path:
    """A session whose role for ``X-001`` is ``x`` (prefix lower-cased)."""
    root.mkdir(parents=True, exist_ok=True)
    prefixes = sorted({t.rsplit("-", 1)[0] for t in graph})
    roles = [
        {"name": p.lower(), "prefix": p, "role_spec": f"role-specs/{p.lower()}.md"}
        for p in prefixes
    ]
    session = {
        "session_id": f"TEST-{root.name}",
        "task_description": "integration test",
        "status": "active",
        "team_name": "test",
        "roles": roles,
        "completion_action": completion_action,
        "executor": {"agent": AGENT, "max_workers": 4, **(executor or {})},
    }
    analysis = {
        "capabilities": [
            {
                "name": p.lower(),
                "prefix": p,
                "tasks": [{"id": t} for t in graph if t.startswith(p + "-")],
            }
            for p in prefixes
        ],
        "dependency_graph": {t: list(d) for t, d in graph.items()},
        "roles": [{"name": p.lower(), "prefix": p} for p in prefixes],
    }
    (root / "team-session.json").write_text(json.dumps(session, indent=2))
    (root / "task-analysis.json").write_text(json.dumps(analysis, indent=2))
    (root / "role-specs").mkdir(exist_ok=True)
    for p in prefixes:
        extra = dict((specs or {}).get(p.lower(), {}))
        (root / "role-specs" / f"{p.lower()}.md").write_text(role_spec(p.lower(), p, **extra))
    if behaviour:
        (root / "behaviour.json").write_text(json.dumps(behaviour))
    return root


def crash_session(tmp_path: Path) -> Path:
    """CRASH_GRAPH as a session whose agents take 50 ms, three at a time, with an
    orphan timer (300 s) no crash test may wait for: recovery must be proven."""
    behaviour = {t: {"sleep": 0.05} for t in CRASH_GRAPH}
    return write_session(
        tmp_path / "s",
        CRASH_GRAPH,
        behaviour=behaviour,
        executor={"orphan_after_s": 300, "max_workers": 3},
    )


def teamexec(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TEAMEXEC_AGENT", None)
    return subprocess.run(
        [sys.executable, "-m", "teamexec", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_teamexec(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "teamexec", *args],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def tasks(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((root / "tasks").glob("*.json")):
        out[path.stem] = json.loads(path.read_text())
    return out


def runs(root: Path, task: str) -> list[str]:
    """Start markers of the agent runs for ``task``."""
    directory = root / "runs"
    if not directory.is_dir():
        return []
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name.startswith(f"{task}.") and ".done." not in p.name
    )


def example(name: str, target: Path) -> Path:
    """A copy of ``sessions/<name>`` without any run state: tests never read the tree's."""
    from teamexec.storage.paths import copy_definition

    return copy_definition(REPO / "sessions" / name, target / name)


def journal_lines(path: Path) -> list[bytes]:
    """The lines of an executor journal: the file is preallocated, its lines end
    where the zeros begin (storage/journal.py)."""
    return path.read_bytes().split(b"\0", 1)[0].splitlines()
