"""safeopen: no symlink followed, no FIFO opened, lines appended whole (attack items 1, 2, 4)."""

from __future__ import annotations

import errno
import json
import os

import pytest

from teamexec.core.model import Severity
from teamexec.storage import safeopen
from teamexec.storage.layout import layout_issues
from teamexec.storage.messages import MessageLog, read_item
from teamexec.storage.paths import SessionPaths
from teamexec.storage.sessionfiles import append_wisdom_issue


@pytest.fixture
def outside(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("secret\n")
    return target


@pytest.fixture
def root(tmp_path):
    session = tmp_path / "s"
    (session / ".msg" / "inbox").mkdir(parents=True)
    return session


def test_reads_and_appends_never_follow_a_symlink(root, outside):
    link = root / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(safeopen.UnsafeFile, match="symbolic link"):
        safeopen.read_bytes(link)
    with pytest.raises(safeopen.UnsafeFile, match="symbolic link"):
        safeopen.append(link, b"x\n")
    with pytest.raises(safeopen.UnsafeFile, match="symbolic link"):
        safeopen.open_append(link)
    assert outside.read_text() == "secret\n"


def test_a_symlinked_directory_between_root_and_file_is_refused(root, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "wisdom").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(safeopen.UnsafeFile, match="wisdom: is a symbolic link"):
        safeopen.append(root / "wisdom" / "issues.md", b"x\n", root=root)
    with pytest.raises(safeopen.UnsafeFile):
        append_wisdom_issue(SessionPaths(root), "MEDIUM consensus\ninjected line")
    assert list(elsewhere.iterdir()) == []


def test_fifo_directory_and_size_bound(root):
    fifo = root / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(safeopen.UnsafeFile, match="not a regular file"):
        safeopen.read_bytes(fifo)  # returns at once instead of blocking
    (root / "dir").mkdir()
    with pytest.raises(safeopen.UnsafeFile, match="directory"):
        safeopen.read_bytes(root / "dir")
    (root / "big").write_bytes(b"a" * 100)
    with pytest.raises(safeopen.UnsafeFile, match="too large"):
        safeopen.read_bytes(root / "big", limit=10)


def test_append_after_a_torn_tail_starts_a_new_line(root):
    log = root / "log.jsonl"
    log.write_bytes(b'{"id": "MSG-001"}\n{"id": "MSG-0')
    safeopen.append(log, b'{"id": "MSG-002"}\n')
    lines = log.read_bytes().split(b"\n")
    assert lines[2] == b'{"id": "MSG-002"}'


def test_a_short_write_is_undone_whole(root, monkeypatch):
    log = root / "log.jsonl"
    log.write_bytes(b'{"a": 1}\n')
    real_write = os.write
    calls = []

    def short_then_enospc(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_enospc)
    with pytest.raises(OSError, match="No space"):
        safeopen.append(log, b'{"b": 2}\n')
    monkeypatch.setattr(os, "write", real_write)
    assert log.read_bytes() == b'{"a": 1}\n'


def test_message_log_append_after_torn_tail_is_readable(root):
    path = root / ".msg" / "messages.jsonl"
    path.write_text('{"id": "MSG-001", "origin_id": "a"}\n{"id": "MSG-002", "ori')
    log = MessageLog(path, root=root)
    log.append({"id": "b", "type": "progress"})
    records = [json.loads(line) for line in path.read_text().splitlines()[2:]]
    assert records[0]["origin_id"] == "b"
    assert MessageLog(path, root=root).seen >= {"a", "b"}


def test_message_log_through_a_symlink_is_refused(root, outside):
    path = root / ".msg" / "messages.jsonl"
    path.symlink_to(outside)
    with pytest.raises(OSError):
        MessageLog(path, root=root).append({"id": "x"})
    assert outside.read_text() == "secret\n"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda p: os.mkfifo(p), "not a regular file", id="fifo"),
        pytest.param(lambda p: p.mkdir(), "directory", id="directory"),
        pytest.param(lambda p: p.symlink_to("/dev/zero"), "symbolic link", id="dev-zero"),
        pytest.param(lambda p: p.write_text('{"n": ' + "9" * 5000 + "}"), "not JSON", id="hugeint"),
        pytest.param(lambda p: p.write_text("[" * 50_000 + "]" * 50_000), "not JSON", id="deep"),
        pytest.param(lambda p: p.write_text('{"x": NaN}'), "not JSON", id="nan"),
        pytest.param(lambda p: p.write_text('{"x": -Infinity}'), "not JSON", id="infinity"),
    ],
)
def test_hostile_inbox_files_become_errors_not_hangs_or_tracebacks(root, make, reason):
    path = root / ".msg" / "inbox" / "x.json"
    make(path)
    item = read_item(path)
    assert item is not None and item.message is None
    assert reason in item.error


def test_an_inbox_symlink_to_an_outside_message_is_not_read(root, tmp_path):
    outside = tmp_path / "msg.json"
    outside.write_text(json.dumps({"id": "o", "type": "task_complete"}))
    (root / ".msg" / "inbox" / "o.json").symlink_to(outside)
    item = read_item(root / ".msg" / "inbox" / "o.json")
    assert item is not None and "symbolic link" in item.error


def test_layout_reports_links_out_and_replaced_directories(root, tmp_path, outside):
    (root / "tasks").symlink_to(tmp_path, target_is_directory=True)
    (root / "logs").write_text("not a dir")
    (root / ".msg" / "inbox" / "m.json").symlink_to(outside)
    (root / "artifacts").mkdir()
    (root / "artifacts" / "ref").symlink_to(outside)
    (root / "wisdom").mkdir()
    (root / "wisdom" / "inside").symlink_to(root / "logs")  # inside: fine
    issues = {os.path.relpath(i.path, root): i for i in layout_issues(SessionPaths(root))}
    assert "symbolic link" in issues["tasks"].message
    assert "not a directory" in issues["logs"].message
    assert issues[".msg/inbox/m.json"].severity is Severity.ERROR
    assert issues["artifacts/ref"].severity is Severity.WARNING
    assert "wisdom/inside" not in issues


def test_export_copies_an_artifact_symlink_as_a_link_never_its_target(tmp_path, outside):
    from teamexec.executor.end_action import export

    root = tmp_path / "s"
    (root / "artifacts").mkdir(parents=True)
    (root / "artifacts" / "report.md").write_text("# report\n")
    (root / "artifacts" / "stolen").symlink_to(outside)
    target = tmp_path / "export"
    export(SessionPaths(root), target, force=False)
    assert (target / "report.md").read_text() == "# report\n"
    assert (target / "stolen").is_symlink()  # the link, not the outside file's bytes
