"""Messages written into the inbox: whole or not at all, never overwritten."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import time

import pytest

from teamexec.core.model import iso
from teamexec.worker import outbox as mailbox
from teamexec.worker.outbox import MailboxError, make_message, post, post_from_env

ENV = {
    "TEAMEXEC_INBOX": "",
    "TEAMEXEC_ROLE": "writer",
    "TEAMEXEC_TASK_ID": "DRAFT-001",
    "TEAMEXEC_ATTEMPT": "2",
    "TEAMEXEC_WORKER_ID": "w1",
}


@pytest.fixture
def inbox(tmp_path):
    path = tmp_path / ".msg" / "inbox"
    path.mkdir(parents=True)
    return path


def test_make_message_has_the_protocol_shape():
    msg = make_message(
        type="progress", sender="writer", summary="s", data={"task_id": "T-1"}, now=0.25
    )
    assert msg == {
        "id": msg["id"],
        "ts": "1970-01-01T00:00:00.250Z",
        "from": "writer",
        "to": "executor",
        "type": "progress",
        "summary": "s",
        "data": {"task_id": "T-1"},
    }
    assert re.fullmatch(rf"writer\.T-1\.\d+\.{os.getpid()}", msg["id"])


@pytest.mark.parametrize("ts", [0.0, 0.0005, 1.9999996, 1.9994999, 1_700_000_000.123456])
def test_timestamps_read_like_model_iso(ts):
    assert mailbox.iso(ts) == iso(ts)


def test_post_renames_a_complete_file_into_the_inbox(inbox):
    msg = make_message(type="progress", sender="writer", summary="s", data={"task_id": "T-1"})
    path = post(inbox, msg)
    assert path == inbox / f"{msg['id']}.json"
    assert json.loads(path.read_text()) == msg
    assert list((inbox.parent / "tmp").iterdir()) == []


WRITER = """
import sys
from pathlib import Path
from teamexec.worker.outbox import make_message, post
inbox, count = Path(sys.argv[1]), int(sys.argv[2])
for n in range(count):
    data = {"task_id": f"T-{n}", "blob": "x" * 300_000}
    post(inbox, make_message(type="progress", sender="w", summary="", data=data))
"""


def test_a_concurrent_reader_only_ever_sees_whole_messages(inbox):
    count = 40
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(inbox), str(count)])
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    try:
        while len(seen) < count:
            assert time.monotonic() < deadline, f"saw {len(seen)} of {count} messages"
            for path in inbox.iterdir():
                if path.name not in seen:
                    # a partial file would fail to parse or have a short blob
                    assert len(json.loads(path.read_bytes())["data"]["blob"]) == 300_000
                    seen.add(path.name)
    finally:
        assert writer.wait(timeout=60) == 0
    assert list((inbox.parent / "tmp").iterdir()) == []


def test_post_refuses_a_duplicate_id_and_keeps_the_first(inbox):
    first = make_message(type="progress", sender="w", summary="1", data={}, msg_id="x")
    post(inbox, first)
    with pytest.raises(MailboxError, match="already in the inbox"):
        post(inbox, {**first, "summary": "2"})
    assert json.loads((inbox / "x.json").read_text())["summary"] == "1"
    assert list((inbox.parent / "tmp").iterdir()) == []


def test_without_hard_links_post_renames_and_still_refuses_duplicates(inbox, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(mailbox.os, "link", no_links)
    msg = make_message(type="progress", sender="w", summary="1", data={}, msg_id="x")
    assert json.loads(post(inbox, msg).read_text()) == msg
    with pytest.raises(MailboxError, match="already in the inbox"):
        post(inbox, {**msg, "summary": "2"})
    assert json.loads((inbox / "x.json").read_text())["summary"] == "1"
    assert list((inbox.parent / "tmp").iterdir()) == []


@pytest.mark.parametrize("msg_id", ["../escape", ".hidden", "a/b", "", "x" * 231])
def test_post_refuses_an_id_that_is_not_a_plain_file_name(inbox, msg_id):
    msg = make_message(type="progress", sender="w", summary="", data={}, msg_id=msg_id)
    with pytest.raises(MailboxError, match="message id"):
        post(inbox, msg)
    assert list(inbox.parent.rglob("*.json")) == []


def test_post_from_env_fills_task_attempt_and_worker(inbox):
    env = {**ENV, "TEAMEXEC_INBOX": str(inbox)}
    path = post_from_env(
        "progress", summary="half", data={"progress_pct": 50}, task_id=None, env=env
    )
    msg = json.loads(path.read_text())
    assert (msg["from"], msg["type"], msg["summary"]) == ("writer", "progress", "half")
    assert msg["data"] == {
        "progress_pct": 50,
        "task_id": "DRAFT-001",
        "worker_id": "w1",
        "attempt": 2,
    }


def test_post_from_env_keeps_what_data_gives_and_no_attempt_for_another_task(inbox):
    env = {**ENV, "TEAMEXEC_INBOX": str(inbox)}
    own = post_from_env(
        "blocker", summary="", data={"worker_id": "mine", "attempt": 7}, task_id=None, env=env
    )
    assert json.loads(own.read_text())["data"] == {
        "task_id": "DRAFT-001",
        "worker_id": "mine",
        "attempt": 7,
    }
    other = post_from_env("progress", summary="", data=None, task_id="DRAFT-002", env=env)
    assert json.loads(other.read_text())["data"] == {"task_id": "DRAFT-002", "worker_id": "w1"}


@pytest.mark.parametrize(
    ("kind", "kwargs", "env", "error"),
    [
        pytest.param("Bad Type", {}, ENV, "must match", id="type"),
        pytest.param("progress", {"summary": "x" * 4097}, ENV, "at most 4096", id="summary"),
        pytest.param("progress", {"data": [1]}, ENV, "not an array", id="data-array"),
        pytest.param("progress", {"data": "x"}, ENV, "not a string", id="data-string"),
        pytest.param("progress", {}, {}, "TEAMEXEC_INBOX, TEAMEXEC_ROLE not set", id="env"),
        pytest.param("progress", {}, {**ENV, "TEAMEXEC_TASK_ID": ""}, "no task", id="task"),
        pytest.param("progress", {"data": {"task_id": 5}}, ENV, "must be a string", id="task-int"),
    ],
)
def test_post_from_env_refuses_bad_input(inbox, kind, kwargs, env, error):
    env = {**env, "TEAMEXEC_INBOX": str(inbox)} if env else env
    args = {"summary": "", "data": None, "task_id": None, **kwargs}
    with pytest.raises(MailboxError, match=error) as caught:
        post_from_env(kind, env=env, **args)
    assert "\n" not in str(caught.value)
    assert list(inbox.iterdir()) == []
