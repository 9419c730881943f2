"""Reconciliation rules, one test each, then properties over generated sessions."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import make_session, make_task
from teamexec.core.events import EventKind
from teamexec.core.model import ExecutorConfig, TaskStatus, iso
from teamexec.core.reconcile import InboxItem, WorkerFact, World, reconcile

NOW = 1_800_000_000.0
GRAPH = {"RESEARCH-001": [], "DRAFT-001": ["RESEARCH-001"], "DRAFT-002": ["RESEARCH-001"]}


def world(tasks=(), *, data=None, workers=None, inbox=(), now=NOW, graph=GRAPH, **kw):
    session = make_session(graph, data=data, **kw)
    return World(
        session=session,
        tasks={t.id: t for t in tasks},
        workers=workers or {},
        now=now,
        inbox=tuple(inbox),
    )


def kinds(rec):
    return [e.kind for e in rec.events]


def test_missing_tasks_are_created_from_the_graph_with_descriptions():
    rec = reconcile(world())
    assert sorted(rec.tasks) == sorted(GRAPH)
    draft = rec.tasks["DRAFT-001"]
    assert draft.blocked_by == ("RESEARCH-001",)
    assert draft.owner == "draft"
    assert rec.tasks["RESEARCH-001"].data["blocks"] == ["DRAFT-001", "DRAFT-002"]
    for marker in ("PURPOSE:", "CONTEXT:", "InnerLoop: false", "RoleSpec:"):
        assert marker in draft.data["description"]
    assert kinds(rec).count(EventKind.TASK_CREATED) == 3


def test_completion_listed_in_session_is_applied_to_the_task_file():
    tasks = [make_task("RESEARCH-001", "pending")]
    rec = reconcile(world(tasks, data={"completed_tasks": ["RESEARCH-001"]}))
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.COMPLETED
    assert EventKind.COMPLETION_MERGED in kinds(rec)


def test_completion_in_task_file_is_added_to_completed_tasks():
    tasks = [make_task("RESEARCH-001", "completed")]
    rec = reconcile(world(tasks))
    assert rec.session_data["completed_tasks"] == ["RESEARCH-001"]
    assert rec.session_data["pipeline"]["tasks_completed"] == 1


def test_in_progress_with_dead_worker_is_interrupted():
    task = make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)
    data = {"active_workers": [{"worker_id": "w1", "task_id": "RESEARCH-001", "pid": 99}]}
    rec = reconcile(world([task], data=data, workers={"w1": WorkerFact(False, 99, 1.0)}))
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.PENDING
    assert rec.tasks["RESEARCH-001"].claimed_by is None
    assert rec.session_data["active_workers"] == []
    assert EventKind.TASK_INTERRUPTED in kinds(rec)


def test_in_progress_with_live_worker_is_adopted():
    task = make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)
    entry = {"worker_id": "w1", "task_id": "RESEARCH-001", "pid": 99, "pid_started_at": 5.0}
    rec = reconcile(
        world([task], data={"active_workers": [entry]}, workers={"w1": WorkerFact(True, 99, 5.0)})
    )
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.IN_PROGRESS
    assert rec.session_data["active_workers"] == [entry]
    assert EventKind.WORKER_ADOPTED in kinds(rec)


def test_reused_pid_is_not_adopted():
    """Liveness says 'dead' when the pid exists but its start time disagrees."""
    task = make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)
    entry = {"worker_id": "w1", "task_id": "RESEARCH-001", "pid": 1, "pid_started_at": 5.0}
    rec = reconcile(
        world([task], data={"active_workers": [entry]}, workers={"w1": WorkerFact(False, 1, 5.0)})
    )
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.PENDING


def test_orphan_is_reset_only_after_orphan_after_s():
    young = make_task("RESEARCH-001", "in_progress", updated_at=iso(NOW - 10))
    rec = reconcile(world([young], executor=ExecutorConfig(orphan_after_s=300)))
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.IN_PROGRESS
    assert rec.recheck_at == NOW - 10 + 300
    old = make_task("RESEARCH-001", "in_progress", updated_at=iso(NOW - 301))
    rec = reconcile(world([old], executor=ExecutorConfig(orphan_after_s=300)))
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.PENDING
    assert EventKind.TASK_ORPHANED in kinds(rec)


def test_orphan_age_falls_back_to_file_mtime():
    task = make_task("RESEARCH-001", "in_progress")
    w = world([task])
    w = World(
        session=w.session, tasks=w.tasks, workers={}, now=NOW, mtimes={"RESEARCH-001": NOW - 1000}
    )
    assert reconcile(w).tasks["RESEARCH-001"].status is TaskStatus.PENDING


def test_worker_killed_between_record_and_pid_is_found_by_worker_id():
    task = make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)
    entry = {"worker_id": "w1", "task_id": "RESEARCH-001"}
    rec = reconcile(
        world([task], data={"active_workers": [entry]}, workers={"w1": WorkerFact(True, 42, 7.0)})
    )
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.IN_PROGRESS
    assert rec.session_data["active_workers"][0]["pid"] == 42


def test_completion_waiting_in_inbox_beats_interrupted():
    """A worker that reported while the executor was dead must not run again."""
    task = make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)
    data = {"active_workers": [{"worker_id": "w1", "task_id": "RESEARCH-001", "pid": 9}]}
    msg = {
        "id": "m1",
        "ts": iso(NOW - 1),
        "from": "research",
        "to": "executor",
        "type": "task_complete",
        "summary": "done",
        "data": {"task_id": "RESEARCH-001", "attempt": 1},
    }
    rec = reconcile(
        world(
            [task], data=data, workers={"w1": WorkerFact(False)}, inbox=[InboxItem("m1.json", msg)]
        )
    )
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.COMPLETED
    assert EventKind.TASK_INTERRUPTED not in kinds(rec)
    assert rec.messages[0].log


def test_unknown_keys_are_preserved():
    task = make_task("RESEARCH-001", "in_progress", updated_at=iso(NOW - 1000))
    task = task.evolve(custom={"keep": True})
    rec = reconcile(world([task], data={"extra_key": [1, 2]}))
    assert rec.tasks["RESEARCH-001"].data["custom"] == {"keep": True}
    assert rec.session_data["extra_key"] == [1, 2]


# ------------------------------------------------------------------ properties
STATUSES = ["pending", "in_progress", "completed", "failed"]


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 8))
    ids = [f"T-{i:03d}" for i in range(n)]
    graph = {
        tid: draw(st.lists(st.sampled_from(ids[:i]), unique=True)) if i else []
        for i, tid in enumerate(ids)
    }
    tasks = []
    for tid in ids:
        if draw(st.booleans()):
            status = draw(st.sampled_from(STATUSES))
            meta = {"updated_at": iso(NOW - draw(st.integers(0, 600)))}
            if status == "in_progress" and draw(st.booleans()):
                meta["claimed_by"] = f"w-{tid}"
            tasks.append(make_task(tid, status, deps=graph[tid], attempts=1, **meta))
    completed = draw(st.lists(st.sampled_from(ids), unique=True))
    entries, facts = [], {}
    for tid in draw(st.lists(st.sampled_from(ids), unique=True)):
        entries.append({"worker_id": f"w-{tid}", "task_id": tid, "pid": 1000})
        facts[f"w-{tid}"] = WorkerFact(draw(st.booleans()), 1000, 1.0)
    session = make_session(graph, data={"completed_tasks": completed, "active_workers": entries})
    return World(session=session, tasks={t.id: t for t in tasks}, workers=facts, now=NOW)


def again(w, rec):
    session = make_session(
        {t: n.depends_on for t, n in w.session.graph.items()}, data=rec.session_data
    )
    return World(session=session, tasks=rec.tasks, workers=w.workers, now=w.now)


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(worlds())
def test_reconcile_is_idempotent(w):
    first = reconcile(w)
    second = reconcile(again(w, first))
    assert second.changed == ()
    assert not second.session_changed
    assert second.session_data == first.session_data


@PROPS
@given(worlds())
def test_completions_are_never_lost(w):
    rec = reconcile(w)
    before = {t.id for t in w.tasks.values() if t.status is TaskStatus.COMPLETED}
    before |= {t for t in w.session.completed_tasks if t in w.session.graph}
    for tid in before:
        assert rec.tasks[tid].status is TaskStatus.COMPLETED
        assert tid in rec.session_data["completed_tasks"]


@PROPS
@given(worlds())
def test_every_graph_node_has_a_task(w):
    rec = reconcile(w)
    assert set(w.session.graph) <= set(rec.tasks)


@PROPS
@given(worlds())
def test_no_task_is_both_running_and_pending(w):
    rec = reconcile(w)
    running = {e["task_id"] for e in rec.session_data["active_workers"]}
    for tid in running:
        assert rec.tasks[tid].status is not TaskStatus.PENDING
    for task in rec.tasks.values():
        if task.status is TaskStatus.PENDING:
            assert task.claimed_by is None or task.claimed_by not in {
                e["worker_id"] for e in rec.session_data["active_workers"]
            }


def _own_world(task, *, host="h1", claimer_alive=False, worker_alive=False):
    base = world([task], executor=ExecutorConfig(orphan_after_s=300))
    return World(
        session=base.session,
        tasks=base.tasks,
        workers={"w1": WorkerFact(worker_alive)},
        now=NOW,
        host=host,
        claimers_alive={task.id: claimer_alive},
    )


def _claimed(claimer_host="h1", claimer_wid="w1"):
    claimer = {"worker_id": claimer_wid, "host": claimer_host, "pid": 4242, "pid_started_at": 1.0}
    return make_task(
        "RESEARCH-001",
        "in_progress",
        claimed_by="w1",
        attempts=1,
        updated_at=iso(NOW - 1),
        claimer=claimer,
    )


def test_own_claim_of_a_dead_executor_whose_worker_never_ran_is_reset_at_once():
    rec = reconcile(_own_world(_claimed()))
    task = rec.tasks["RESEARCH-001"]
    assert task.status is TaskStatus.PENDING
    assert "claimer" not in task.metadata and "claimed_by" not in task.metadata
    assert rec.recheck_at is None


def test_claims_not_provably_dead_keep_the_orphan_timer():
    cases = {
        "another host": _own_world(_claimed(claimer_host="h2")),
        "claimer still runs": _own_world(_claimed(), claimer_alive=True),
        "worker id carried by a process": _own_world(_claimed(), worker_alive=True),
        "stale record of an older claim": _own_world(_claimed(claimer_wid="w0")),
        "no host known": _own_world(_claimed(), host=None),
    }
    for why, w in cases.items():
        rec = reconcile(w)
        assert rec.tasks["RESEARCH-001"].status is TaskStatus.IN_PROGRESS, why
    # the live worker is adopted through unrecorded_workers, not timed
    assert reconcile(cases["another host"]).recheck_at == NOW - 1 + 300


def test_completions_recorded_elsewhere_join_the_union():
    # §8: a Claude task list or messages.jsonl said so; the task files did not
    tasks = [make_task("RESEARCH-001", "in_progress", claimed_by="w1", attempts=1)]
    base = world(tasks)
    found = {
        "RESEARCH-001": "reported complete in messages.jsonl (MSG-004)",
        "DRAFT-001": "completed in the Claude task list TC-x",
    }
    rec = reconcile(
        World(
            session=base.session, tasks=base.tasks, workers={}, now=NOW, completed_elsewhere=found
        )
    )
    assert rec.tasks["RESEARCH-001"].status is TaskStatus.COMPLETED  # not interrupted
    assert rec.tasks["DRAFT-001"].status is TaskStatus.COMPLETED  # created, then merged
    assert rec.tasks["DRAFT-002"].status is TaskStatus.PENDING
    assert rec.session_data["completed_tasks"] == ["DRAFT-001", "RESEARCH-001"]
    texts = [e.text for e in rec.events if e.kind is EventKind.COMPLETION_MERGED]
    assert "RESEARCH-001 marked completed: reported complete in messages.jsonl (MSG-004)" in texts
    again = reconcile(
        World(session=base.session, tasks=rec.tasks, workers={}, now=NOW, completed_elsewhere=found)
    )
    assert again.changed == ()
