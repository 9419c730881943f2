"""The agent supervisor with real processes: orphaned, SIGKILLed, stopped, detached.

Plain agents under ``executor.worker: auto`` run under one supervisor per run
(teamexec/worker/supervisor.py).  These tests take it through the hazards of
its design (docs/DESIGN.md, "The agent supervisor").
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil

from sessionkit import runs, start_teamexec, tasks, teamexec, wait_for, write_session


def supervisors(root) -> list[psutil.Process]:
    """The supervisor processes of this session's runs (found by their cwd and command)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "teamexec.worker.supervisor" in cmdline and proc.cwd() == str(root):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def agent_pid(root, task_id: str, attempt: int) -> int:
    [marker] = [m for m in runs(root, task_id) if m.startswith(f"{task_id}.{attempt}.")]
    return int(marker.rsplit(".", 1)[1])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Lines:
    """A running teamexec's stdout, read line by line as it comes (its lines are flushed)."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self.thread.join(timeout=timeout)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, self.text()


def session(tmp_path, graph, behaviour, **executor):
    root = write_session(
        tmp_path / "s",
        graph,
        behaviour=behaviour,
        executor={"orphan_after_s": 300, "cwd": ".", **executor},
    )
    return root


def test_a_finished_agent_of_a_stopped_orphan_supervisor_is_not_taken_for_a_crash(tmp_path):
    """The executor SIGKILLed; its agent ends while the orphaned supervisor cannot yet
    report it (SIGSTOPped: the agent's pid is gone, the report not written).  resume
    waits for the report instead of running the task again."""
    root = session(tmp_path, {"A-001": [], "B-001": ["A-001"]}, {"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    [supervisor] = supervisors(root)
    supervisor.suspend()
    try:
        (root / "go").write_text("")
        agent = agent_pid(root, "A-001", 1)
        wait_for(lambda: gone(agent), what="the agent's end")
        resume = Lines(start_teamexec("resume", str(root)))
        wait_for(lambda: "A-001: worker" in resume.text(), what="adoption")
        assert "is alive, adopted" in resume.text()
        time.sleep(0.3)  # the hazard needs time to show: a wrong verdict would start attempt 2
        assert resume.proc.poll() is None
        assert len(runs(root, "A-001")) == 1
    finally:
        supervisor.resume()
    code, out = resume.finish()
    assert code == 0, out
    assert "interrupted" not in out and "without reporting" not in out
    assert {t: s["status"] for t, s in tasks(root).items()} == {
        "A-001": "completed",
        "B-001": "completed",
    }
    assert len(runs(root, "A-001")) == 1
    wait_for(lambda: not supervisors(root) or all(gone(p.pid) for p in supervisors(root)))


def test_a_sigkilled_supervisor_takes_its_agents_with_it_and_a_new_one_takes_over(tmp_path):
    root = session(
        tmp_path,
        {"A-001": []},
        {"A-001": {"wait_for": "go"}},
    )
    proc = start_teamexec("run", str(root), "--backoff-scale", "0.01")
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    first = agent_pid(root, "A-001", 1)
    [supervisor] = supervisors(root)
    supervisor.kill()
    wait_for(lambda: gone(first), what="the agent of the dead supervisor killed")
    wait_for(lambda: len(runs(root, "A-001")) == 2, what="attempt 2")
    (root / "go").write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    task = tasks(root)["A-001"]
    assert task["status"] == "completed" and task["metadata"]["attempts"] == 2
    assert "supervisor" in out and "died" in out
    new = supervisors(root)
    assert all(p.pid != supervisor.pid for p in new)


def test_detach_leaves_the_agents_to_the_orphaned_supervisor(tmp_path):
    root = session(
        tmp_path,
        {"A-001": [], "A-002": [], "B-001": ["A-001", "A-002"]},
        {
            "A-001": {"wait_for": "go"},
            "A-002": {"wait_for": "go"},
        },
    )
    proc = start_teamexec("run", str(root), "--detach")
    wait_for(lambda: runs(root, "A-001") and runs(root, "A-002"), what="agents start")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    [supervisor] = supervisors(root)
    assert not gone(agent_pid(root, "A-001", 1))  # still running, its supervisor too
    (root / "go").write_text("")
    inbox = root / ".msg" / "inbox"
    wait_for(lambda: len(list(inbox.glob("*.task_complete.json"))) == 2, what="orphan reports")
    wait_for(lambda: gone(supervisor.pid), what="the supervisor's exit (no agent left)")
    result = teamexec("resume", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id in ("A-001", "A-002", "B-001"):
        assert len(runs(root, task_id)) == 1, task_id
        assert tasks(root)[task_id]["status"] == "completed"


def test_sigterm_terminates_the_agents_and_forgets_them(tmp_path):
    root = session(tmp_path, {"A-001": []}, {"A-001": {"wait_for": "go"}})
    proc = start_teamexec("run", str(root))
    wait_for(lambda: runs(root, "A-001"), what="agent start")
    agent = agent_pid(root, "A-001", 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert gone(agent)
    wait_for(lambda: not supervisors(root), what="the supervisor's exit")
    assert not list((root / ".msg" / "inbox").iterdir())  # a stopped agent is not reported
    assert tasks(root)["A-001"]["status"] == "pending"


def test_a_timeout_kills_the_agents_whole_group(tmp_path):
    """The agent starts a child of its own; the timeout's SIGTERM reaches both."""
    root = session(
        tmp_path,
        {"A-001": []},
        {},
        agent=["sh", "-c", 'sleep 60 & echo "child $!"; wait'],
    )
    spec = root / "role-specs" / "a.md"
    spec.write_text(spec.read_text().replace("---\n", "---\ntimeout_s: 1\nmax_retries: 0\n", 1))
    result = teamexec("run", str(root), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "A-001 timed out after 1 s" in result.stdout
    assert tasks(root)["A-001"]["metadata"]["last_error"]["kind"] == "timeout"
    log = (root / "logs" / "A-001.1.log").read_text()
    child = int(log.split("child ", 1)[1].split()[0])
    wait_for(lambda: gone(child), what="the agent's child killed with its group")
    assert os.path.exists(root / "logs" / "A-001.1.log")
