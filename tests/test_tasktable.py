"""The task table's readiness index agrees with a full scan after any history of writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_task
from teamexec.core.model import TaskStatus, iso
from teamexec.core.readiness import ready_tasks
from teamexec.core.schedule import next_retry
from teamexec.core.tasktable import TaskTable

NOW = 1_800_000_000.0
IDS = [f"T-{i:03d}" for i in range(8)]
ROLES = {"t"}

writes = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from([s.value for s in TaskStatus]),
    st.lists(st.sampled_from(IDS), max_size=3, unique=True),
    st.sampled_from([None, NOW - 5, NOW + 5]),
)
deletes = st.tuples(st.just("delete"), st.sampled_from(IDS))
history = st.lists(st.one_of(writes, deletes), max_size=40)


def expected_candidates(tasks):
    return {
        t.id
        for t in tasks.values()
        if t.status is TaskStatus.PENDING
        and all(d in tasks and tasks[d].status is TaskStatus.COMPLETED for d in t.blocked_by)
    }


@settings(max_examples=300, deadline=None)
@given(steps=history)
def test_candidates_match_a_full_scan_after_any_history(steps):
    table, plain = TaskTable(), {}
    for step in steps:
        if step[0] == "delete":
            table.pop(step[1], None)
            plain.pop(step[1], None)
        else:
            task_id, status, deps, retry = step
            meta = {"retry_at": iso(retry)} if retry is not None else {}
            task = make_task(task_id, status, deps=deps, owner="t", **meta)
            table[task_id] = task
            plain[task_id] = task
        assert table.candidates() == expected_candidates(plain)
    assert dict(table) == plain
    assert ready_tasks(table, ROLES, NOW) == ready_tasks(plain, ROLES, NOW)


def test_a_dependency_created_later_releases_its_dependents():
    table = TaskTable({"B-001": make_task("B-001", deps=["A-001"])})
    assert table.candidates() == set()
    table["A-001"] = make_task("A-001", "completed")
    assert table.candidates() == {"B-001"}
    del table["A-001"]
    assert table.candidates() == set()


def test_reset_of_a_completed_dependency_withdraws_its_dependents():
    table = TaskTable(
        {"A-001": make_task("A-001", "completed"), "B-001": make_task("B-001", deps=["A-001"])}
    )
    assert table.candidates() == {"B-001"}
    table["A-001"] = make_task("A-001", "pending")
    assert table.candidates() == {"A-001"}


def test_repointed_dependencies_are_followed():
    table = TaskTable(
        {
            "A-001": make_task("A-001", "completed"),
            "A-001-R1": make_task("A-001-R1"),
            "B-001": make_task("B-001", deps=["A-001"]),
        }
    )
    table["B-001"] = make_task("B-001", deps=["A-001-R1"])  # a revision task took A-001's place
    assert table.candidates() == {"A-001-R1"}
    table["A-001-R1"] = make_task("A-001-R1", "completed")
    assert table.candidates() == {"B-001"}


def test_next_retry_counts_only_tasks_that_could_start():
    waiting = make_task("B-001", deps=["A-001"], retry_at=iso(NOW + 60))
    table = TaskTable({"A-001": make_task("A-001", "failed"), "B-001": waiting})
    assert next_retry(table, NOW) is None
    assert next_retry({"B-001": make_task("B-001", retry_at=iso(NOW + 60))}, NOW) == NOW + 60


def test_other_dict_writes_keep_the_index():
    table = TaskTable()
    assert table.setdefault("A-001", make_task("A-001")).id == "A-001"
    table |= {"B-001": make_task("B-001", deps=["A-001"])}
    assert table.candidates() == {"A-001"}
    assert table.popitem()[0] == "B-001"
    table.clear()
    assert table.candidates() == set() and not table
