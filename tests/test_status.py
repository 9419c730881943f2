"""The status view `check` prints: workers the session file does not list yet."""

from __future__ import annotations

from factories import make_session, make_task
from teamexec.core.model import TaskStatus, iso
from teamexec.core.reconcile import WorkerFact
from teamexec.core.status import build_status

NOW = 1_800_000_000.0
GRAPH = {"RESEARCH-001": [], "DRAFT-001": ["RESEARCH-001"]}


def claimed(task_id: str, wid: str):
    return make_task(task_id, status=TaskStatus.IN_PROGRESS.value).evolve(
        metadata={"claimed_by": wid, "started_at": iso(NOW - 3), "attempts": 1}
    )


def view(tasks, workers, data=None):
    return build_status(
        make_session(GRAPH, data=data),
        {t.id: t for t in tasks},
        workers=workers,
        runnable_roles={"research", "draft"},
        now=NOW,
        locked_by=None,
    )


def test_a_live_claim_not_yet_in_active_workers_is_shown():
    # the executor writes active_workers up to a second after a spawn: check is exact anyway
    out = view([claimed("RESEARCH-001", "w1")], {"w1": WorkerFact(True, 42, NOW - 3)})
    assert out["active_workers"] == [
        {
            "worker_id": "w1",
            "role": "research",
            "task_id": "RESEARCH-001",
            "pid": 42,
            "alive": True,
            "elapsed_s": 3.0,
        }
    ]


def test_a_dead_unlisted_claim_is_not_a_worker_and_a_listed_one_is_not_doubled():
    dead = view([claimed("RESEARCH-001", "w1")], {"w1": WorkerFact(False, None, None)})
    assert dead["active_workers"] == []
    entry = {"worker_id": "w1", "role": "research", "task_id": "RESEARCH-001", "pid": 42}
    out = view(
        [claimed("RESEARCH-001", "w1")],
        {"w1": WorkerFact(True, 42, NOW - 3)},
        data={"active_workers": [entry]},
    )
    assert [w["worker_id"] for w in out["active_workers"]] == ["w1"]
