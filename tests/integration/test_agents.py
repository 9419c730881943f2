"""Real agent CLIs as workers, end to end, with stand-in claude/codex/gemini executables.

The stand-ins (tests/agents/standins/) print what the real CLIs print in
headless mode; they are put first on PATH, so a role whose agent is
``claude -p --output-format json`` runs one.  Every assertion is on what
teamexec wrote: the task metadata, report.json, ``check``'s view and output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sessionkit import tasks, teamexec, write_session
from teamexec.validation.schema import schema_errors

STANDINS = Path(__file__).resolve().parent.parent / "agents" / "standins"
ENV = {"PATH": f"{STANDINS}{os.pathsep}{os.environ.get('PATH', '')}"}
CLAUDE = ["claude", "-p", "--output-format", "json"]
CODEX = ["codex", "exec", "--json", "--full-auto", "-"]
GEMINI = ["gemini", "--output-format", "json"]


def agent_runs(root: Path) -> list[dict[str, Any]]:
    """What the stand-ins recorded, one entry per agent run."""
    directory = root / "runs"
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def report(root: Path) -> dict[str, Any]:
    data = json.loads((root / "report.json").read_text())
    assert schema_errors("report", data) == []
    return data


def session(tmp_path: Path, graph: dict[str, list[str]], agent: list[str], **kw: Any) -> Path:
    executor = {"agent": agent, "max_workers": 2, **kw.pop("executor", {})}
    return write_session(tmp_path / "s", graph, executor=executor, **kw)


@pytest.mark.parametrize(
    "agent",
    [
        pytest.param(CLAUDE, id="claude"),
        pytest.param(CODEX, id="codex"),
        pytest.param(GEMINI, id="gemini"),
    ],
)
def test_success_records_figures_and_report_totals_equal_what_agents_spent(tmp_path, agent):
    graph = {"A-001": [], "A-002": ["A-001"], "B-001": ["A-001"]}
    behaviour = {
        "A-001": {"cost": 0.125, "tokens": {"input": 1000, "output": 300}},
        "A-002": {"cost": 0.25},
        "B-001": {"cost": 0.0625},
    }
    root = session(tmp_path, graph, agent, behaviour=behaviour)
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    state = tasks(root)
    first = state["A-001"]["metadata"]["runs"]
    assert len(first) == 1 and first[0]["attempt"] == 1
    assert first[0]["session_id"].startswith(agent[0])
    assert first[0]["agent"] == agent[0]
    summed = report(root)["usage"]
    runs = agent_runs(root)
    assert len(runs) == 3
    if agent[0] == "claude":
        assert first[0]["turns"] == 3 and first[0]["duration_ms"] == 1234
        assert first[0]["tokens"]["input"] == 1000 and first[0]["tokens"]["output"] == 300
        assert summed["run"]["cost_usd"] == pytest.approx(sum(r["cost"] for r in runs))
        assert summed["roles"]["a"]["cost_usd"] == pytest.approx(0.375)
    else:  # codex and gemini report tokens, no cost
        assert summed["run"]["cost_usd"] == 0
    assert summed["run"]["tokens"] == 1300 + 1200 + 1200
    assert summed["run"]["runs"] == 3
    assert "Spent: $" in result.stdout
    view = json.loads(teamexec("check", str(root), "--json", env=ENV).stdout)
    assert view["usage"] == summed
    page = tmp_path / "report.html"
    assert teamexec("report", str(root), "--html", str(page), env=ENV).returncode == 0
    assert f"${summed['run']['cost_usd']:.4f}" in page.read_text()  # the page's spend table


def test_claude_is_error_with_subtype_success_fails_the_attempt_and_the_retry_resumes(tmp_path):
    behaviour = {"A-001": {"outcomes": ["is_error", "success"], "cost": 0.5}}
    root = session(
        tmp_path, {"A-001": []}, CLAUDE, behaviour=behaviour, specs={"a": {"max_retries": 1}}
    )
    result = teamexec("run", str(root), "--backoff-scale", "0.01", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is_error" in result.stdout
    task = tasks(root)["A-001"]
    assert task["status"] == "completed" and task["metadata"]["attempts"] == 2
    first, second = sorted(agent_runs(root), key=lambda r: "--resume" in r["argv"])
    assert first["outcome"] == "is_error"
    # the retry continues the failed attempt's conversation
    assert second["argv"][-2:] == ["--resume", first["session_id"]]
    assert report(root)["usage"]["run"]["cost_usd"] == pytest.approx(1.0)


def test_is_error_counts_against_max_retries(tmp_path):
    behaviour = {"A-001": {"outcomes": ["is_error"]}}
    root = session(
        tmp_path, {"A-001": []}, CLAUDE, behaviour=behaviour, specs={"a": {"max_retries": 0}}
    )
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 1
    assert tasks(root)["A-001"]["status"] == "failed"


@pytest.mark.parametrize(
    "agent",
    [
        pytest.param(CLAUDE, id="claude"),
        pytest.param(CODEX, id="codex"),
        pytest.param(GEMINI, id="gemini"),
    ],
)
def test_rate_limit_is_not_counted_and_holds_the_kind_until_the_reset(tmp_path, agent):
    behaviour = {"A-001": {"outcomes": ["429", "success"], "resets_in": 1}}
    root = session(
        tmp_path, {"A-001": []}, agent, behaviour=behaviour, specs={"a": {"max_retries": 0}}
    )
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{agent[0]} rate-limited until" in result.stdout
    task = tasks(root)["A-001"]
    assert task["status"] == "completed"
    assert task["metadata"]["rate_limited"] == 1  # not counted: max_retries 0 still allowed it
    runs = task["metadata"]["runs"]
    assert runs[0]["rate_limited"] is True
    usage = report(root)["usage"]["run"]
    assert usage["rate_limited"] == 1
    session_data = json.loads((root / "team-session.json").read_text())
    assert "rate_limits" not in session_data  # the gate opened again once an attempt got through


def test_claude_rate_limit_event_reset_time_is_waited_for(tmp_path):
    behaviour = {"A-001": {"outcomes": ["429", "success"], "resets_in": 2}}
    root = session(tmp_path, {"A-001": []}, CLAUDE, behaviour=behaviour)
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(r["outcome"] for r in agent_runs(root)) == ["429", "success"]
    first_log = (root / "logs" / "A-001.1.log").read_text()
    reset = next(
        json.loads(line)["rate_limit_info"]["resetsAt"]
        for line in first_log.splitlines()
        if '"rate_limit_event"' in line
    )
    started_second = (root / "logs" / "A-001.2.log").stat().st_ctime
    assert started_second >= reset - 0.05  # no new claude worker before resetsAt


def test_codex_retry_resumes_the_thread(tmp_path):
    behaviour = {"A-001": {"outcomes": ["error", "success"]}}
    root = session(tmp_path, {"A-001": []}, CODEX, behaviour=behaviour)
    result = teamexec("run", str(root), "--backoff-scale", "0.01", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = sorted(agent_runs(root), key=lambda r: "resume" in r["argv"])
    assert second["argv"][-3:] == ["resume", first["session_id"], "-"]


def test_context_overflow_retry_starts_afresh(tmp_path):
    behaviour = {"A-001": {"outcomes": ["overflow", "success"]}}
    root = session(tmp_path, {"A-001": []}, CLAUDE, behaviour=behaviour)
    result = teamexec("run", str(root), "--backoff-scale", "0.01", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all("--resume" not in r["argv"] for r in agent_runs(root))


def test_role_budget_is_passed_to_claude(tmp_path):
    root = session(tmp_path, {"A-001": []}, CLAUDE, specs={"a": {"max_budget_usd": 1.5}})
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = agent_runs(root)
    assert run["argv"][-2:] == ["--max-budget-usd", "1.5"]


def test_budget_stops_spawning_pauses_and_resume_after_raising_it_runs_nothing_twice(tmp_path):
    graph = {"A-001": [], "A-002": ["A-001"], "A-003": ["A-002"], "A-004": ["A-003"]}
    behaviour = {"*": {"cost": 0.1}}
    root = session(
        tmp_path,
        graph,
        CLAUDE,
        behaviour=behaviour,
        executor={"max_workers": 1, "budget": {"usd": 0.25}},
    )
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "budget" in result.stdout and "$0.3000" in result.stdout
    state = tasks(root)
    assert [state[t]["status"] for t in sorted(graph)] == [
        "completed",
        "completed",
        "completed",
        "pending",
    ]
    assert json.loads((root / "team-session.json").read_text())["status"] == "paused"
    same = teamexec("resume", str(root), env=ENV)  # the budget is still spent: nothing starts
    assert same.returncode == 1 and len(agent_runs(root)) == 3
    data = json.loads((root / "team-session.json").read_text())
    data["executor"]["budget"]["usd"] = 1.0
    (root / "team-session.json").write_text(json.dumps(data))
    resumed = teamexec("resume", str(root), env=ENV)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    runs = agent_runs(root)
    assert sorted(r["session_id"].split("-")[1] + r["session_id"].split("-")[2] for r in runs) == [
        "A001",
        "A002",
        "A003",
        "A004",
    ]
    assert report(root)["usage"]["run"]["cost_usd"] == pytest.approx(0.4)


def declare_artifacts(root: Path, role: str, names: list[str]) -> None:
    path = root / "task-analysis.json"
    analysis = json.loads(path.read_text())
    for capability in analysis["capabilities"]:
        if capability["name"] == role:
            capability["artifacts"] = names
    path.write_text(json.dumps(analysis))


def test_evidence_warn_lists_a_task_that_wrote_no_deliverable(tmp_path):
    graph = {"A-001": [], "A-002": []}
    behaviour = {"A-001": {"artifact": False}}
    # one at a time: a placeholder name is matched by any new file in artifacts/
    root = session(tmp_path, graph, CLAUDE, behaviour=behaviour, executor={"max_workers": 1})
    declare_artifacts(root, "a", ["<task>.md"])
    stale = root / "artifacts" / "old.md"  # written before the run: no evidence of this attempt
    stale.parent.mkdir()
    stale.write_text("old")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "A-001 completed without a deliverable" in result.stdout
    assert report(root)["evidence_missing"] == ["A-001"]
    view = json.loads(teamexec("check", str(root), "--json", env=ENV).stdout)
    assert view["evidence_missing"] == ["A-001"]
    assert "Completed without a deliverable" in teamexec("check", str(root), env=ENV).stdout


def test_evidence_require_fails_the_attempt(tmp_path):
    behaviour = {"A-001": {"artifact": False}}
    root = session(
        tmp_path,
        {"A-001": [], "A-002": []},
        CLAUDE,
        behaviour=behaviour,
        specs={"a": {"max_retries": 0}},
        executor={"evidence": "require"},
    )
    declare_artifacts(root, "a", ["a-001.md", "a-002.md"])
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 1
    state = tasks(root)
    assert state["A-001"]["status"] == "failed"
    assert "no deliverable written" in state["A-001"]["metadata"]["last_error"]["reason"]
    assert state["A-002"]["status"] == "completed"


def test_evidence_off_checks_nothing(tmp_path):
    root = session(
        tmp_path,
        {"A-001": []},
        CLAUDE,
        behaviour={"A-001": {"artifact": False}},
        specs={"a": {"evidence": "off"}},
        executor={"evidence": "require"},
    )
    declare_artifacts(root, "a", ["a-001.md"])
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report(root)["evidence_missing"] == []


def test_team_worker_finds_its_own_task_in_the_claude_list_and_completes_it_there(tmp_path):
    # team-worker.md Phase 1 takes the first pending, unblocked entry of its prefix: the
    # mirror must lead each agent to the task teamexec started it for, not a sibling
    graph = {"IMPL-001": [], "IMPL-002": [], "IMPL-003": [], "IMPL-004": ["IMPL-001"]}
    behaviour = {"*": {"team_worker": True, "exit": 3}}  # only the list can complete it
    root = session(tmp_path, graph, CLAUDE, behaviour=behaviour, executor={"max_workers": 2})
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = agent_runs(root)
    assert sorted(r["claimed"] for r in runs) == sorted(graph)  # each task once
    assert all(r["claimed"] == r["task"] for r in runs)
    assert {t["status"] for t in tasks(root).values()} == {"completed"}
    mirror = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "tasks" / "TEST-s"
    entries = [json.loads(p.read_text()) for p in mirror.glob("*.json")]
    assert sorted(e["subject"] for e in entries) == sorted(graph)
    assert {e["status"] for e in entries} == {"completed"}


def test_inner_loop_continues_the_previous_tasks_conversation(tmp_path):
    graph = {"S-001": [], "S-002": ["S-001"], "S-003": ["S-002"]}
    root = session(tmp_path, graph, CLAUDE, specs={"s": {"inner_loop": True}})
    result = teamexec("run", str(root), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {r["task"]: r for r in agent_runs(root)}
    assert "--resume" not in runs["S-001"]["argv"], result.stdout
    assert runs["S-002"]["argv"][-2:] == ["--resume", runs["S-001"]["session_id"]], result.stdout
    assert runs["S-003"]["argv"][-2:] == ["--resume", runs["S-002"]["session_id"]]
