"""`executor.schedule` in a real run: the order in which ready tasks start (PROTOCOL §8 step 3)."""

from __future__ import annotations

import json

import pytest

from sessionkit import teamexec, write_session

# Two short tasks whose ids come first, and a two-link chain behind them.
GRAPH = {"A-001": [], "A-002": [], "C-001": [], "C-002": ["C-001"]}


def spawn_order(stdout: str) -> list[str]:
    return [
        line.rsplit(" for ", 1)[1].split()[0] for line in stdout.splitlines() if "spawned" in line
    ]


@pytest.mark.parametrize(
    ("schedule", "first"),
    [
        pytest.param(None, "C-001", id="default-is-critical-path"),
        pytest.param("critical_path", "C-001", id="critical-path"),
        pytest.param("fifo", "A-001", id="fifo"),
    ],
)
def test_one_worker_starts_the_longest_remaining_path_first(tmp_path, schedule, first):
    executor = {"max_workers": 1} if schedule is None else {"max_workers": 1, "schedule": schedule}
    root = write_session(tmp_path / "s", GRAPH, executor=executor)
    result = teamexec("run", str(root))
    assert result.returncode == 0, result.stderr + result.stdout
    order = spawn_order(result.stdout)
    assert sorted(order) == sorted(GRAPH)  # every task once
    assert order[0] == first
    assert order.index("C-001") < order.index("C-002")


def test_an_earlier_reports_durations_weigh_the_paths(tmp_path):
    """Role a took 12 s a task last time and c 5 s: A-001 (12) outranks C-001 (5 + 5).

    Once A-001 has run here (in well under 10 s), this session's own mean
    replaces the report's, and the chain goes next.
    """
    root = write_session(tmp_path / "s", GRAPH, executor={"max_workers": 1})
    rows = [
        {"id": "A-009", "role": "a", "status": "completed", "duration_s": 12.0},
        {"id": "C-009", "role": "c", "status": "completed", "duration_s": 5.0},
    ]
    (root / "report.json").write_text(json.dumps({"tasks": rows}))
    check = teamexec("check", str(root), "--json")
    assert json.loads(check.stdout)["ready"] == ["A-001", "A-002", "C-001"]
    result = teamexec("run", str(root))
    assert result.returncode == 0, result.stderr + result.stdout
    assert spawn_order(result.stdout)[:2] == ["A-001", "C-001"]
