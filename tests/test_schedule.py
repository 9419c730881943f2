"""Spawn decisions and pipeline end states."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_spec, make_task
from teamexec.core.model import iso, task_sort_key
from teamexec.core.readiness import is_ready, iter_ready, ready_tasks
from teamexec.core.schedule import PipelineState, Running, pipeline_state, plan_spawns

NOW = 1_800_000_000.0
SPECS = {"a": make_spec("a", "A"), "b": make_spec("b", "B")}


def tasks_of(*tasks):
    return {t.id: t for t in tasks}


def spawn_ids(tasks, running=(), max_workers=4, specs=SPECS, runnable=("a", "b")):
    plan = plan_spawns(
        tasks=tasks,
        specs=specs,
        running=list(running),
        max_workers=max_workers,
        now=NOW,
        runnable_roles=set(runnable),
    )
    return [s.task_id for s in plan]


def test_ready_tasks_start_in_numeric_id_order_within_max_workers():
    tasks = tasks_of(*(make_task(f"A-{i}") for i in (10, 2, 1, 3)))
    assert spawn_ids(tasks, max_workers=3) == ["A-1", "A-2", "A-3"]


def test_running_workers_take_slots():
    tasks = tasks_of(make_task("A-1"), make_task("A-2"))
    assert spawn_ids(tasks, running=[Running("w", "b", "B-1")], max_workers=2) == ["A-1"]


def test_blocked_tasks_wait_for_completed_dependencies():
    tasks = tasks_of(make_task("A-1", "in_progress"), make_task("A-2", deps=["A-1"]))
    assert spawn_ids(tasks) == []


def test_inner_loop_role_gets_one_worker():
    specs = {"a": make_spec("a", "A", inner_loop=True)}
    tasks = tasks_of(make_task("A-1"), make_task("A-2"))
    assert spawn_ids(tasks, specs=specs) == ["A-1"]
    assert spawn_ids(tasks, specs=specs, running=[Running("w", "a", "A-0")]) == []


def test_max_concurrent_limits_a_role():
    specs = {"a": make_spec("a", "A", max_concurrent=2)}
    tasks = tasks_of(*(make_task(f"A-{i}") for i in range(5)))
    assert spawn_ids(tasks, specs=specs) == ["A-0", "A-1"]


def test_backoff_delays_a_retry():
    tasks = tasks_of(make_task("A-1", retry_at=iso(NOW + 5)))
    assert spawn_ids(tasks) == []
    state, _ = pipeline_state(tasks, roles={"a"}, running=[], now=NOW, runnable_roles={"a"})
    assert state is PipelineState.RUNNING


def test_role_without_agent_is_not_spawned():
    assert spawn_ids(tasks_of(make_task("A-1")), runnable=("b",)) == []


def test_complete_failed_and_stalled_states_say_why():
    done = tasks_of(make_task("A-1", "completed"))
    assert pipeline_state(done, roles={"a"}, running=[], now=NOW, runnable_roles={"a"})[0] is (
        PipelineState.COMPLETE
    )
    failed = tasks_of(make_task("A-1", "failed", attempts=3), make_task("A-2", deps=["A-1"]))
    state, stuck = pipeline_state(failed, roles={"a"}, running=[], now=NOW, runnable_roles={"a"})
    assert state is PipelineState.FAILED
    assert [s.task_id for s in stuck] == ["A-1", "A-2"]
    assert "blocked by failed task A-1" in stuck[1].reason
    stalled = tasks_of(make_task("A-1", deps=["GONE-1"]))
    state, stuck = pipeline_state(stalled, roles={"a"}, running=[], now=NOW, runnable_roles={"a"})
    assert state is PipelineState.STALLED
    assert "does not exist" in stuck[0].reason


statuses = st.sampled_from(["pending", "in_progress", "completed", "failed"])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from("AB"), st.integers(1, 30), statuses, st.lists(st.integers(1, 30))
        ),
        max_size=40,
    )
)
def test_ready_order_is_a_sorted_full_scan(rows):
    tasks = {}
    for prefix, number, status, deps in rows:
        task_id = f"{prefix}-{number:03d}"
        tasks[task_id] = make_task(task_id, status, deps=[f"A-{d:03d}" for d in deps])
    by_scan = sorted(
        (t for t in tasks.values() if is_ready(t, tasks, SPECS.keys(), NOW)),
        key=lambda t: task_sort_key(t.id),
    )
    assert list(iter_ready(tasks, SPECS.keys(), NOW)) == by_scan
    assert ready_tasks(tasks, SPECS.keys(), NOW, owner="a") == [
        t for t in by_scan if t.owner == "a"
    ]
