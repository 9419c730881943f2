"""The journal's invariant, watched over a whole in-process run (issue 15).

Nothing irreversible before the state it depends on is committed: no
worker starts before its claim is in the fdatasynced part of the journal,
no inbox file is removed before the completion it carried is, and a pass
makes at most one fdatasync.  The loop is driven by ``runner.step`` with a
FakeHost (tests/test_runner.py's ``Run``); the journal and the task files
are real.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from sessionkit import CRASH_GRAPH
from teamexec.core.schedule import PipelineState
from teamexec.storage import messages as inbox
from teamexec.storage.journal import parse
from test_runner import Run

GRAPH = CRASH_GRAPH


class Watch:
    """Records the journal's durable prefix and checks each irreversible act against it."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.durable = 0  # bytes of the journal fdatasynced so far
        self.syncs = 0
        self.starts = 0
        self.removed = 0
        journal = run.engine.journal
        real_sync = journal.sync

        def sync() -> None:
            pending = journal._unsynced
            real_sync()
            if pending:
                self.syncs += 1
                self.durable = journal.size

        journal.sync = sync  # type: ignore[method-assign]
        backend = run.host.backend
        real_submit = backend.submit

        def submit(job: Any) -> Any:
            if job.sync_fd is not None:  # the supervisor fdatasyncs it before the spawn
                assert os.path.samestat(os.fstat(job.sync_fd), os.stat(journal.path))
                self.durable = journal.size
            task_id = job.env["TEAMEXEC_TASK_ID"]
            state = self.committed().get(task_id, {})
            assert state.get("status") == "in_progress", (task_id, state)
            assert state["metadata"]["claimed_by"] == job.worker_id
            self.starts += 1
            return real_submit(job)

        backend.submit = submit  # type: ignore[method-assign]
        real_remove = inbox.remove

        def remove(paths: Any, name: str) -> None:
            message = json.loads((paths.inbox / name).read_text())
            task_id = message["data"]["task_id"]
            assert self.committed()[task_id]["status"] == "completed", (name, task_id)
            self.removed += 1
            real_remove(paths, name)

        self._restore = (inbox, "remove", real_remove)
        inbox.remove = remove  # type: ignore[assignment]

    def committed(self) -> dict[str, dict[str, Any]]:
        with open(self.run.engine.journal.path, "rb") as handle:
            return parse(handle.read(self.durable)).states

    def close(self) -> None:
        module, name, value = self._restore
        setattr(module, name, value)


@pytest.mark.parametrize("supervised", [False, True], ids=["workers", "supervised"])
def test_no_start_and_no_inbox_removal_before_its_state_is_committed(tmp_path, supervised):
    """Supervised: the claims' fdatasync is the supervisor's (the start carries the
    journal's descriptor), so the loop itself makes none for a start."""
    run = Run(tmp_path / "s", GRAPH, executor={"max_workers": 2}, supervised=supervised)
    watch = Watch(run)
    try:
        outcome = None
        passes = 0
        while outcome is None:
            before = watch.syncs
            outcome = run.step()
            passes += 1
            assert watch.syncs - before <= 1, "more than one fdatasync in a pass"
            for proc in list(run.host.procs.values()):
                if proc.code is None and proc.job.worker_id != "supervisor":
                    task_id = proc.job.env["TEAMEXEC_TASK_ID"]
                    if not supervised:  # a supervised agent's exit is its report
                        run.report(task_id)
                    run.host.exit(task_id, 0)
            assert passes < 50
        assert outcome.state is PipelineState.COMPLETE
    finally:
        watch.close()
    assert watch.starts == len(GRAPH)
    assert watch.removed == (0 if supervised else len(GRAPH))
    assert watch.syncs <= (1 if supervised else passes)  # supervised: reconcile's only
    # checkpointed at the end: the views are durable, the journal is empty
    assert os.path.getsize(run.engine.journal.path) == 0
