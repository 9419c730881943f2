"""Messages written into the inbox: whole or not at all, never overwritten."""

from __future__ import annotations

import json

import pytest

from teamexec.mailbox import MailboxError, make_message, post, post_from_env

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


def test_post_renames_a_complete_file_into_the_inbox(inbox):
    msg = make_message(type="progress", sender="writer", summary="s", data={"task_id": "T-1"})
    path = post(inbox, msg)
    assert json.loads(path.read_text()) == msg
    assert path.parent == inbox
    assert list((inbox.parent / "tmp").iterdir()) == []


def test_post_refuses_a_duplicate_id(inbox):
    msg = make_message(type="progress", sender="w", summary="", data={"task_id": "T-1"}, msg_id="x")
    post(inbox, msg)
    with pytest.raises(MailboxError, match="already in the inbox"):
        post(inbox, msg)


def test_post_from_env_fills_task_attempt_and_worker(inbox):
    env = {**ENV, "TEAMEXEC_INBOX": str(inbox)}
    path = post_from_env(
        "progress", summary="half", data={"progress_pct": 50}, task_id=None, env=env
    )
    msg = json.loads(path.read_text())
    assert msg["from"] == "writer"
    assert msg["data"] == {
        "progress_pct": 50,
        "task_id": "DRAFT-001",
        "worker_id": "w1",
        "attempt": 2,
    }


@pytest.mark.parametrize(
    ("kind", "kwargs", "env", "error"),
    [
        pytest.param("Bad Type", {}, ENV, "must match", id="type"),
        pytest.param("progress", {"summary": "x" * 5000}, ENV, "at most", id="summary"),
        pytest.param("progress", {"data": [1]}, ENV, "JSON object", id="data"),
        pytest.param("progress", {}, {}, "not set", id="env"),
        pytest.param("progress", {}, {**ENV, "TEAMEXEC_TASK_ID": ""}, "no task", id="task"),
    ],
)
def test_post_from_env_refuses_bad_input(inbox, kind, kwargs, env, error):
    env = {**env, "TEAMEXEC_INBOX": str(inbox)} if env else env
    args = {"summary": "", "data": None, "task_id": None, **kwargs}
    with pytest.raises(MailboxError, match=error):
        post_from_env(kind, env=env, **args)
