"""Callback -> next spawn latency, p50 and p99, native observer and polling.

    python bench/latency.py --events 1000

Runs a chain of N+1 no-op tasks (each waits for the one before) with
``TEAMEXEC_TRACE`` on.  For every completion it takes the instant of the
callback and the time the executor started the next task's worker, and
reports the percentiles of the difference, split into "seen" (wake-up and
read) and "spawn" (the pass that claims and starts the next worker).

``--callback exit`` (the default): the completion the worker reports when the
agent exits — with the lean shell worker (``--worker sh``, or the default
configuration before the agent supervisor) its inbox file, renamed in (its
ctime); under the agent supervisor (the default configuration since issue 15)
the exit report on the supervisor's socket, stamped when the supervisor
reaped the agent.  ``--callback agent``: the agent reports its own completion
(``teamexec msg task_complete``, an inbox file) before it exits; two workers
may run, so the next task starts on the callback, not on the exit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dags import chain, write_session  # noqa: E402
from run import teamexec_bin  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


AGENT_CALLBACK = ["teamexec", "msg", "task_complete", "--summary", "done"]


def measure(events: int, poll: bool, worker: str, callback: str) -> dict[str, float]:
    root = HERE / "out" / f"latency-{'poll' if poll else 'native'}"
    chosen = None if worker == "default" else worker
    agent = AGENT_CALLBACK if callback == "agent" else ["true"]
    write_session(root / "session", chain(events + 1), agent=agent, worker=chosen)
    trace = root / "trace.jsonl"
    trace.unlink(missing_ok=True)
    workers = "2" if callback == "agent" else "1"
    command = [teamexec_bin(), "run", str(root / "session"), "--max-workers", workers]
    command += ["--completion", "keep", "--json", *(["--poll"] if poll else [])]
    env = {**os.environ, "TEAMEXEC_TRACE": str(trace)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    spawn_at = {r["task"]: r["t"] for r in records if r["event"] == "spawn"}
    total, seen = [], []
    for record in records:
        if record["event"] != "inbox" or not record.get("ctime"):
            continue
        # the worker's report on exit is <worker id>.task_complete.json, the agent's own
        # message <role>.<task>.<ns>.<pid>.json: take the callback asked for
        if record["name"].endswith(".task_complete.json") is (callback == "agent"):
            continue
        task = record["name"].split(".")[1]  # <role>.<task>.a<n>.<hex>.<type>.json
        following = f"T-{int(task.split('-')[1]) + 1:06d}"
        if following in spawn_at:
            total.append((spawn_at[following] - record["ctime"]) * 1000)
            seen.append((record["t"] - record["ctime"]) * 1000)
    return {
        "n": len(total),
        "p50": percentile(total, 0.50),
        "p99": percentile(total, 0.99),
        "seen_p50": percentile(seen, 0.50),
        "mean": statistics.fmean(total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--worker", default="default", choices=["default", "python", "sh"])
    parser.add_argument("--callback", default="exit", choices=["exit", "agent"])
    parser.add_argument("--native-only", action="store_true", help="skip the polling observer")
    args = parser.parse_args()
    print(
        "| observer | events | callback->spawn p50 ms | p99 ms | mean ms | of which seen p50 ms |"
    )
    print("|---|---|---|---|---|---|")
    for poll in (False,) if args.native_only else (False, True):
        r = measure(args.events, poll, args.worker, args.callback)
        name = "polling" if poll else "native (inotify)"
        print(
            f"| {name} | {r['n']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['mean']:.2f} | "
            f"{r['seen_p50']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
