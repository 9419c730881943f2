"""A small scripted agent for integration tests (no LLM, no network).

It reads the prompt on stdin, then does what ``<session>/behaviour.json``
says for its task — exit code, sleep, fail the first N attempts, wait for a
file, print to its log — and records every run in ``<session>/runs/`` so that
tests can assert each task's work ran exactly once.  Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    prompt = sys.stdin.read()
    session = Path(os.environ["TEAMEXEC_SESSION"])
    task = os.environ["TEAMEXEC_TASK_ID"]
    attempt = int(os.environ["TEAMEXEC_ATTEMPT"])
    try:
        behaviour = json.loads((session / "behaviour.json").read_text()).get(task, {})
    except FileNotFoundError:
        behaviour = {}
    runs = session / "runs"
    runs.mkdir(exist_ok=True)
    marker = runs / f"{task}.{attempt}.{os.getpid()}"
    marker.write_text(prompt[:200])
    print(f"agent {task} attempt {attempt} started", flush=True)
    if behaviour.get("parent"):  # which process started it (the worker choice tests)
        parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\0", b" ")
        (session / f"parent.{task}.{attempt}").write_bytes(parent)
    if "wait_for" in behaviour:  # block until the test lets it go (bounded)
        gate = session / behaviour["wait_for"]
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(float(behaviour.get("sleep", 0)))
    if "progress" in behaviour:  # report through the CLI, as a real agent would
        subprocess.run(
            [
                sys.executable,
                "-m",
                "teamexec",
                "msg",
                "progress",
                "--summary",
                "halfway",
                "--data",
                json.dumps({"progress_pct": behaviour["progress"], "phase": "Phase 3"}),
            ],
            check=True,
        )
    for line in behaviour.get("print", []):
        print(line, flush=True)
    if attempt <= int(behaviour.get("fail_times", 0)):
        print(behaviour.get("fail_message", "agent failed"), flush=True)
        return int(behaviour.get("exit", 3))
    artifact = session / "artifacts" / f"{task.lower()}.md"
    artifact.parent.mkdir(exist_ok=True)
    artifact.write_text(f"# {task}\n\nDone by attempt {attempt}.\n")
    (runs / f"{task}.done.{attempt}.{os.getpid()}").write_text("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
