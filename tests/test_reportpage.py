"""The report page is a pure function of report.json: lanes, bars, escaping, no network."""

from __future__ import annotations

import re

from teamexec.core.model import iso
from teamexec.core.reportpage import attempt_bars, graph_layers, render_page, spend

T0 = 1_800_000_000.0


def entry(attempt, start, end, outcome="completed", slot=None, reason=None):
    e = {"attempt": attempt, "started_at": iso(T0 + start)}
    if end is not None:
        e.update(ended_at=iso(T0 + end), outcome=outcome)
    if slot is not None:
        e["slot"] = slot
    if reason:
        e["reason"] = reason
    return e


def report(rows, **extra):
    return {
        "session_id": "S",
        "execution_id": "exec-000000000000",
        "status": "failed",
        "started_at": iso(T0),
        "finished_at": iso(T0 + 10),
        "duration_s": 10.0,
        "counts": {"total": len(rows), "completed": 1},
        "parallel_speedup": 1.2,
        "tasks": rows,
        "stuck": [],
        **extra,
    }


ROWS = [
    {"id": "A-001", "role": "a", "status": "completed", "attempt_log": [entry(1, 0, 2, slot=0)]},
    {
        "id": "B-001",
        "role": "b",
        "status": "failed",
        "depends_on": ["A-001"],
        "attempt_log": [
            entry(1, 2, 3, "transient", slot=0, reason="<overloaded>"),
            entry(2, 4, 6, "permanent", slot=1),
        ],
    },
    {"id": "C-001", "role": "b", "status": "pending", "depends_on": ["B-001"]},
]


def test_one_bar_per_attempt_in_its_slot():
    bars = attempt_bars(report(ROWS))
    assert [(b["task"], b["attempt"], b["slot"], b["outcome"]) for b in bars] == [
        ("A-001", 1, 0, "completed"),
        ("B-001", 1, 0, "transient"),
        ("B-001", 2, 1, "permanent"),
    ]


def test_attempts_without_a_slot_get_free_lanes_after_the_recorded_ones():
    rows = [
        {"id": "X-1", "role": "x", "attempt_log": [entry(1, 0, 5, slot=0), entry(2, 6, 7)]},
        {"id": "X-2", "role": "x", "attempt_log": [entry(1, 1, 3), entry(2, 2, 4)]},
    ]
    lanes = {(b["task"], b["attempt"]): b["slot"] for b in attempt_bars(report(rows))}
    assert lanes == {("X-1", 1): 0, ("X-2", 1): 1, ("X-2", 2): 2, ("X-1", 2): 1}


def test_an_open_attempt_ends_at_the_report_and_shows_as_running():
    rows = [{"id": "A-001", "role": "a", "attempt_log": [entry(1, 8, None, slot=0)]}]
    (bar,) = attempt_bars(report(rows))
    assert bar["outcome"] == "open" and bar["end"] == T0 + 10


def test_the_page_shows_bars_failures_and_graph_and_escapes_text():
    page = render_page(report(ROWS), log_tails={"B-001.2": "line <1>\nboom"}, title="T & co")
    assert page.count('<g class="bar"') == 3
    assert 'data-outcome="permanent"' in page
    assert "&lt;overloaded&gt;" in page and "<overloaded>" not in page
    assert "line &lt;1&gt;\nboom" in page
    assert "T &amp; co" in page
    assert page.count('<g class="node"') == 3
    assert "No cost or token figures were recorded" in page


def test_the_page_loads_nothing_from_anywhere():
    page = render_page(report(ROWS))
    assert not re.search(r"<script|<link|<img|src=|href=|url\(|@import", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}


def test_cost_and_tokens_from_runs_or_rows():
    rows = [
        {"id": "A-1", "role": "a", "runs": [{"cost_usd": 0.5, "tokens": {"in": 10, "out": 5}}]},
        {"id": "A-2", "role": "a", "cost_usd": 0.25, "tokens": 100},
        {"id": "B-1", "role": "b"},
    ]
    assert spend(report(rows)) == {
        "a": {"cost_usd": 0.75, "tokens": 115.0, "turns": 0.0, "rate_limited": 0.0}
    }
    page = render_page(report(rows))
    assert '<table id="spend">' in page and "$0.7500" in page


def test_graph_layers_follow_the_longest_chain():
    rows = [
        {"id": "A", "depends_on": []},
        {"id": "B", "depends_on": ["A"]},
        {"id": "C", "depends_on": ["A", "B"]},
        {"id": "D", "depends_on": ["missing"]},
    ]
    assert graph_layers(rows) == {"A": 0, "B": 1, "C": 2, "D": 0}


def test_graph_layers_survive_a_cycle_and_a_long_chain():
    assert set(graph_layers([{"id": "A", "depends_on": ["B"]}, {"id": "B", "depends_on": ["A"]}]))
    chain = [{"id": f"T{i}", "depends_on": [f"T{i - 1}"] if i else []} for i in range(5000)]
    assert graph_layers(chain)["T4999"] == 4999


def test_cost_and_tokens_from_the_report_usage_totals():
    usage = {"cost_usd": 1.5, "tokens": 2000, "turns": 7, "runs": 3, "rate_limited": 1}
    none = {"cost_usd": 0, "tokens": 0, "turns": 0, "runs": 0, "rate_limited": 0}
    out = report(ROWS, usage={"run": usage, "roles": {"b": usage, "a": none}})
    assert spend(out) == {
        "b": {"cost_usd": 1.5, "tokens": 2000.0, "turns": 7.0, "rate_limited": 1.0}
    }
    page = render_page(out)
    assert "$1.5000" in page and "2,000" in page


def test_tasks_completed_without_evidence_are_listed():
    page = render_page(report(ROWS[:1], evidence_missing=["A-001"]))
    assert "Completed without writing a deliverable" in page and "A-001" in page


def test_a_large_graph_is_summarised_by_depth():
    rows = [
        {"id": f"T-{i}", "status": "completed", "depends_on": [f"T-{i - 1}"] if i % 2 else []}
        for i in range(1000)
    ]
    page = render_page(report(rows))
    assert '<table id="graph">' in page and '<g class="node"' not in page
    assert "1000 tasks: too many to draw" in page and "500 completed" in page
