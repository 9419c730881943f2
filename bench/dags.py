"""DAG shapes for the benchmarks, written three ways: teamexec session, Makefile, Snakefile.

``layered(L, W)``: L layers of W tasks, each depending on 2 tasks of the
previous layer; ``chain(N)``; ``fanout(N)``: one root, N-1 leaves.  Every
task's work is a no-op (`true`), so the numbers measure the executors.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

Graph = dict[str, list[str]]


def layered(layers: int, width: int) -> Graph:
    graph: Graph = {}
    for layer in range(layers):
        for i in range(width):
            tid = f"T-{layer * width + i:06d}"
            if layer == 0:
                graph[tid] = []
            else:
                prev = (layer - 1) * width
                graph[tid] = sorted({f"T-{prev + i:06d}", f"T-{prev + (i + 1) % width:06d}"})
    return graph


def chain(n: int) -> Graph:
    return {f"T-{i:06d}": ([f"T-{i - 1:06d}"] if i else []) for i in range(n)}


def fanout(n: int) -> Graph:
    return {f"T-{i:06d}": ([] if i == 0 else ["T-000000"]) for i in range(n)}


def write_session(
    root: Path,
    graph: Graph,
    *,
    agent: list[str],
    worker: str | None = None,
    role_keys: Sequence[str] = (),
    executor: Mapping[str, object] | None = None,
    description: str = "benchmark",
) -> Path:
    """A one-role teamexec session running ``agent`` for every task with ``worker``
    (None: no ``executor.worker`` key, what a user gets without reading the docs).

    ``role_keys`` are extra frontmatter lines of the role-spec and ``executor``
    extra keys of team-session.json's ``executor`` (bench/ratelimit.py's).
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "role-specs").mkdir(parents=True)
    front = ["role: t", "prefix: T", "inner_loop: false", f"agent: {json.dumps(agent)}"]
    front += [*role_keys, "message_types:", "  success: t_complete", "  error: error"]
    (root / "role-specs" / "t.md").write_text(
        "---\n" + "\n".join(front) + "\n---\n# t\n## Phase 2\n## Phase 3\n## Phase 4\n"
    )
    session = {
        "session_id": f"BENCH-{root.name}",
        "task_description": description,
        "status": "active",
        "team_name": "bench",
        "roles": [{"name": "t", "prefix": "T"}],
        "completion_action": "auto_keep",
        "executor": {
            "orphan_after_s": 300,
            **({} if worker is None else {"worker": worker}),
            **(executor or {}),
        },
    }
    analysis = {
        "capabilities": [{"name": "t", "prefix": "T"}],
        "dependency_graph": graph,
        "roles": [{"name": "t", "prefix": "T"}],
    }
    (root / "team-session.json").write_text(json.dumps(session))
    (root / "task-analysis.json").write_text(json.dumps(analysis))
    return root


def write_makefile(root: Path, graph: Graph) -> Path:
    """Phony targets, so make runs every recipe once per invocation."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [".PHONY: all " + " ".join(graph), "all: " + " ".join(graph)]
    for tid, deps in graph.items():
        lines.append(f"{tid}: {' '.join(deps)}")
        lines.append("\t@true")
    path = root / "Makefile"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_snakefile(root: Path, graph: Graph) -> Path:
    """One rule per task; outputs are marker files under out/ (Snakemake needs files)."""
    root.mkdir(parents=True, exist_ok=True)
    rules = ["rule all:", f"    input: {json.dumps([f'out/{t}' for t in graph])}", ""]
    for tid, deps in graph.items():
        rules.append(f"rule r_{tid.replace('-', '_')}:")
        if deps:
            rules.append(f"    input: {json.dumps([f'out/{d}' for d in deps])}")
        rules.append(f"    output: 'out/{tid}'")
        rules.append("    shell: 'true && touch {output}'")
        rules.append("")
    path = root / "Snakefile"
    path.write_text("\n".join(rules))
    return path
