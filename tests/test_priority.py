"""The critical-path order: remaining paths, expected durations, and what they may not change."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_spec, make_task
from teamexec.core.model import TaskStatus, iso, task_sort_key
from teamexec.core.priority import (
    CriticalPath,
    expected_durations,
    moved_apart,
    remaining_paths,
    report_role_means,
    role_means,
)
from teamexec.core.readiness import is_ready
from teamexec.core.schedule import Running, plan_spawns, role_limit
from teamexec.core.tasktable import TaskTable

NOW = 1_800_000_000.0
ROLES = ("a", "b", "c")


def done(task_id, seconds, **kw):
    """A completed task whose attempt took ``seconds``."""
    return make_task(
        task_id, "completed", started_at=iso(NOW - 100), completed_at=iso(NOW - 100 + seconds), **kw
    )


def table(*tasks):
    return {t.id: t for t in tasks}


# --------------------------------------------------------------- remaining paths


def test_remaining_path_is_own_weight_plus_the_longest_tail():
    tasks = table(
        make_task("A-1"),
        make_task("B-1", deps=["A-1"]),
        make_task("C-1", deps=["A-1"]),
        make_task("C-2", deps=["B-1", "C-1"]),
    )
    ranks = remaining_paths(tasks, {"a": 1.0, "b": 3.0, "c": 9.0})
    assert ranks == {"C-2": 9.0, "B-1": 12.0, "C-1": 18.0, "A-1": 19.0}


def test_unknown_roles_weigh_one_and_deleted_or_missing_tasks_are_ignored():
    tasks = table(
        make_task("A-1", deps=["GONE-1"]),
        make_task("A-2", deps=["A-1"]),
        make_task("A-3", "deleted", deps=["A-2"]),
    )
    assert remaining_paths(tasks, {}) == {"A-1": 2.0, "A-2": 1.0}


def test_a_cycle_in_hand_edited_task_files_does_not_raise():
    tasks = table(make_task("A-1", deps=["A-2"]), make_task("A-2", deps=["A-1"]), make_task("A-3"))
    assert remaining_paths(tasks, {"a": 2.0}) == {"A-1": 2.0, "A-2": 2.0, "A-3": 2.0}


@st.composite
def dags(draw, max_tasks=9):
    """Random DAGs: task i may depend on any earlier task; roles and statuses vary."""
    n = draw(st.integers(1, max_tasks))
    tasks = {}
    for i in range(n):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        role = draw(st.sampled_from(ROLES))
        status = draw(st.sampled_from(["pending", "pending", "completed", "in_progress"]))
        tid = f"{role.upper()}-{i}"
        tasks[tid] = (role, status, sorted(deps))
    ids = list(tasks)
    return {
        tid: make_task(tid, status, deps=[ids[d] for d in deps], owner=role)
        for tid, (role, status, deps) in tasks.items()
    }


weights_st = st.dictionaries(
    st.sampled_from(ROLES), st.floats(0.01, 100, allow_nan=False), max_size=3
)


@settings(max_examples=200, deadline=None)
@given(tasks=dags(), weights=weights_st)
def test_remaining_paths_match_a_brute_force_longest_path(tasks, weights):
    children = {tid: [c for c, t in tasks.items() if tid in t.blocked_by] for tid in tasks}

    @functools.cache
    def longest(tid):
        own = weights.get(tasks[tid].owner, 1.0)
        return own + max((longest(c) for c in children[tid]), default=0.0)

    ranks = remaining_paths(tasks, weights)
    assert ranks.keys() == tasks.keys()
    for tid in tasks:
        assert ranks[tid] == pytest.approx(longest(tid), abs=1e-5)


# ------------------------------------------------------------ expected durations


def test_expected_duration_prefers_this_session_then_history_then_one():
    tasks = table(done("A-1", 2.0), done("A-2", 4.0), make_task("B-1"), make_task("C-1"))
    means = role_means(tasks)
    assert means == {"a": 3.0}
    expected = expected_durations(means, {"a": 50.0, "b": 7.0})
    assert expected == {"a": 3.0, "b": 7.0}
    assert remaining_paths(tasks, expected)["C-1"] == 1.0


def test_report_role_means_take_completed_rows_and_skip_junk():
    report = {
        "tasks": [
            {"id": "A-1", "role": "a", "status": "completed", "duration_s": 2.0},
            {"id": "A-2", "role": "a", "status": "completed", "duration_s": 4},
            {"id": "A-3", "role": "a", "status": "failed", "duration_s": 100.0},
            {"id": "B-1", "role": "b", "status": "completed", "duration_s": None},
            {"id": "B-2", "role": "b", "status": "completed", "duration_s": True},
            {"id": "C-1", "role": None, "status": "completed", "duration_s": 1.0},
            "not a row",
        ]
    }
    assert report_role_means(report) == {"a": 3.0}
    for junk in (None, [], "x", {"tasks": "x"}, {"tasks": [{"status": "completed"}]}):
        assert report_role_means(junk) == {}


histories = st.lists(
    st.tuples(
        st.sampled_from(["A-1", "A-2", "B-1", "B-2", "C-1"]),
        st.sampled_from(["pending", "in_progress", "completed", "deleted"]),
        st.floats(0, 50, allow_nan=False),
        st.booleans(),  # delete the entry instead
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(history=histories)
def test_the_task_tables_role_means_match_a_scan(history):
    tasks = TaskTable()
    for tid, status, seconds, delete in history:
        if delete:
            tasks.pop(tid, None)
        elif status == "completed":
            tasks[tid] = done(tid, seconds)
        else:
            tasks[tid] = make_task(tid, status)
    live = [t.owner or "" for t in tasks.values() if t.status is not TaskStatus.DELETED]
    assert dict(tasks.live_owners()) == {o: live.count(o) for o in set(live)}
    scanned = role_means(dict(tasks))
    kept = tasks.role_means()
    assert kept.keys() == scanned.keys()
    for role, mean in scanned.items():
        assert kept[role] == pytest.approx(mean, abs=1e-6)


# --------------------------------------------------------------- the memo


def test_ranks_are_recomputed_only_when_the_graph_or_a_mean_moves():
    tasks = TaskTable(table(done("A-1", 10.0), make_task("A-2"), make_task("B-1", deps=["A-2"])))
    memo = CriticalPath()
    assert memo.ranks(tasks) == {"A-1": 10.0, "A-2": 11.0, "B-1": 1.0}
    memo.ranks(tasks)
    tasks["B-1"] = tasks["B-1"].evolve(metadata={"progress_pct": 50})  # no change to the graph
    memo.ranks(tasks)
    assert memo.computed == 1
    tasks["A-3"] = done("A-3", 10.5)  # a new task: the graph changed
    memo.ranks(tasks)
    assert memo.computed == 2
    tasks["A-3"] = tasks["A-3"].evolve(metadata={"note": "x"})  # mean 10.25: within 10 %
    memo.ranks(tasks)
    assert memo.computed == 2
    tasks["A-2"] = done("A-2", 40.0)  # mean 20.17: moved (A-2 is still followed by B-1)
    assert memo.ranks(tasks)["A-2"] == pytest.approx(21.167, abs=1e-3)
    assert memo.computed == 3


def test_one_role_whose_mean_settles_is_ranked_once_its_mean_is_known():
    tasks = TaskTable(table(make_task("A-1"), make_task("A-2", deps=["A-1"]), make_task("A-3")))
    memo = CriticalPath()
    assert memo.ranks(tasks) == {"A-1": 2.0, "A-2": 1.0, "A-3": 1.0}
    tasks["A-3"] = done("A-3", 0.004)  # the role's first mean: a role appeared
    assert memo.ranks(tasks)["A-1"] == pytest.approx(0.008)
    assert memo.computed == 2
    tasks["A-3"] = done("A-3", 0.5)  # only the mean moves (125x): the order cannot change
    memo.ranks(tasks)
    assert memo.computed == 2
    tasks["A-4"] = done("A-4", 0.01)  # a new task: the graph changed
    memo.ranks(tasks)
    assert memo.computed == 3
    tasks["A-4"] = done("A-4", 3.0)
    memo.ranks(tasks)
    assert memo.computed == 3


def test_two_roles_moving_apart_are_ranked_again():
    assert not moved_apart({"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 6.0}, ["a", "b"])
    assert moved_apart({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 4.0}, ["a", "b"])
    assert moved_apart({"a": 1.0}, {"a": 1.0, "b": 4.0}, ["a"])  # a role appeared
    assert moved_apart({"a": 1.0}, {"a": 1.0}, ["a", "b"])  # a live owner has no mean
    assert not moved_apart({"a": 1.0, "b": 9.0}, {"a": 5.0, "b": 1.0}, [])  # nothing live


def test_a_live_role_without_a_mean_keeps_the_absolute_drift():
    tasks = TaskTable(table(done("A-1", 1.0), make_task("B-1")))
    memo = CriticalPath()
    memo.ranks(tasks)
    tasks["A-2"] = done("A-2", 3.0)
    memo.ranks(tasks)
    computed = memo.computed
    tasks["A-2"] = done("A-2", 5.0)  # a's mean 1 -> 3 against b's fixed 1 s: reordered
    assert memo.ranks(tasks)["A-1"] == 3.0
    assert memo.computed == computed + 1


def test_the_memo_uses_history_until_the_session_knows_better():
    tasks = TaskTable(table(make_task("A-1"), make_task("B-1")))
    memo = CriticalPath({"a": 2.0, "b": 5.0})
    assert memo.ranks(tasks) == {"A-1": 2.0, "B-1": 5.0}
    tasks["A-1"] = done("A-1", 8.0)
    assert memo.ranks(tasks)["A-1"] == 8.0


# ------------------------------------------------------- plan_spawns with ranks


def test_critical_path_starts_the_long_chain_before_short_tasks_with_lower_ids():
    specs = {r: make_spec(r, r.upper()) for r in ROLES}
    tasks = table(
        *(make_task(f"A-{i}") for i in range(1, 6)),
        make_task("C-1"),
        make_task("C-2", deps=["C-1"]),
        make_task("C-3", deps=["C-2"]),
    )
    common = {"specs": specs, "running": [], "now": NOW, "runnable_roles": set(ROLES)}
    ranks = remaining_paths(tasks, {"a": 1.0, "c": 9.0})
    fifo = plan_spawns(tasks=tasks, max_workers=2, **common)
    crit = plan_spawns(tasks=tasks, max_workers=2, ranks=ranks, **common)
    assert [s.task_id for s in fifo] == ["A-1", "A-2"]
    assert [s.task_id for s in crit] == ["C-1", "A-1"]


@st.composite
def worlds(draw):
    tasks = draw(dags(max_tasks=10))
    for tid in list(tasks):  # some pending tasks wait out a back-off
        if tasks[tid].status is TaskStatus.PENDING and draw(st.booleans()) and draw(st.booleans()):
            tasks[tid] = tasks[tid].evolve(metadata={"retry_at": iso(NOW + 5)})
    specs = {
        r: make_spec(
            r,
            r.upper(),
            inner_loop=draw(st.booleans()) and draw(st.booleans()),
            max_concurrent=draw(st.one_of(st.none(), st.integers(1, 3))),
        )
        for r in ROLES
    }
    running_ids = [t.id for t in tasks.values() if t.status is TaskStatus.IN_PROGRESS]
    running = [Running(f"w{i}", tasks[t].owner, t) for i, t in enumerate(running_ids)]
    ranks = draw(
        st.dictionaries(st.sampled_from(sorted(tasks)), st.floats(0, 100, allow_nan=False))
    )
    return {
        "tasks": TaskTable(tasks) if draw(st.booleans()) else tasks,
        "specs": specs,
        "running": running,
        "max_workers": draw(st.integers(1, 6)),
        "runnable_roles": set(draw(st.sets(st.sampled_from(ROLES), min_size=1))),
        "ranks": ranks,
    }


@settings(max_examples=400, deadline=None)
@given(world=worlds())
def test_ranks_only_reorder_never_start_early_or_beyond_a_cap(world):
    ranks = world.pop("ranks")
    common = {**world, "now": NOW}
    plan = plan_spawns(ranks=ranks, **common)
    fifo = plan_spawns(**common)
    tasks, specs, running = world["tasks"], world["specs"], world["running"]
    busy = {r.task_id for r in running}
    # never early: each spawn is ready (pending, dependencies completed, back-off over)
    for spawn in plan:
        task = tasks[spawn.task_id]
        assert is_ready(task, tasks, specs.keys(), NOW), spawn
        assert spawn.role == task.owner in world["runnable_roles"]
        assert spawn.task_id not in busy
    assert len({s.task_id for s in plan}) == len(plan)
    # never beyond a cap: max_workers, max_concurrent, an inner loop's one worker
    assert len(running) + len(plan) <= max(world["max_workers"], len(running))
    for role, spec in specs.items():
        limit = role_limit(spec)
        if limit is not None:
            started = sum(1 for s in plan if s.role == role)
            if started:
                assert sum(1 for r in running if r.role == role) + started <= limit
    # only reorders: as many starts as id order, and in (rank desc, id) order
    assert len(plan) == len(fifo)

    def key(task_id):
        return (-ranks.get(task_id, 0.0), task_sort_key(task_id), task_id)

    assert [s.task_id for s in plan] == sorted((s.task_id for s in plan), key=key)
    # greedy: a ready task left out had no room in its role, or ranks below every start
    chosen = {s.task_id for s in plan}
    per_role = {r: sum(1 for w in running if w.role == r) for r in ROLES}
    for spawn in plan:
        per_role[spawn.role] += 1
    for task in tasks.values():
        if task.id in chosen or task.id in busy or task.owner not in world["runnable_roles"]:
            continue
        if not is_ready(task, tasks, specs.keys(), NOW):
            continue
        limit = role_limit(specs[task.owner])
        if limit is None or per_role[task.owner] < limit:
            assert all(key(task.id) > key(s.task_id) for s in plan)


@settings(max_examples=100, deadline=None)
@given(world=worlds())
def test_equal_ranks_are_id_order(world):
    world.pop("ranks")
    common = {**world, "now": NOW}
    flat = dict.fromkeys(world["tasks"], 5.0)
    assert plan_spawns(ranks=flat, **common) == plan_spawns(**common)
