"""Heterogeneous DAGs for the makespan benchmark: tasks with roles and durations.

Each graph is a ``Case``: task id -> dependencies, role and seconds of work.
Three shapes (bench/README.md says why each):

- ``layered``: layers of tasks, each on one or two random tasks of the layer
  before, roles drawn at random with durations in the ratio 1:3:9;
- ``chain``: a chain of long steps whose ids come after many short,
  independent checks (id order starts the chain last);
- ``random``: a random DAG whose roles have lognormal mean durations, each
  task a lognormal jitter around its role's mean.

Written three ways with the same work: a teamexec session (the agent sleeps
the task's seconds, read from ``durations/<id>``), a Makefile and a Snakefile.
Each task's work also creates ``stamps/<id>.start`` before its sleep and
``stamps/<id>.end`` after it (shell redirections, no extra process), so the
agents' span — first start to last end — is measured the same way for every
runner, apart from each tool's own start-up and shut-down (``agent_span``).
``simulate`` replays a schedule with teamexec's own planner and no overhead.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from teamexec.core.model import RoleSpec, Task, iso
from teamexec.core.priority import CriticalPath
from teamexec.core.schedule import Running, plan_spawns
from teamexec.core.tasktable import TaskTable


@dataclass(frozen=True)
class Case:
    name: str
    deps: dict[str, list[str]]
    role: dict[str, str]
    seconds: dict[str, float]

    def scaled(self, factor: float) -> Case:
        seconds = {t: round(s * factor, 3) for t, s in self.seconds.items()}
        return Case(self.name, self.deps, self.role, seconds)

    def critical_path(self) -> float:
        longest: dict[str, float] = {}
        for tid in self.deps:  # ids are generated in dependency order
            before = max((longest[d] for d in self.deps[tid]), default=0.0)
            longest[tid] = before + self.seconds[tid]
        return max(longest.values())

    def lower_bound(self, workers: int) -> float:
        return max(self.critical_path(), sum(self.seconds.values()) / workers)


def tid(i: int) -> str:
    return f"T-{i:03d}"


def layered(layers: int = 5, width: int = 8, seed: int = 1) -> Case:
    rng = random.Random(seed)
    unit = {"review": 1.0, "design": 3.0, "build": 9.0}
    deps, role, seconds = {}, {}, {}
    for layer in range(layers):
        for i in range(width):
            task = tid(layer * width + i)
            before = [tid((layer - 1) * width + j) for j in range(width)] if layer else []
            deps[task] = sorted(rng.sample(before, rng.randint(1, 2))) if before else []
            role[task] = rng.choice(sorted(unit))
            seconds[task] = unit[role[task]]
    return Case("layered 1:3:9", deps, role, seconds)


def hidden_chain(short: int = 60, links: int = 8) -> Case:
    deps, role, seconds = {}, {}, {}
    for i in range(short):
        deps[tid(i)], role[tid(i)], seconds[tid(i)] = [], "check", 1.0
    for k in range(links):
        task = tid(short + k)
        deps[task] = [tid(short + k - 1)] if k else []
        role[task], seconds[task] = "step", 3.0
    return Case("hidden chain", deps, role, seconds)


def random_lognormal(tasks: int = 60, roles: int = 5, seed: int = 14) -> Case:
    rng = random.Random(seed)
    names = [f"r{i}" for i in range(roles)]
    mean = {r: math.exp(rng.gauss(0.0, 1.0)) for r in names}  # role means: lognormal, sigma 1
    deps, role, seconds = {}, {}, {}
    for i in range(tasks):
        window = [tid(j) for j in range(max(0, i - 15), i)]
        deps[tid(i)] = sorted(rng.sample(window, rng.randint(0, min(3, len(window)))))
        role[tid(i)] = rng.choice(names)
        seconds[tid(i)] = mean[role[tid(i)]] * math.exp(rng.gauss(0.0, 0.3))  # task jitter
    return Case("random lognormal", deps, role, seconds)


GRAPHS = {"layered": layered, "chain": hidden_chain, "random": random_lognormal}
SMALL = {
    "layered": lambda: layered(2, 4),
    "chain": lambda: hidden_chain(8, 3),
    "random": lambda: random_lognormal(10, 3),
}


# ---------------------------------------------------------------- writers


def write_session(
    root: Path, case: Case, *, schedule: str, workers: int, worker: str = "sh"
) -> Path:
    """A teamexec session whose agent sleeps each task's seconds (one role per case role)."""
    if root.exists():
        shutil.rmtree(root)
    durations = root / "durations"
    durations.mkdir(parents=True)
    (root / "stamps").mkdir()
    for task, seconds in case.seconds.items():
        (durations / task).write_text(f"{seconds}\n")
    work = (
        'read d < "$0/durations/$TEAMEXEC_TASK_ID"; : > "$0/stamps/$TEAMEXEC_TASK_ID.start"; '
        'sleep "$d"; : > "$0/stamps/$TEAMEXEC_TASK_ID.end"'
    )
    agent = ["sh", "-c", work, str(root.resolve())]
    (root / "role-specs").mkdir()
    roles = sorted(set(case.role.values()))
    for name in roles:
        front = [f"role: {name}", f"prefix: {name.upper()}", "inner_loop: false"]
        front += [
            f"agent: {json.dumps(agent)}",
            "message_types:",
            "  success: done",
            "  error: error",
        ]
        text = "---\n" + "\n".join(front) + "\n---\n# r\n## Phase 2\n## Phase 3\n## Phase 4\n"
        (root / "role-specs" / f"{name}.md").write_text(text)
    listed = [{"name": r, "prefix": r.upper()} for r in roles]
    session = {
        "session_id": f"MAKESPAN-{root.name}",
        "task_description": "makespan benchmark",
        "status": "active",
        "team_name": "bench",
        "roles": listed,
        "completion_action": "auto_keep",
        "executor": {"max_workers": workers, "worker": worker, "schedule": schedule},
    }
    graph = {t: {"depends_on": d, "role": case.role[t]} for t, d in case.deps.items()}
    analysis = {"capabilities": listed, "dependency_graph": graph, "roles": listed}
    (root / "team-session.json").write_text(json.dumps(session))
    (root / "task-analysis.json").write_text(json.dumps(analysis))
    return root


def work(task: str, seconds: float) -> str:
    """The shell command of one task for make and Snakemake (cwd: the runner's directory)."""
    return f": > stamps/{task}.start; sleep {seconds}; : > stamps/{task}.end"


def fresh_stamps(root: Path) -> None:
    shutil.rmtree(root / "stamps", ignore_errors=True)
    (root / "stamps").mkdir(parents=True)


def agent_span(root: Path) -> float:
    """First agent start to last agent end, from the stamp files' modification times."""
    stamps = list((root / "stamps").iterdir())
    starts = [p.stat().st_mtime for p in stamps if p.suffix == ".start"]
    ends = [p.stat().st_mtime for p in stamps if p.suffix == ".end"]
    return max(ends) - min(starts)


def write_makefile(root: Path, case: Case) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    fresh_stamps(root)
    lines = [".PHONY: all " + " ".join(case.deps), "all: " + " ".join(case.deps)]
    for task, deps in case.deps.items():
        lines += [f"{task}: {' '.join(deps)}", f"\t@{work(task, case.seconds[task])}"]
    path = root / "Makefile"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_snakefile(root: Path, case: Case) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    fresh_stamps(root)
    rules = ["rule all:", f"    input: {json.dumps([f'out/{t}' for t in case.deps])}", ""]
    for task, deps in case.deps.items():
        rules.append(f"rule r_{task.replace('-', '_')}:")
        if deps:
            rules.append(f"    input: {json.dumps([f'out/{d}' for d in deps])}")
        rules += [
            f"    output: 'out/{task}'",
            f"    shell: '{work(task, case.seconds[task])}; touch {{output}}'",
            "",
        ]
    path = root / "Snakefile"
    path.write_text("\n".join(rules))
    return path


# ---------------------------------------------------------------- simulation


def simulate(case: Case, *, workers: int, schedule: str, known: bool) -> float:
    """The makespan teamexec's planner gives with no overhead at all.

    ``known``: every role's mean is known from the start (an earlier report);
    else roles weigh 1 s until their first task completes, as in a first run.
    """
    t0 = 1_800_000_000.0
    roles = set(case.role.values())
    specs = {
        r: RoleSpec(
            role=r,
            prefix=r.upper(),
            inner_loop=False,
            success_type="done",
            error_type="error",
            body="",
            path=f"{r}.md",
        )
        for r in roles
    }
    tasks = TaskTable(
        {
            t: Task({"id": t, "status": "pending", "owner": case.role[t], "blockedBy": d})
            for t, d in case.deps.items()
        }
    )
    history: dict[str, float] = {}
    if known:
        for r in roles:
            mine = [s for t, s in case.seconds.items() if case.role[t] == r]
            history[r] = sum(mine) / len(mine)
    memo = CriticalPath(history) if schedule == "critical_path" else None
    now, running = 0.0, []
    while True:
        busy = [Running(t, case.role[t], t) for _end, t in running]
        ranks = memo.ranks(tasks) if memo is not None else None
        plan = plan_spawns(
            tasks=tasks,
            specs=specs,
            running=busy,
            max_workers=workers,
            now=t0 + now,
            runnable_roles=roles,
            ranks=ranks,
        )
        for spawn in plan:
            start = {"started_at": iso(t0 + now)}
            tasks[spawn.task_id] = tasks[spawn.task_id].evolve(status="in_progress", metadata=start)
            heapq.heappush(running, (now + case.seconds[spawn.task_id], spawn.task_id))
        if not running:
            return now
        now, task = heapq.heappop(running)
        finished = [task]
        while running and running[0][0] <= now:
            finished.append(heapq.heappop(running)[1])
        for task in finished:
            end = {"completed_at": iso(t0 + now)}
            tasks[task] = tasks[task].evolve(status="completed", metadata=end)
