"""Rate limits: N tasks at max_workers W against a stand-in API that answers 429 (PROTOCOL §10).

    python bench/ratelimit.py [--tasks 40] [--workers 8] [--rate 1] [--capacity 8] [--work 0.2]

Every task runs bench/agents/ratelimited.py as a Claude Code stand-in
(``agent_kind: claude``): each run takes a token from a shared bucket (a file
under flock) of ``capacity`` tokens refilled at ``rate`` a second, and a run
that finds none prints a ``rate_limit_event`` with ``resetsAt`` and a 429
result.  teamexec must then start no new worker until the reset, restart one
at a time, not count the turned-away attempts against ``max_retries`` (0
here, so a counted one would fail the task), and still finish close to the
limit's ideal — a full bucket, then one task per token:

    ideal = max(0, tasks - capacity) / rate + work

It prints the wall time of ``teamexec run``, the ideal and their ratio (and
the agents' own span, first token asked to last run done, over the ideal:
the ratio without teamexec's start-up and report), and exits 1 when a task
failed, an attempt counted as a retry, or a turned-away run was not
recorded.  A benchmark, not a timed test: tests run it once at the smallest
size and assert no timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "agents"))
sys.path.insert(0, str(HERE))

from dags import write_session as write_bench_session  # noqa: E402
from ratelimited import ideal_seconds  # noqa: E402

STANDIN = HERE / "agents" / "ratelimited.py"


def write_session(root: Path, tasks: int, workers: int) -> Path:
    """One role, ``tasks`` independent tasks, the stand-in as a Claude agent."""
    graph: dict[str, list[str]] = {f"T-{i:03d}": [] for i in range(tasks)}
    return write_bench_session(
        root,
        graph,
        agent=[sys.executable, str(STANDIN)],
        # max_retries 0: an attempt counted against it would fail the task
        role_keys=["agent_kind: claude", "max_retries: 0"],
        executor={"max_workers": workers, "claude_task_list": False, "evidence": "off"},
        description="rate-limit benchmark",
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="teamexec-ratelimit-") as tmp:
        root = write_session(Path(tmp) / "session", args.tasks, args.workers)
        env = dict(
            os.environ,
            RATELIMIT_BUCKET=str(Path(tmp) / "bucket.json"),
            RATELIMIT_RATE=str(args.rate),
            RATELIMIT_CAPACITY=str(args.capacity),
            RATELIMIT_WORK_S=str(args.work),
            RATELIMIT_COST="0.01",
            CLAUDE_CONFIG_DIR=str(Path(tmp) / "claude"),
            RATELIMIT_TRACE=str(Path(tmp) / "trace"),
        )
        env.pop("TEAMEXEC_AGENT", None)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "teamexec", "run", str(root), "--completion", "keep"],
            env=env,
            capture_output=True,
            text=True,
            timeout=args.timeout,
        )
        wall = time.monotonic() - started
        report = json.loads((root / "report.json").read_text()) if result.returncode == 0 else {}
        runs = [line.split() for line in (Path(tmp) / "trace").read_text().splitlines()]
        tasks = {}
        for path in (root / "tasks").glob("*.json"):
            data = json.loads(path.read_text())
            tasks[data["id"]] = data
    counted = {
        tid: t["metadata"].get("attempts", 0) - t["metadata"].get("rate_limited", 0)
        for tid, t in tasks.items()
    }
    ideal = ideal_seconds(
        tasks=args.tasks, rate=args.rate, capacity=args.capacity, work_s=args.work
    )
    usage = (report.get("usage") or {}).get("run", {}) if report else {}
    starts = [float(t) for t, _ in runs]
    granted = [float(t) for t, outcome in runs if outcome == "ok"]
    # the agents' own span: first run asked for a token .. last granted run done
    span = (max(granted) + args.work - min(starts)) if granted else 0.0
    return {
        "exit": result.returncode,
        "stderr": result.stderr[-2000:],
        "completed": sum(1 for t in tasks.values() if t["status"] == "completed"),
        "failed": sum(1 for t in tasks.values() if t["status"] == "failed"),
        "retries_counted": sum(max(0, n - 1) for n in counted.values()),
        "rate_limited": sum(t["metadata"].get("rate_limited", 0) for t in tasks.values()),
        "recorded_rate_limited": usage.get("rate_limited"),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3),
        "span_ratio": round(span / ideal, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rate", type=float, default=1.0, help="tokens a second")
    parser.add_argument("--capacity", type=int, default=8, help="bucket size")
    parser.add_argument("--work", type=float, default=0.2, help="seconds each run works")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    out = run(args)
    print(
        f"| tasks {args.tasks} | workers {args.workers} | rate {args.rate:g}/s | "
        f"capacity {args.capacity} | completed {out['completed']} | failed {out['failed']} | "
        f"429s {out['rate_limited']} | retries counted {out['retries_counted']} | "
        f"wall {out['wall_s']} s | ideal {out['ideal_s']} s | ratio {out['ratio']} | "
        f"agents' span / ideal {out['span_ratio']} |"
    )
    ok = (
        out["exit"] == 0
        and out["completed"] == args.tasks
        and out["failed"] == 0
        and out["retries_counted"] == 0
        and out["recorded_rate_limited"] == out["rate_limited"]
    )
    if not ok:
        print(json.dumps(out, indent=2), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
