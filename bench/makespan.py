"""How long a team's whole pipeline takes: makespan against the lower bound.

    python bench/makespan.py [--graphs layered chain random] [--lb 20] [--workers 4]

Agent tasks take minutes, so what matters is when the last one ends. Each
graph (bench/hetero.py) has tasks of different roles and durations; every
task's agent sleeps its duration, scaled so the graph's lower bound
max(critical path, total work / workers) is ``--lb`` seconds. The same
graph is run by

- teamexec, critical_path, **first run**: no durations known (1 s a role
  until the role's first task completes in this run);
- teamexec, critical_path, **known**: a fresh session seeded with the first
  run's report.json — the protocol's "earlier runs' report.json", so every
  role's duration is known from the start;
- teamexec, fifo (task-id order);
- ``make -jN`` and ``snakemake -jN`` (sleeps in recipes / shell rules).

and two times are printed for each, divided by the lower bound: the
**makespan** — the agents' span, first agent start to last agent end, from
stamp files every task's shell writes around its sleep, so it is measured the
same way for all runners — and the **wall** time of the whole command,
start-up and shut-down included. Then the ratios between the runners'
makespans, all from this one run.
A second table shows what teamexec's own planner would do with no overhead
at all (simulated), over 20 seeds of the random shapes, so a measured figure
can be told from the luck of one graph. ``--rate-limited`` adds the
rate-limit table (bench/agents/ratelimited.py): total time against the
bucket's ideal.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hetero import (  # noqa: E402
    GRAPHS,
    SMALL,
    Case,
    agent_span,
    layered,
    random_lognormal,
    simulate,
    write_makefile,
    write_session,
    write_snakefile,
)
from ratelimited_run import Limit, ratelimit_table  # noqa: E402
from run import snakemake_bin, teamexec_bin  # noqa: E402

OUT = HERE / "out" / "makespan"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}: {result.stderr.decode()[-2000:]}")
    return elapsed


# A diagnostic, not an option of teamexec: the same CLI with os.fsync made a no-op,
# to show how much of the measured overhead is durability on this disk.
NO_FSYNC = "import os, sys; os.fsync = lambda fd: None; from teamexec.cli.entry import main; main()"


def run_teamexec(session: Path, workers: int, *, fsync: bool = True) -> float:
    program = [teamexec_bin()] if fsync else [sys.executable, "-c", NO_FSYNC]
    command = [*program, "run", str(session), "--max-workers", str(workers)]
    return timed([*command, "--completion", "keep", "--json"], session.parent)


Times = dict[str, tuple[float, float]]  # runner -> (makespan, wall) in seconds


def measure(case: Case, workers: int, snake: Path | None, *, no_fsync: bool = False) -> Times:
    """Makespan and wall seconds of each runner on ``case`` (scaled already), in one go."""
    base = OUT / case.name.split()[0]
    times: Times = {}
    first = write_session(base / "first", case, schedule="critical_path", workers=workers)
    wall = run_teamexec(first, workers)
    times["first"] = agent_span(first), wall
    known = write_session(base / "known", case, schedule="critical_path", workers=workers)
    shutil.copy(first / "report.json", known / "report.json")  # the earlier run's report
    wall = run_teamexec(known, workers)
    times["known"] = agent_span(known), wall
    if no_fsync:
        again = write_session(base / "nofsync", case, schedule="critical_path", workers=workers)
        shutil.copy(first / "report.json", again / "report.json")
        wall = run_teamexec(again, workers, fsync=False)
        times["nofsync"] = agent_span(again), wall
    fifo = write_session(base / "fifo", case, schedule="fifo", workers=workers)
    wall = run_teamexec(fifo, workers)
    times["fifo"] = agent_span(fifo), wall
    write_makefile(base / "make", case)
    wall = timed(["make", f"-j{workers}", "-s"], base / "make")
    times["make"] = agent_span(base / "make"), wall
    if snake is not None:
        write_snakefile(base / "snake", case)
        for stale in ("out", ".snakemake"):
            shutil.rmtree(base / "snake" / stale, ignore_errors=True)
        command = [str(snake), f"-j{workers}", "--quiet", "all", "--snakefile", "Snakefile"]
        wall = timed(command, base / "snake")
        times["snakemake"] = agent_span(base / "snake"), wall
    return times


def cell(pair: tuple[float, float] | None, bound: float) -> str:
    """makespan/bound, wall/bound."""
    return "-" if pair is None else f"{pair[0] / bound:.3f}, {pair[1] / bound:.3f}"


def ratio(a: tuple[float, float] | None, b: tuple[float, float]) -> str:
    return "-" if a is None else f"{a[0] / b[0]:.2f}"


def makespan_table(
    cases: list[Case], workers: int, snake: Path | None, *, no_fsync: bool = False
) -> None:
    print(f"makespan / lower bound, wall / lower bound; {workers} workers, one run each")
    print()
    head = ["graph", "tasks", "bound s (CP / work÷N)", "teamexec known", "teamexec 1st run"]
    head += ["teamexec fifo", f"make -j{workers}", f"snakemake -j{workers}"]
    head += ["makespan fifo/known", "make/known", "snakemake/known"]
    if no_fsync:
        head += ["diagnostic: known, fsync off"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for case in cases:
        bound = case.lower_bound(workers)
        times = measure(case, workers, snake, no_fsync=no_fsync)
        cp, work = case.critical_path(), sum(case.seconds.values()) / workers
        known = times["known"]
        cells = [case.name, str(len(case.deps)), f"{bound:.1f} ({cp:.1f} / {work:.1f})"]
        cells += [cell(times.get(k), bound) for k in ("known", "first", "fifo", "make")]
        cells += [cell(times.get("snakemake"), bound)]
        cells += [ratio(times.get(k), known) for k in ("fifo", "make", "snakemake")]
        if no_fsync:
            cells += [cell(times.get("nofsync"), bound)]
        print("| " + " | ".join(cells) + " |", flush=True)


def simulated_table(cases: list[Case], workers: int, seeds: int) -> None:
    print()
    print(f"simulated: teamexec's planner with no overhead, {workers} workers (makespan / bound)")
    print()
    head = ["graph", "critical_path known", "critical_path 1st run", "fifo"]
    head += ["other seeds 1-N: known median / max, fifo median / max"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|")
    shapes: dict[str, Callable[[int], Case]] = {
        "layered": lambda s: layered(seed=s),
        "random": lambda s: random_lognormal(seed=s),
    }
    for case in cases:
        bound = case.lower_bound(workers)
        runs = [
            simulate(case, workers=workers, schedule=s, known=k) / bound
            for s, k in (("critical_path", True), ("critical_path", False), ("fifo", True))
        ]
        spread = "-"
        shape = shapes.get(case.name.split()[0])
        if shape is not None and seeds:
            known, fifo = [], []
            for seed in range(1, seeds + 1):
                other = shape(seed)
                b = other.lower_bound(workers)
                known.append(
                    simulate(other, workers=workers, schedule="critical_path", known=True) / b
                )
                fifo.append(simulate(other, workers=workers, schedule="fifo", known=True) / b)
            spread = (
                f"{statistics.median(known):.3f} / {max(known):.3f}, "
                f"{statistics.median(fifo):.3f} / {max(fifo):.3f} (N={seeds})"
            )
        print(f"| {case.name} | " + " | ".join(f"{r:.3f}" for r in runs) + f" | {spread} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--graphs", nargs="*", default=list(GRAPHS), choices=list(GRAPHS), help="none: no makespan"
    )
    parser.add_argument("--lb", type=float, default=25.0, help="lower bound to scale to, seconds")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--small", action="store_true", help="small graphs (the smoke test)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds for the simulated spread")
    parser.add_argument("--no-snakemake", action="store_true")
    parser.add_argument(
        "--no-fsync-diagnostic",
        action="store_true",
        help="also run teamexec (known) with os.fsync patched out, to size durability's share",
    )
    parser.add_argument(
        "--rate-limited", action="store_true", help="add the rate-limited agent's table"
    )
    parser.add_argument(
        "--simulate-only", action="store_true", help="only the simulated table (no processes)"
    )
    args = parser.parse_args()
    skip_snake = args.no_snakemake or args.simulate_only or not args.graphs
    snake = None if skip_snake else snakemake_bin()
    cases = []
    for name in args.graphs:
        case = (SMALL if args.small else GRAPHS)[name]()
        cases.append(case.scaled(args.lb / case.lower_bound(args.workers)))
    print(json.dumps({"lb_s": args.lb, "workers": args.workers, "small": args.small}))
    if cases and not args.simulate_only:
        makespan_table(cases, args.workers, snake, no_fsync=args.no_fsync_diagnostic)
    if cases:
        simulated_table(cases, args.workers, 0 if args.small else args.seeds)
    if args.rate_limited and not args.simulate_only:
        limits = [Limit(tasks=12, work_s=0.5)] if args.small else [Limit(), Limit(rate=1.0)]
        OUT.mkdir(parents=True, exist_ok=True)
        ratelimit_table(teamexec_bin(), limits, args.workers, OUT)


if __name__ == "__main__":
    main()
