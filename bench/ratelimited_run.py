"""The rate-limit table of bench/makespan.py: a team against a shared token bucket.

Every task's agent is the stand-in Claude Code of bench/agents/ratelimited.py
(the agents issue's stand-in): it takes one token from a bucket shared by all
workers (``rate`` tokens a second, ``capacity`` at most) and works
``work_s`` seconds, or answers like a 429 with the time the next token
arrives (``resetsAt``). The least time ``tasks`` runs can take is a full
bucket, then the rate: ``ideal_seconds``. teamexec's total wall time is
printed against it, with how often the bucket turned an agent away and how
many tasks ended failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "agents" / "ratelimited.py"
sys.path.insert(0, str(HERE / "agents"))

from ratelimited import ideal_seconds  # noqa: E402


@dataclass(frozen=True)
class Limit:
    tasks: int = 40
    rate: float = 2.0  # tokens a second
    capacity: int = 4
    work_s: float = 1.0

    def ideal(self) -> float:
        return ideal_seconds(
            tasks=self.tasks, rate=self.rate, capacity=self.capacity, work_s=self.work_s
        )


def write_session(root: Path, limit: Limit, *, workers: int, worker: str = "sh") -> Path:
    """``limit.tasks`` independent tasks of one Claude-kind role against one bucket."""
    if root.exists():
        shutil.rmtree(root)
    (root / "role-specs").mkdir(parents=True)
    env = {
        "RATELIMIT_BUCKET": str(root / "bucket.json"),
        "RATELIMIT_RATE": str(limit.rate),
        "RATELIMIT_CAPACITY": str(limit.capacity),
        "RATELIMIT_WORK_S": str(limit.work_s),
    }
    front = [
        "role: agent",
        "prefix: T",
        "inner_loop: false",
        f"agent: {json.dumps([sys.executable, str(STANDIN)])}",
        "agent_kind: claude",
        f"env: {json.dumps(env)}",
        "message_types:",
        "  success: done",
        "  error: error",
    ]
    text = "---\n" + "\n".join(front) + "\n---\n# agent\n## Phase 2\n## Phase 3\n## Phase 4\n"
    (root / "role-specs" / "agent.md").write_text(text)
    roles = [{"name": "agent", "prefix": "T"}]
    session = {
        "session_id": f"RATELIMIT-{root.name}",
        "task_description": "rate-limited benchmark",
        "status": "active",
        "team_name": "bench",
        "roles": roles,
        "completion_action": "auto_keep",
        # the stand-in reads no Claude task list: no mirror in ~/.claude, none read back
        "executor": {"max_workers": workers, "worker": worker, "claude_task_list": False},
    }
    graph = {f"T-{i:03d}": [] for i in range(limit.tasks)}
    analysis = {"capabilities": roles, "dependency_graph": graph, "roles": roles}
    (root / "team-session.json").write_text(json.dumps(session))
    (root / "task-analysis.json").write_text(json.dumps(analysis))
    return root


def turned_away(session: Path) -> int:
    """Agent runs the bucket refused (a rejected rate_limit_event in the attempt's log)."""
    count = 0
    for log in (session / "logs").glob("*.log"):
        count += log.read_text(errors="replace").count('"status": "rejected"')
    return count


def ratelimit_table(teamexec: str, limits: list[Limit], workers: int, out: Path) -> None:
    print()
    print(f"rate-limited agent (stand-in token bucket), {workers} workers: total time / ideal")
    print()
    head = ["tasks", "bucket: rate/s, capacity", "work s", "ideal s", "teamexec s"]
    head += ["teamexec / ideal", "429 answers", "completed", "failed", "exit"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for limit in limits:
        name = f"ratelimit-{limit.tasks}-r{limit.rate:g}-c{limit.capacity}"
        session = write_session(out / name, limit, workers=workers)
        command = [teamexec, "run", str(session), "--max-workers", str(workers)]
        command += ["--completion", "keep", "--json"]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=out, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        counts: dict[str, int] = {}
        report = session / "report.json"
        if report.exists():
            counts = json.loads(report.read_text()).get("counts", {})
        cells = [str(limit.tasks), f"{limit.rate:g}, {limit.capacity}", f"{limit.work_s:g}"]
        cells += [f"{limit.ideal():.1f}", f"{elapsed:.1f}", f"{elapsed / limit.ideal():.2f}"]
        cells += [str(turned_away(session)), str(counts.get("completed", "?"))]
        cells += [str(counts.get("failed", "?")), str(result.returncode)]
        print("| " + " | ".join(cells) + " |", flush=True)
