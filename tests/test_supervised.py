"""The loop with plain agents under a supervisor (FakeHost(supervised=True)), in-process.

The supervisor's part is on paper (tests/fakehost.py); what is tested is the
executor's: the exit report applied from memory like the lean worker's inbox
message and acked after the write, a kill keeping its reason, a dying
supervisor's agents failed as crashes, a stop forgetting its agents, and
adoption after a crash waiting for the report while the supervisor lives.
"""

from __future__ import annotations

import errno
import json
import signal

from teamexec.core.model import Control
from teamexec.core.schedule import PipelineState
from teamexec.executor.runner import step
from teamexec.worker.outbox import post
from teamexec.worker.supervisor import build_report
from test_runner import Run, control


def logged(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.paths.messages_log.read_text().splitlines()]


def test_an_exit_is_the_report_applied_from_memory_and_acked(tmp_path):
    run = Run(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, supervised=True)
    assert run.step() is None
    agent = run.host.worker("A-001")
    assert agent.supervised and agent.job.argv[0] != "/bin/sh"  # the agent itself
    assert b"## Role Assignment" in (agent.job.stdin or b"")  # its prompt, not a file
    assert not list(run.paths.logs.glob("*.prompt"))
    claimer = run.task("A-001")["metadata"]["claimer"]
    assert claimer["supervisor"]["pid"] == run.host.supervisor_pid  # who reports it
    run.host.exit("A-001", 0)
    assert run.step() is None  # B-001 starts
    assert run.task("A-001")["status"] == "completed"
    wid = agent.job.worker_id
    [line] = logged(run)
    assert line["origin_id"] == f"{wid}.task_complete" and line["data"]["exit_code"] == 0
    assert line["origin_ts"] == line["received_at"]  # stamped when the supervisor saw it
    assert run.host.acked == [wid]
    successor = run.host.worker("B-001").job
    assert successor.ack == (wid,)  # carried by the next start, no packet of its own
    assert successor.sync_fd is not None  # which the supervisor fdatasyncs before its spawn
    assert not list(run.paths.inbox.iterdir())
    run.host.exit("B-001", 0)
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.COMPLETE
    assert run.host.supervisors == 1


def test_a_failed_agent_is_an_error_with_its_log_tail(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, supervised=True, specs={"a": {"max_retries": 1}})
    run.step()
    log = run.paths.log_file("A-001", 1)
    log.write_text("boom: disk on fire\n")
    run.host.exit("A-001", 3)
    run.step()
    error = run.task("A-001")["metadata"]["last_error"]
    assert error["kind"] == "unknown" and "disk on fire" in error["log_tail"]  # as the lean one
    assert logged(run)[0]["type"] == "error"


def test_an_agent_that_reported_itself_is_not_completed_twice(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, supervised=True)
    run.step()
    run.report("A-001")  # the agent's own teamexec msg
    run.host.exit("A-001", 0)
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.COMPLETE
    assert run.task("A-001")["metadata"]["attempts"] == 1


def test_a_timed_out_agent_keeps_the_kind_timeout(tmp_path):
    run = Run(
        tmp_path / "s",
        {"A-001": []},
        supervised=True,
        specs={"a": {"timeout_s": 30, "max_retries": 0}},
    )
    run.step()
    run.advance(30)  # SIGTERM to its group; the supervisor reports the exit
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    run.step()
    error = run.task("A-001")["metadata"]["last_error"]
    assert error["kind"] == "timeout"
    assert not run.paths.messages_log.exists() or not logged(run)  # no error report applied


def test_a_dying_supervisor_fails_its_agents_and_a_new_one_starts(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, supervised=True, specs={"a": {"max_retries": 2}})
    run.step()
    run.host.kill_supervisor()
    run.step()
    error = run.task("A-001")["metadata"]["last_error"]
    assert error["kind"] == "crashed"
    assert "supervisor" in error["reason"] and "died" in error["reason"]
    run.advance(10)  # the back-off
    assert run.host.worker("A-001").job.env["TEAMEXEC_ATTEMPT"] == "2"
    assert run.host.supervisors == 2


def test_stop_forgets_the_agents_and_the_run_closes_the_socket(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, supervised=True)
    run.step()
    outcome = run.step(control(run, Control.STOP))
    assert outcome is not None
    assert run.host.forgotten == [run.host.worker("A-001").job.worker_id]


def test_an_adopted_agent_gone_before_its_report_is_not_a_crash(tmp_path):
    """The hazard: after an executor crash the agent's pid is gone before its orphaned
    supervisor has written the report.  While the supervisor lives, resume waits."""
    run = Run(tmp_path / "s", {"A-001": [], "B-001": ["A-001"]}, supervised=True)
    run.step()
    agent = run.host.worker("A-001")
    agent.code = 0  # it ended; its supervisor (orphaned: no executor) is still writing
    agent.reported_exit = True
    second = run.restarted()
    assert second.running[agent.job.worker_id].adopted
    assert step(second, [], run.host.now) is None
    assert run.task("A-001")["status"] == "in_progress"  # not judged crashed
    # the orphaned supervisor writes its report, then exits
    report = {"role": "a", "task_id": "A-001", "attempt": 1}
    post(run.paths.inbox, build_report(agent.job.worker_id, report, 0, run.host.now))
    assert run.host.supervisor_pid is not None
    run.host.procs[run.host.supervisor_pid].code = 0
    assert step(second, [], run.host.now) is None
    assert run.task("A-001")["status"] == "completed"
    assert "without reporting" not in run.text()
    assert run.host.worker("B-001").job.env["TEAMEXEC_ATTEMPT"] == "1"


def test_an_agent_whose_supervisor_is_gone_too_is_interrupted_at_resume(tmp_path):
    run = Run(tmp_path / "s", {"A-001": []}, supervised=True, specs={"a": {"max_retries": 0}})
    run.step()
    agent = run.host.worker("A-001")
    agent.code = -9
    agent.reported_exit = True
    assert run.host.supervisor_pid is not None
    run.host.procs[run.host.supervisor_pid].code = -9
    second = run.restarted()
    assert "A-001 interrupted" in run.text()  # no one is left to report it
    step(second, [], run.host.now)
    assert run.host.worker("A-001").job.env["TEAMEXEC_ATTEMPT"] == "2"


# ------------------------------------------------ starts nobody waits for (issue 15)
# The executor sends a start and goes on: the supervisor's answer (the agent's pid,
# or why it could not start) is taken at the next pass.  backend.defer holds the
# answers until the test gives them.


def deferred(tmp_path, graph=None, **kwargs) -> Run:
    run = Run(tmp_path / "s", graph or {"A-001": []}, supervised=True, **kwargs)
    run.host.backend.defer = True
    return run


def test_the_pid_is_filled_in_at_the_pass_after_the_answer(tmp_path):
    run = deferred(tmp_path, {"A-001": [], "B-001": []}, executor={"max_workers": 2})
    assert run.step() is None
    live = run.engine.running[run.host.worker("A-001").job.worker_id]
    assert live.pid is None  # sent, not answered: nothing waited for it
    assert "spawned a for A-001" in run.text()
    run.host.backend.answer("A-001")
    assert run.step() is None
    assert live.pid == run.host.worker("A-001").pid
    assert live.pid_started_at == run.host.worker("A-001").started_at
    run.engine.flush_session(durable=False)
    listed = json.loads(run.paths.team_session.read_text())["active_workers"]
    pids = {w["task_id"]: w["pid"] for w in listed}
    assert pids == {"A-001": live.pid, "B-001": None}  # B's answer has not come yet


def test_an_exit_heard_before_its_start_answer_completes_the_task_once(tmp_path):
    run = deferred(tmp_path, {"A-001": [], "B-001": ["A-001"]})
    run.step()
    run.host.exit("A-001", 0)  # the exit is applied before the pid is ever known
    assert run.step() is None
    assert run.task("A-001")["status"] == "completed"
    assert run.task("A-001")["metadata"]["attempts"] == 1
    run.host.backend.answer("A-001")  # late: the worker is gone, nothing to apply
    assert run.step() is None
    assert run.task("A-001")["status"] == "completed"
    assert "without reporting" not in run.text() and "cannot start" not in run.text()
    assert run.host.worker("B-001").job.env["TEAMEXEC_ATTEMPT"] == "1"


def test_a_refused_start_fails_the_attempt_at_the_next_pass_as_a_start_failure(tmp_path):
    """As when the executor itself could not start the job (test_runner's
    test_a_worker_that_cannot_start_is_a_crashed_attempt): the same reason."""
    run = deferred(tmp_path, specs={"a": {"max_retries": 0}})
    run.step()
    assert run.task("A-001")["status"] == "in_progress"
    argv0 = run.host.worker("A-001").job.argv[0]
    run.host.backend.answer("A-001", OSError(errno.ENOEXEC, "logs/A-001.1.log: is a FIFO"))
    outcome = run.step()
    assert outcome is not None and outcome.state is PipelineState.FAILED
    error = run.task("A-001")["metadata"]["last_error"]
    assert error["reason"] == f"cannot start {argv0}: logs/A-001.1.log: is a FIFO"
    assert error["kind"] == "crashed"
    assert f"cannot start {argv0}: logs/A-001.1.log: is a FIFO" in run.text()


def test_a_timeout_due_before_the_answer_waits_for_the_pid_and_signals_the_group(tmp_path):
    run = deferred(tmp_path, specs={"a": {"timeout_s": 30, "max_retries": 0}})
    run.step()
    run.host.advance(30)
    run.step()  # enforce_deadlines needs the pid: it waits for the answer
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    run.step()
    assert run.task("A-001")["metadata"]["last_error"]["kind"] == "timeout"


def test_stop_waits_for_the_answers_and_terminates_every_group(tmp_path):
    run = deferred(tmp_path, {"A-001": [], "B-001": []}, executor={"max_workers": 2})
    run.step()
    outcome = run.step(control(run, Control.STOP))
    assert outcome is not None
    assert run.host.worker("A-001").signals == [signal.SIGTERM]
    assert run.host.worker("B-001").signals == [signal.SIGTERM]
    assert run.task("A-001")["status"] == run.task("B-001")["status"] == "pending"
