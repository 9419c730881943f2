"""A Claude Code task list as teamexec's store, mapped by subject (PROTOCOL §5)."""

from __future__ import annotations

import json
from pathlib import Path

from ccwkit import FIVE, claude_list
from teamexec.core.model import Task
from teamexec.storage.claudelist import (
    ClaudeList,
    is_claude_list,
    mirror_dir,
    open_task_store,
)
from teamexec.storage.store import TaskStore


def _entries(directory: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def _design() -> Task:
    """DESIGN-001 as teamexec holds it: pending, waiting on RESEARCH-001."""
    return Task(
        {
            "id": "DESIGN-001",
            "subject": "DESIGN-001",
            "status": "pending",
            "owner": "designer",
            "blockedBy": ["RESEARCH-001"],
            "blocks": [],
        }
    )


def test_the_numeric_layout_is_detected(tmp_path):
    claude_list(tmp_path / "c", tmp_path / "s")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "PLAN-001.json").write_text("{}")
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    assert is_claude_list(tmp_path / "c", env)
    assert not is_claude_list(tmp_path / "t", env)
    assert not is_claude_list(tmp_path / "empty", env)
    assert is_claude_list(tmp_path / "cfg" / "tasks" / "TC-x", env)  # Claude's place, empty
    assert isinstance(open_task_store(tmp_path / "c"), ClaudeList)
    assert type(open_task_store(tmp_path / "t")) is TaskStore
    assert mirror_dir(env, "TC-x") == tmp_path / "cfg" / "tasks" / "TC-x"


def test_entries_are_tasks_by_subject_and_trackers_are_invisible(tmp_path):
    number = claude_list(
        tmp_path / "c", tmp_path / "s", done=["RESEARCH-001"], trackers=["Run the linter"]
    )
    tasks, issues = ClaudeList(tmp_path / "c", subjects=FIVE).read_all()
    assert issues == []
    assert set(tasks) == set(FIVE)
    assert tasks["DESIGN-001"].blocked_by == ("RESEARCH-001",)
    assert tasks["RESEARCH-001"].status.value == "completed"
    assert tasks["IMPL-001"].owner == "developer"
    assert number["Run the linter"] == 1


def test_missing_tasks_are_created_as_claude_would_and_nothing_foreign_is_touched(tmp_path):
    directory = tmp_path / "c"
    claude_list(directory, tmp_path / "s", {"RESEARCH-001": []}, trackers=["Tidy up"])
    (directory / ".highwatermark").write_text("7")
    tracker = (directory / "1.json").read_bytes()
    store = ClaudeList(directory, subjects=FIVE)
    design = _design()
    impl = Task(
        {
            "id": "IMPL-001",
            "subject": "IMPL-001",
            "status": "pending",
            "owner": "developer",
            "blockedBy": ["DESIGN-001"],
            "blocks": [],
        }
    )
    assert store.write_many([impl, design]) == 2
    entries = _entries(directory)
    assert set(entries) == {"1.json", "2.json", "8.json", "9.json"}  # no DESIGN-001.json
    assert entries["8.json"]["subject"] == "DESIGN-001"  # dependencies first
    assert entries["8.json"]["blockedBy"] == ["2"]
    assert entries["9.json"]["blockedBy"] == ["8"]
    assert entries["9.json"]["id"] == "9"
    assert (directory / ".highwatermark").read_text() == "9"
    assert (directory / "1.json").read_bytes() == tracker
    assert store.write_many([impl, design]) == 0  # unchanged: no write


def test_a_completion_written_by_an_agent_is_never_overridden(tmp_path):
    directory = tmp_path / "c"
    claude_list(directory, tmp_path / "s")
    store = ClaudeList(directory, subjects=FIVE)
    claimed = store.claim("RESEARCH-001", "w1", now=0.0)
    assert claimed is not None and claimed.status.value == "in_progress"
    entry = json.loads((directory / "1.json").read_text())
    entry["status"] = "completed"  # the agent's TaskUpdate
    (directory / "1.json").write_text(json.dumps(entry))
    assert store.completed() == {"RESEARCH-001"}
    store.write(claimed.evolve(metadata={"phase": "x"}))
    assert json.loads((directory / "1.json").read_text())["status"] == "completed"
    assert store.claim("RESEARCH-001", "w2", now=1.0) is None


def test_an_agent_setting_a_completed_entry_back_never_reopens_it(tmp_path):
    directory = tmp_path / "c"
    claude_list(directory, tmp_path / "s", done=["RESEARCH-001"])
    store = ClaudeList(directory, subjects=FIVE)
    assert store.read("RESEARCH-001").status.value == "completed"
    entry = json.loads((directory / "1.json").read_text())
    entry["status"] = "pending"  # an agent's TaskUpdate
    (directory / "1.json").write_text(json.dumps(entry))
    assert store.read("RESEARCH-001").status.value == "completed"
    assert store.claim("RESEARCH-001", "w", now=0.0) is None
    assert store.completed() == {"RESEARCH-001"}


def test_the_mirror_lists_only_open_blockers(tmp_path):
    # team-worker.md Phase 1 picks pending tasks whose blockedBy is empty
    store = ClaudeList(tmp_path / "m", subjects=FIVE)
    store.open_blockers_only = True
    research = Task(
        {
            "id": "RESEARCH-001",
            "subject": "RESEARCH-001",
            "status": "pending",
            "owner": "researcher",
            "blockedBy": [],
            "blocks": ["DESIGN-001"],
        }
    )
    design = _design()
    store.write_many([design, research])
    assert _entries(tmp_path / "m")["2.json"]["blockedBy"] == ["1"]
    store.write_many([research.evolve(status="completed"), design])
    assert _entries(tmp_path / "m")["2.json"]["blockedBy"] == []
    assert ClaudeList(tmp_path / "m", subjects=FIVE).read("DESIGN-001").blocked_by == ()
