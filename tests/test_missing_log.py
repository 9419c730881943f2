"""A missing log reads as an empty one (a silent plain agent has none: docs/DESIGN.md).

check, the run's summary and `report` are proved on a real run in
tests/integration/test_silent_agents.py."""

from __future__ import annotations

from pathlib import Path

from teamexec.core import reportpage
from teamexec.executor.agents import read_log
from teamexec.storage.logtail import read_tail


def test_the_log_readers_take_a_missing_log_as_empty(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    missing = tmp_path / "logs" / "A-001.1.log"
    assert read_tail(missing, root=tmp_path) == ""
    assert read_log(missing, root=tmp_path) == ""
    missing.write_text("one\ntwo\n")  # and once it exists, what it holds
    assert read_tail(missing, root=tmp_path) == "one\ntwo"
    assert read_log(missing, root=tmp_path) == "one\ntwo\n"


def test_the_page_shows_no_log_output_where_there_is_no_tail() -> None:
    bar = {"task": "A-001", "attempt": 1, "role": "a", "outcome": "unknown", "reason": "exit 4"}
    html = reportpage._failures({"stuck": []}, [bar], {})
    assert "(no log output)" in html and "A-001.1.log" not in html
    html = reportpage._failures({"stuck": []}, [bar], {"A-001.1": "last words"})
    assert "logs/A-001.1.log" in html and "last words" in html
