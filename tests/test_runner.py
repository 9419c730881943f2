"""The executor's loop driven in-process: ``runner.step`` with a FakeHost.

Real session directories (the task files, the inbox, the logs are real), but
no process and no sleep: the FakeHost's clock moves when the test says so and
its workers exit when told.  Each test is one story of the loop — timeouts,
stalls, SIGTERM then SIGKILL, back-off, young orphans, pause and stop, the
inner loop moving on — and takes milliseconds.
"""

from __future__ import annotations

import json
import math
import queue
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from factories import make_task
from fakehost import FakeHost
from sessionkit import wait_for, write_session
from teamexec.core.events import Event, EventKind
from teamexec.core.model import Control, iso, parse_iso
from teamexec.core.schedule import PipelineState
from teamexec.executor import engine as engine_module
from teamexec.executor.engine import Engine, Outcome, PauseReason, RunOptions
from teamexec.executor.monitor import Wake, WakeKind
from teamexec.executor.runner import SESSION_REFRESH_S, _wait, next_wake_at, run_loop, step
from teamexec.storage.journal import read_tasks
from teamexec.storage.loader import load_session
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore
from teamexec.worker.outbox import make_message, post


class Run:
    """One executor on a real session directory, a FakeHost for the OS."""

    def __init__(
        self,
        root: Path,
        graph: Mapping[str, Sequence[str]],
        *,
        specs: Mapping[str, Mapping[str, Any]] | None = None,
        executor: Mapping[str, Any] | None = None,
        kill_grace_s: float = 10.0,
        detach: bool = False,
        before: Any = None,
        supervised: bool = False,
    ) -> None:
        write_session(root, graph, specs=specs, executor=executor)
        if before is not None:
            before(root)
        self.host = FakeHost(supervised=supervised)
        self.paths = SessionPaths(root)
        self.events: list[Event] = []
        options = RunOptions(
            env={"PATH": "/usr/bin:/bin"}, kill_grace_s=kill_grace_s, detach=detach, start_dir=root
        )
        self.engine = Engine(
            paths=self.paths,
            session=load_session(root),
            options=options,
            emit=self.events.append,
            host=self.host,
        )
        now = self.host.time()
        self.engine.apply_reconciliation(self.engine.plan(now), now)

    def step(self, *wakes: Wake) -> Outcome | None:
        """One pass with the given wake-ups and the exits the FakeHost saw."""
        return step(self.engine, [*wakes, *self.host.exits()], self.host.time())

    def advance(self, seconds: float) -> Outcome | None:
        self.host.advance(seconds)
        return self.step()

    def restarted(self) -> Engine:
        """A second executor on the same session and host, reconciled: the one a
        resume after a crash of the first would start.  The first one's view
        writer thread ends first: in a real crash it dies with its process, and
        here it would go on writing views under the second executor."""
        writer = self.engine.store._writer
        if writer is not None:
            writer.drain()
        engine = Engine(
            paths=self.paths,
            session=load_session(self.paths.root),
            options=self.engine.options,
            emit=self.events.append,
            host=self.host,
        )
        engine.apply_reconciliation(engine.plan(self.host.now), self.host.now)
        return engine

    def task(self, task_id: str) -> dict[str, Any]:
        """The task as ``check`` sees it: its view, or the state journaled ahead of it."""
        tasks, _problems = read_tasks(TaskStore(self.paths.tasks), self.paths)
        return dict(tasks[task_id].data)

    def view(self, task_id: str) -> dict[str, Any]:
        """The task file itself (written up to a second after the journal while running)."""
        data: dict[str, Any] = json.loads(self.paths.task_file(task_id).read_text())
        return data

    def report(
        self, task_id: str, kind: str = "task_complete", *, by: str | None = None, **data: Any
    ) -> None:
        """The worker of ``task_id`` (or of task ``by``) drops a message into the inbox."""
        worker = self.host.worker(by or task_id)
        role = worker.job.env["TEAMEXEC_ROLE"]
        payload = {
            "task_id": task_id,
            "attempt": int(worker.job.env["TEAMEXEC_ATTEMPT"]),
            "worker_id": worker.job.worker_id,
            **data,
        }
        message = make_message(
            type=kind, sender=role, summary=f"{kind} {task_id}", data=payload, now=self.host.now
        )
        post(self.paths.inbox, message)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]

    def text(self) -> str:
        return "\n".join(e.line() for e in self.events)


def test_a_task_runs_reports_and_the_pipeline_completes(tmp_path):
    run = Run(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]})
    assert run.step() is None
    worker = run.host.worker("A-001")
    # the built-in worker, argv only: the lean one, executor.worker auto for a plain agent
    assert worker.job.argv[1].endswith("lean_worker.sh")
    assert run.task("A-001")["status"] == "in_progress"
    assert "B-001" not in {p.job.env["TEAMEXEC_TASK_ID"] for p in run.host.procs.values()}
    run.report("A-001", duration_s=1.5)
    run.host.exit("A-001", 0)
    assert run.step() is None  # B-001 starts
    assert run.task("A-001")["status"] == "completed"
    run.report("B-001")
    run.host.exit("B-001", 0)
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.COMPLETE
    session = json.loads(run.paths.team_session.read_text())
    assert session["completed_tasks"] == ["A-001", "B-001"]
    assert session["active_workers"] == []
    assert run.engine.task_seconds == {"A-001": 0.0, "B-001": 0.0}


def test_the_last_pass_writes_meta_json_even_while_team_msg_keeps_it_busy(tmp_path, monkeypatch):
    """A meta.json merge that found team_msg mid-write is retried on a later pass; the
    pass that completes the pipeline has none, so it waits team_msg out (settle_s)."""
    real = engine_module.write_meta
    settles: list[float] = []

    def busy_unless_settling(*args: Any, settle_s: float = 0.0, **kwargs: Any) -> bool:
        settles.append(settle_s)
        return settle_s > 0 and real(*args, settle_s=settle_s, **kwargs)

    monkeypatch.setattr(engine_module, "write_meta", busy_unless_settling)
    run = Run(tmp_path / "s", {"A-001": []})
    assert run.step() is None
    run.report("A-001", "progress", progress_pct=90)
    run.report("A-001")
    run.host.exit("A-001", 0)
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.COMPLETE
    assert settles[-1] > 0 and not run.engine.meta_dirty
    meta = json.loads(run.paths.meta.read_text())
    role = run.host.worker("A-001").job.env["TEAMEXEC_ROLE"]
    assert meta["executor"]["roles"][role]["progress_pct"] == 90


def test_a_timeout_terminates_the_group_and_fails_the_attempt(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"timeout_s": 30, "max_retries": 0}})
    run.step()
    assert run.advance(29.9) is None
    assert run.host.worker("A-001").signals == []
    run.advance(0.1)  # 30 s: SIGTERM to the group; the fake worker dies of it
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    assert "A-001 timed out after 30 s" in run.text()
    outcome = run.step()  # its exit is accounted for
    assert outcome is not None and outcome.state is PipelineState.FAILED
    error = run.task("A-001")["metadata"]["last_error"]
    assert error["kind"] == "timeout" and error["reason"] == "attempt timeout, killed"


def test_a_silent_worker_is_stalled_and_log_output_counts_as_a_heartbeat(tmp_path):
    specs = {"a": {"stall_after_s": 10, "timeout_s": 1000, "max_retries": 0}}
    run = Run(tmp_path / "s", {"A-001": []}, specs=specs)
    run.step()
    log = run.paths.log_file("A-001", 1)
    for _ in range(3):  # it writes to its log every 9 s: alive
        run.host.advance(9)
        with open(log, "a") as handle:
            handle.write("working\n")
        assert run.step() is None
    assert run.host.worker("A-001").signals == []
    run.advance(10)  # then 10 s of silence
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    assert "stalled: silent for 10 s" in run.text()
    run.step()
    assert run.task("A-001")["metadata"]["last_error"]["kind"] == "stalled"


def test_a_worker_without_a_log_is_stalled_and_a_log_created_late_is_a_heartbeat(tmp_path):
    """A plain agent under the supervisor has no log until it writes (docs/DESIGN.md):
    a missing log is no output — silent, so stalled — and its creation is output."""
    specs = {"a": {"stall_after_s": 10, "timeout_s": 1000, "max_retries": 0}}
    run = Run(tmp_path / "s", {"A-001": [], "B-001": []}, specs={**specs, "b": specs["a"]})
    run.step()
    quiet, late = run.paths.log_file("A-001", 1), run.paths.log_file("B-001", 1)
    run.host.advance(9)
    late.write_text("first words\n")  # created at its first output, 9 s in
    assert run.step() is None
    run.advance(1)  # 10 s without a log at all
    assert not quiet.exists()
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    assert run.host.worker("B-001").signals == []  # its log's creation was a heartbeat
    assert "A-001 stalled: silent for 10 s" in run.text()


def test_a_worker_that_ignores_sigterm_gets_sigkill_after_the_grace_period(tmp_path):
    specs = {"a": {"timeout_s": 5, "max_retries": 0}}
    run = Run(tmp_path / "s", {"A-001": []}, specs=specs, kill_grace_s=3)
    run.host.stubborn.add("A-001")
    run.step()
    run.advance(5)
    worker = run.host.worker("A-001")
    assert worker.signals == [signal.SIGTERM] and worker.code is None
    live = next(iter(run.engine.running.values()))
    assert live.kill_at == run.host.now + 3  # the loop wakes for the kill (or a rescan before)
    run.advance(2.9)
    assert worker.signals == [signal.SIGTERM]
    run.advance(0.1)
    assert worker.signals == [signal.SIGTERM, signal.SIGKILL]
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.FAILED
    assert run.task("A-001")["metadata"]["last_error"]["kind"] == "timeout"


def test_views_follow_the_journal_within_a_second_and_exactly_at_the_end(tmp_path):
    """Issue 15: a task's view is written in the next flush, at most a second after
    its state was journaled, and every view is exact once the run is over."""
    run = Run(tmp_path / "s", {"A-001": [], "B-001": ["A-001"], "C-001": ["B-001"]})
    run.step()  # the first pass writes the session file, and hands the views to its thread
    # every view the first pass owed written: the writer's thread (at a lower
    # priority) writes a task's current owed state, so one still at work when the
    # next pass journals would already write that pass's states
    wait_for(lambda: run.engine.store.owed == 0, timeout=10, what="the first pass's views")
    assert run.view("A-001")["status"] == "in_progress"
    run.report("A-001")
    run.host.exit("A-001", 0)
    run.step()  # within the same second: B-001 claimed, both journaled only
    assert run.task("A-001")["status"] == "completed"
    assert run.task("B-001")["status"] == "in_progress"
    assert run.view("A-001")["status"] == "in_progress"
    assert run.view("B-001")["status"] == "pending"
    assert run.engine.store.owed == 2
    assert next_wake_at(run.engine, run.host.time()) <= run.host.time() + SESSION_REFRESH_S
    run.advance(SESSION_REFRESH_S)  # the flush: handed to the view writer's thread
    wait_for(lambda: run.engine.store.owed == 0, timeout=10, what="the owed views written")
    assert run.view("A-001")["status"] == "completed"
    assert run.view("B-001")["status"] == "in_progress"
    run.report("B-001")
    run.host.exit("B-001", 0)
    run.step()
    run.report("C-001")
    run.host.exit("C-001", 0)
    outcome = run.step()  # the end comes within the second: nothing may stay owed
    assert outcome is not None and outcome.state is PipelineState.COMPLETE
    assert {run.view(t)["status"] for t in ("A-001", "B-001", "C-001")} == {"completed"}
    assert run.paths.journal.read_bytes() == b""  # checkpointed


def test_a_crash_backs_off_then_runs_the_next_attempt(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"max_retries": 2}})
    run.step()
    with open(run.paths.log_file("A-001", 1), "a") as handle:
        handle.write("boom: connection reset\n")
    run.host.exit("A-001", 3)
    assert run.step() is None
    task = run.task("A-001")
    assert task["status"] == "pending" and task["metadata"]["reset_reason"].startswith("retry")
    assert "boom: connection reset" in task["metadata"]["last_error"]["log_tail"]
    assert "worker exited with code 3 without reporting" in run.text()
    retry_at = parse_iso(task["metadata"]["retry_at"])
    assert retry_at is not None and retry_at > run.host.now
    assert len(run.host.procs) == 1
    run.host.now = retry_at - 0.01
    run.step()
    assert len(run.host.procs) == 1  # not before the back-off ends
    run.host.now = retry_at
    run.step()
    assert run.host.worker("A-001").job.env["TEAMEXEC_ATTEMPT"] == "2"
    assert run.task("A-001")["metadata"]["attempts"] == 2


def test_a_worker_that_cannot_start_is_a_crashed_attempt(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"max_retries": 0}})
    run.host.backend.fail_next = PermissionError(13, "Permission denied")
    outcome = run.step()
    assert "cannot start" in run.text()
    assert run.task("A-001")["status"] == "failed"
    assert outcome is not None and outcome.state is PipelineState.FAILED


def test_a_young_orphan_is_judged_again_when_it_comes_of_age(tmp_path):
    def orphan(root: Path) -> None:  # claimed by a coordinator, no worker recorded
        (root / "tasks").mkdir()
        updated = iso(FakeHost().now - 50)
        task = make_task(
            "A-001", "in_progress", claimed_by="someone-else", attempts=1, updated_at=updated
        )
        (root / "tasks" / "A-001.json").write_text(json.dumps(task.data))

    run = Run(tmp_path / "s", {"A-001": []}, executor={"orphan_after_s": 60}, before=orphan)
    assert run.step() is None
    assert run.task("A-001")["status"] == "in_progress" and not run.host.procs
    assert run.engine.pool.deadline(run.host.now) == run.host.now + 2  # the rescan comes first
    assert run.engine.recheck_at == run.host.now + 10
    run.advance(9.9)
    assert not run.host.procs
    run.advance(0.1)  # 60 s after its last update: back to pending, and started
    assert "A-001 orphaned" in run.text()
    assert run.host.worker("A-001").job.env["TEAMEXEC_ATTEMPT"] == "2"


def control(run: Run, kind: Control) -> Wake:
    run.paths.control.mkdir(parents=True, exist_ok=True)
    (run.paths.control / kind.value).write_text("requested\n")
    return Wake(WakeKind.CONTROL, kind.value)


def test_pause_lets_running_workers_finish_and_starts_no_new_ones(tmp_path):
    run = Run(tmp_path / "s", {"A-001": [], "B-001": [], "C-001": []}, executor={"max_workers": 2})
    run.step()
    assert len(run.host.procs) == 2
    assert run.step(control(run, Control.PAUSE)) is None
    assert "pause requested" in run.text()
    run.report("A-001")
    run.host.exit("A-001")
    assert run.step() is None  # B-001 still runs; C-001 is not started
    assert len(run.host.procs) == 2
    run.report("B-001")
    run.host.exit("B-001")
    outcome = run.step()
    assert outcome is not None and outcome.paused_by is PauseReason.USER
    assert json.loads(run.paths.team_session.read_text())["status"] == "paused"
    assert run.task("C-001")["status"] == "pending"


def test_a_watched_control_dir_is_read_at_its_wake_ups_and_at_the_periodic_rescan(tmp_path):
    """With a monitor the pass skips .msg/control/ unless told, or the rescan is due:
    a request whose event the kernel dropped is still honoured within ``rescan_s``."""
    run = Run(tmp_path / "s", {"A-001": [], "B-001": []}, executor={"max_workers": 1})
    run.engine.control_read_at = -math.inf  # as run_loop sets it once its monitor watches
    run.step()
    rescan_s = run.engine.options.rescan_s
    control(run, Control.PAUSE)  # no wake-up: its event was lost
    run.advance(rescan_s / 2)
    assert "pause requested" not in run.text()
    run.advance(rescan_s / 2)
    assert "pause requested" in run.text()
    assert not (run.paths.control / "pause").exists()
    run.report("A-001")
    run.host.exit("A-001")
    outcome = run.step()
    assert outcome is not None and outcome.paused_by is PauseReason.USER
    later = Run(tmp_path / "t", {"A-001": []})
    later.engine.control_read_at = -math.inf
    later.step()
    assert later.step(control(later, Control.STOP)) is not None  # its wake-up: at once
    assert "stop requested" in later.text()


def test_stop_terminates_the_workers_and_puts_their_tasks_back(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, kill_grace_s=2)
    run.host.stubborn.add("A-001")
    run.step()
    outcome = run.step(control(run, Control.STOP))
    assert outcome is not None and outcome.paused_by is PauseReason.USER
    assert run.host.worker("A-001").signals == [signal.SIGTERM, signal.SIGKILL]
    assert run.host.mono >= 2  # it waited out the grace period on the fake clock only
    task = run.task("A-001")
    assert task["status"] == "pending" and task["metadata"]["reset_reason"] == "stopped"
    assert "claimed_by" not in task["metadata"]


@pytest.mark.parametrize(("detach", "signals"), [(False, [signal.SIGTERM]), (True, [])])
def test_a_signal_interrupts_and_detach_leaves_workers_running(tmp_path, detach, signals):
    run = Run(tmp_path / "s", {"A-001": []}, detach=detach)
    run.step()
    outcome = run.step(Wake(WakeKind.SIGNAL, code=signal.SIGINT))
    assert outcome is not None and outcome.interrupted and outcome.detached is detach
    assert run.host.worker("A-001").signals == signals
    assert json.loads(run.paths.team_session.read_text())["status"] == "paused"


def test_an_inner_loop_worker_moves_on_to_the_task_it_claimed(tmp_path):
    graph = {"A-001": [], "A-002": []}
    run = Run(tmp_path / "s", graph, specs={"a": {"inner_loop": True, "timeout_s": 100}})
    run.step()
    assert len(run.host.procs) == 1  # one worker for the role
    worker = run.host.worker("A-001")
    run.report("A-001")
    run.host.advance(60)
    # the worker claims its next task itself, then says so
    store = run.engine.store
    assert store.claim("A-002", worker.job.worker_id, now=run.host.now) is not None
    message = make_message(
        type="progress",
        sender="a",
        summary="claimed",
        data={"task_id": "A-002", "worker_id": worker.job.worker_id, "phase": "claimed"},
        now=run.host.now,
    )
    post(run.paths.inbox, message)
    assert run.step() is None
    live = run.engine.running[worker.job.worker_id]
    assert live.task_id == "A-002" and live.started_at == run.host.now
    assert "took A-002 (inner loop)" in run.text()
    run.advance(60)  # 120 s after the worker started, 60 s into A-002: no timeout
    assert worker.signals == []
    run.report("A-002", by="A-001", attempt=1)
    run.host.exit("A-001", 0)
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.COMPLETE


def test_an_adopted_worker_that_is_gone_fails_its_attempt(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"max_retries": 0}})
    run.step()
    worker = run.host.worker("A-001")
    second = run.restarted()  # after a crash of the first: it adopts the running worker
    assert second.running[worker.job.worker_id].adopted
    worker.code = -9  # it dies; no monitor watches an adopted worker: liveness tells
    outcome = step(second, [], run.host.now)
    assert outcome is not None and outcome.state is PipelineState.FAILED
    assert "worker exited with code None without reporting" in run.text()


def test_an_edited_role_spec_applies_from_the_next_spawn(tmp_path):
    run = Run(tmp_path / "s", {"A-001": [], "A-002": ["A-001"]})
    run.step()
    spec = run.paths.role_specs / "a.md"
    spec.write_text(
        spec.read_text().replace("inner_loop: false", "inner_loop: false\ntimeout_s: 7")
    )
    run.step(Wake(WakeKind.SPEC, "a.md"))
    assert run.engine.specs["a"].timeout_s == 7
    assert EventKind.SPEC_RELOADED in run.kinds()
    spec.write_text("---\nrole: [broken\n---\n")
    run.step(Wake(WakeKind.SPEC, "a.md"))
    assert run.engine.specs["a"].timeout_s == 7  # the last valid version stays
    assert EventKind.SPEC_INVALID in run.kinds()


def test_a_rejected_message_is_moved_aside_with_its_reason(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []})
    run.step()
    run.paths.inbox.joinpath("bad.json").write_text("[1, 2]")
    run.step()
    assert not run.paths.inbox.joinpath("bad.json").exists()
    assert any("rejected bad.json: not a JSON object" in e.text for e in run.events)


def test_a_completion_waits_for_its_artifact_then_gives_up(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"max_retries": 0}})
    run.step()
    run.report("A-001", artifact="artifacts/never.md")
    run.step()
    run.advance(4.9)
    assert run.task("A-001")["status"] == "in_progress"  # deferred, not rejected yet
    run.advance(0.1)
    assert any("gave up after 5 s" in e.text for e in run.events)
    run.report("A-001", artifact="artifacts/late.md")
    run.step()
    assert run.task("A-001")["status"] == "in_progress"
    (run.paths.root / "artifacts" / "late.md").write_text("here\n")
    run.advance(1)
    assert run.task("A-001")["status"] == "completed"


def test_the_lean_worker_gets_its_prompt_written_for_it(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, executor={"worker": "sh"})
    run.step()
    job = run.host.worker("A-001").job
    assert job.argv[:2] == ("/bin/sh", str(Path(job.argv[1])))
    assert job.argv[1].endswith("lean_worker.sh")
    prompt = Path(job.env["TEAMEXEC_PROMPT_FILE"]).read_text()
    assert "A-001" in prompt and "## Phase 3" in prompt
    assert job.env["TEAMEXEC_STARTED_TS"] == iso(run.host.now)


def test_a_role_with_its_own_worker_command_runs_it(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, specs={"a": {"worker": ["my-worker", "--x"]}})
    run.step()
    assert run.host.worker("A-001").job.argv == ("my-worker", "--x")


def test_the_wait_takes_everything_queued_or_returns_at_the_deadline():
    class Queued:
        def __init__(self) -> None:
            self.wakes: queue.SimpleQueue[Wake] = queue.SimpleQueue()

    monitor = Queued()
    assert _wait(monitor, until=5.0, now=5.0) == []  # the deadline has come: no blocking
    first, second = Wake(WakeKind.INBOX, "a.json"), Wake(WakeKind.EXIT, "w1", 0)
    monitor.wakes.put(first)
    monitor.wakes.put(second)
    assert _wait(monitor, until=60.0, now=0.0) == [first, second]  # no wait: both queued


def test_run_loop_watches_waits_and_cleans_up(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []})
    run.step()
    run.report("A-001")
    run.host.exit("A-001", 0)
    run.engine.pool.running.clear()  # its exit was seen; the loop only has to finish
    outcome = run_loop(run.engine)
    assert outcome.state is PipelineState.COMPLETE
    assert run.engine.pool.monitor is None  # the observer is stopped and forgotten
