"""The end-of-run report: counts, durations, speedup, and its text frame."""

from __future__ import annotations

from factories import make_task
from teamexec.core.model import iso
from teamexec.core.report import build_report, report_lines
from teamexec.core.schedule import Stuck
from teamexec.validation.schema import schema_errors

NOW = 1_800_000_000.0


def report(tasks, tracked, *, started=NOW, finished=NOW + 10.0, stuck=()):
    return build_report(
        execution_id="exec-0123456789ab",
        session_id="TC-x",
        status="completed",
        tasks={t.id: t for t in tasks},
        tracked=tracked,
        started=started,
        finished=finished,
        stuck=stuck,
    )


def test_speedup_is_this_executions_task_time_over_wall_time():
    tasks = [make_task("A-001", "completed"), make_task("B-001", "completed")]
    out = report(tasks, {"A-001": 8.0, "B-001": 7.0})
    assert out["parallel_speedup"] == 1.5
    assert out["counts"] == {
        "total": 2,
        "pending": 0,
        "in_progress": 0,
        "completed": 2,
        "failed": 0,
    }


def test_tasks_of_an_earlier_run_keep_their_duration_but_not_the_speedup():
    earlier = make_task("A-001", "completed", started_at=iso(NOW - 100), completed_at=iso(NOW - 96))
    out = report([earlier], {})
    assert out["tasks"][0]["duration_s"] == 4.0
    assert out["parallel_speedup"] is None
    assert any("no task ran in this execution" in line for line in lines(out))
    assert schema_errors("report", out) == []


def test_stuck_tasks_carry_their_reason_and_last_error_lines():
    failed = make_task("A-001", "failed", attempts=3, last_error={"log_tail": "one\n\ntwo\nboom\n"})
    out = report([failed], {"A-001": 1.0}, stuck=[Stuck("A-001", "failed after 3 attempts")])
    assert out["stuck"] == [
        {
            "id": "A-001",
            "reason": "failed after 3 attempts",
            "last_lines": ["one", "two", "boom"],
            "log": "logs/A-001.3.log",  # the failure names its log (issue 12)
        }
    ]
    text = lines(out)
    assert "[executor] - A-001: failed after 3 attempts" in text
    assert "[executor]     log: s/logs/A-001.3.log" in text
    assert "[executor]     | boom" in text
    assert schema_errors("report", out) == []


def lines(out):
    return report_lines(out, roles=["a"], session_path="s", delivered=[])


def test_a_partial_completion_is_marked_in_its_row():
    tasks = [make_task("A-001", "completed", partial=True), make_task("B-001", "completed")]
    out = report(tasks, {})
    rows = {row["id"]: row for row in out["tasks"]}
    assert rows["A-001"]["partial"] is True
    assert "partial" not in rows["B-001"]
    assert schema_errors("report", out) == []
