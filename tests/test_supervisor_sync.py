"""A start that carries the journal: fdatasynced before the spawn, acks carried along.

The executor writes a pass's claims to its journal and leaves the fdatasync
to the supervisor, which makes it before it starts the agent (issue 15).  A
descriptor that cannot be fdatasynced (a pipe) proves the order: the start
is refused and the agent never runs.
"""

from __future__ import annotations

import array
import json
import os
import socket
from typing import Any

import pytest

from test_supervisor_protocol import Link


@pytest.fixture
def supervisor(tmp_path):
    """Start supervisors; whatever a failing test leaves is killed and closed."""
    links: list[Link] = []

    def make() -> Link:
        links.append(Link(tmp_path))
        return links[-1]

    yield make
    for link in links:
        link.close()
        if link.proc.poll() is None:
            link.proc.kill()
        link.proc.wait(timeout=20)


def start(link: Link, wid: str, argv: list[str], extra: list[int], **keys: Any) -> dict[str, Any]:
    request = {
        "op": "start",
        "id": wid,
        "argv": argv,
        "env": {"PATH": os.environ["PATH"], "TEAMEXEC_WORKER_ID": wid},
        "cwd": str(link.logs.parent),
        "log": f"{wid}.log",
        "report": {
            "role": "a",
            "task_id": "A-001",
            "attempt": 1,
            "inbox": str(link.inbox),
            "tmp": str(link.tmp),
        },
        **keys,
    }
    stdin = os.memfd_create("prompt")
    try:
        link.sock.sendmsg(
            [json.dumps(request).encode()],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [stdin, *extra]))],
        )
    finally:
        os.close(stdin)
    return link.receive()


def test_the_journal_is_fdatasynced_before_the_spawn_or_nothing_starts(tmp_path, supervisor):
    link = supervisor()
    marker = tmp_path / "ran"
    read_end, write_end = os.pipe()
    try:
        refused = start(link, "w1", ["touch", str(marker)], [read_end], sync=1)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert refused["op"] == "refused" and "the journal (fdatasync)" in refused["error"]
    journal = os.open(tmp_path / "journal", os.O_RDWR | os.O_CREAT)
    try:
        os.write(journal, b'{"id":"A-001"}\n')
        started = start(link, "w2", ["touch", str(marker)], [journal], sync=1)
    finally:
        os.close(journal)
    assert started["op"] == "started"
    assert link.receive()["op"] == "exit"
    assert marker.exists()  # the second one ran; the refused one could not have made it
    link.close()
    assert link.gone() == 0


def test_a_start_carries_the_acks_of_earlier_exits(tmp_path, supervisor):
    link = supervisor()
    assert start(link, "w1", ["true"], [])["op"] == "started"
    ended = link.receive()
    assert (ended["op"], ended["id"], ended["code"]) == ("exit", "w1", 0)
    assert start(link, "w2", ["true"], [], ack=["w1"])["op"] == "started"
    assert link.receive()["id"] == "w2"
    link.send({"op": "ack", "ids": ["w2"]})
    link.close()  # orphaned: an unacked exit would be written to the inbox now
    assert link.gone() == 0
    assert list(link.inbox.iterdir()) == []  # w1 was acked by w2's start
