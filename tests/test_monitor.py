"""The monitor's wake-ups on real directories, with real watchdog observers.

What the loop relies on (executor/monitor.py, runner._watch): the executor's own
appends to ``.msg/messages.jsonl`` wake nothing, a line anyone else appends
(CCW's team_msg) always does, and deletions (the executor's own removal of
inbox files) raise no event.  An absent wake-up is shown without sleeping: a
sentinel file is created after the actions under test, and the events of one
directory arrive in order, so any wake-up they caused precedes the sentinel's.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from teamexec.executor.monitor import Monitor, Wake, WakeKind
from teamexec.executor.runner import own_lines
from teamexec.storage.messages import MessageLog

sys.path.insert(0, str(Path(__file__).parent / "agents"))
import team_msg  # tests/agents is not a package: agents run its files

TIMEOUT = 20.0


def message(n: int) -> dict[str, object]:
    return {"id": f"w.{n}", "ts": "t", "from": "developer", "type": "progress", "data": {}}


def wakes_until(monitor: Monitor, name: str) -> list[Wake]:
    """Every wake-up up to and including the first one for ``name`` (within TIMEOUT)."""
    deadline = time.monotonic() + TIMEOUT
    got: list[Wake] = []
    while True:
        try:
            wake = monitor.wakes.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no wake-up for {name} within {TIMEOUT} s; got {got}") from None
        got.append(wake)
        if wake.name == name:
            return got


def sentinel(directory: Path, name: str) -> None:
    (directory / name).write_text("{}\n")


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CCW-placed session whose log team_msg has already written to."""
    monkeypatch.setenv("CCW_PROJECT_ROOT", str(tmp_path))
    team_msg.log("S", sender="coordinator", type_="progress")
    return tmp_path / ".workflow" / ".team" / "S"


def watching(session: Path, log: MessageLog, *, poll: bool) -> Iterator[Monitor]:
    monitor = Monitor(poll=poll, probe=session)
    monitor.watch(session / ".msg", WakeKind.LOG, quiet=own_lines(log), writes_at_close=True)
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


@pytest.fixture
def log(session: Path) -> Iterator[MessageLog]:
    log = MessageLog(session / ".msg" / "messages.jsonl", root=session)
    yield log
    log.close()


@pytest.fixture
def inotify(session: Path, log: MessageLog) -> Iterator[Monitor]:
    yield from watching(session, log, poll=False)


@pytest.fixture
def polling(session: Path, log: MessageLog) -> Iterator[Monitor]:
    yield from watching(session, log, poll=True)


def test_own_appends_wake_nothing_and_a_team_msg_line_wakes_at_once(session, log, inotify):
    for n in range(20):
        log.append(message(n), sync=False)
    team_msg.log("S", sender="IMPL-001", type_="progress")
    # the only wake-up: team_msg's line, though 20 own lines came first
    assert wakes_until(inotify, "messages.jsonl") == [Wake(WakeKind.LOG, "messages.jsonl")]
    assert [line.record and line.record["from"] for line in log.follow()] == ["IMPL-001"]
    log.append(message(20), sync=False)
    log.close()  # the close of the executor's own descriptor is its own doing too
    sentinel(session / ".msg", "sentinel")
    assert wakes_until(inotify, "sentinel") == [Wake(WakeKind.LOG, "sentinel")]


def test_a_line_slipped_in_before_an_own_append_still_wakes(session, log, inotify):
    """team_msg appends, then the executor appends before the event is handled."""
    log.append(message(1), sync=False)
    team_msg.log("S", sender="IMPL-001", type_="progress")
    log.append(message(2), sync=False)  # its step-over fails: the foreign line is unread
    assert wakes_until(inotify, "messages.jsonl")[-1] == Wake(WakeKind.LOG, "messages.jsonl")
    assert [line.record and line.record["from"] for line in log.follow()] == ["IMPL-001"]


def test_a_log_cleared_and_rewritten_by_team_msg_wakes(session, log, inotify):
    path = session / ".msg" / "messages.jsonl"
    log.append(message(1), sync=False)
    path.unlink()  # team_msg clear
    team_msg.log("S", sender="IMPL-001", type_="progress")
    assert wakes_until(inotify, "messages.jsonl")[-1].kind is WakeKind.LOG
    assert [line.record and line.record["from"] for line in log.follow()] == ["IMPL-001"]


def test_polling_sees_team_msg_lines_and_not_own_appends(session, log, polling):
    """No close events there: every change is an event, the own ones silenced."""
    for n in range(5):
        log.append(message(n), sync=False)
    sentinel(session / ".msg", "first")
    wakes_until(polling, "first")  # the appends were seen by the same or an earlier poll
    sentinel(session / ".msg", "second")
    assert wakes_until(polling, "second") == [Wake(WakeKind.LOG, "second")]
    team_msg.log("S", sender="IMPL-001", type_="progress")
    assert wakes_until(polling, "messages.jsonl")[-1] == Wake(WakeKind.LOG, "messages.jsonl")


def test_inbox_removals_and_reads_wake_nothing_and_a_rename_in_wakes(tmp_path):
    inbox, staging = tmp_path / "inbox", tmp_path / "tmp"
    inbox.mkdir()
    staging.mkdir()
    (inbox / "old.json").write_text("{}\n")
    monitor = Monitor(poll=False, probe=tmp_path)
    monitor.watch(inbox, WakeKind.INBOX)
    monitor.start()
    try:
        assert (inbox / "old.json").read_text() == "{}\n"  # the executor reads it
        (inbox / "old.json").unlink()  # and removes it once its effect is committed
        (staging / "new.json").write_text("{}\n")
        os.rename(staging / "new.json", inbox / "new.json")  # `teamexec msg`
        assert wakes_until(monitor, "new.json") == [Wake(WakeKind.INBOX, "new.json")]
    finally:
        monitor.stop()
