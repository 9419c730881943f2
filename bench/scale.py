"""Scale: `check` and reconcile time and peak RSS at 1k/10k/50k tasks; idle CPU.

    python bench/scale.py --sizes 1000 10000 50000 --idle 60

For each size it writes a layered DAG session and times, in fresh processes,
``teamexec check`` (validate + status, nothing written) and ``teamexec run
--dry-run`` (validate + reconcile + first spawns, nothing written), with the
peak RSS of each.  Then it starts a session whose only task sleeps for
``--idle`` seconds and reports the executor's CPU time over that wait.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dags import layered, write_session  # noqa: E402
from run import teamexec_bin  # noqa: E402

PEAK_RSS = (
    "import resource, subprocess, sys, time;"
    "t = time.perf_counter();"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True);"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    "print(time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime)"
)


def timed(command: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user+sys: the figure a busy
    machine does not inflate) of ``command``, measured in a fresh wrapper."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command], capture_output=True, text=True, check=True
    )
    seconds, rss, cpu = out.stdout.split()
    return float(seconds), int(rss), float(cpu)


def scale(sizes: list[int]) -> None:
    print(
        "| tasks | check s | check CPU s | check peak RSS MiB "
        "| reconcile (dry run) s | reconcile CPU s | reconcile peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        width = 100
        session = write_session(
            HERE / "out" / f"scale-{n}", layered(n // width, width), agent=["true"]
        )
        check = min(timed([teamexec_bin(), "check", str(session), "--json"]) for _ in range(3))
        dry = min(
            timed([teamexec_bin(), "run", str(session), "--dry-run", "--json"]) for _ in range(3)
        )
        print(
            f"| {n} | {check[0]:.3f} | {check[2]:.3f} | {check[1] / 1024:.0f} | "
            f"{dry[0]:.3f} | {dry[2]:.3f} | {dry[1] / 1024:.0f} |",
            flush=True,
        )


def idle_cpu(seconds: float) -> None:
    session = write_session(HERE / "out" / "idle", {"T-000001": []}, agent=["sleep", str(seconds)])
    proc = subprocess.Popen(
        [teamexec_bin(), "run", str(session), "--completion", "keep", "--json"],
        stdout=subprocess.DEVNULL,
    )
    executor = psutil.Process(proc.pid)
    time.sleep(2)  # let start-up (imports, reconcile, spawn) finish before measuring
    before = executor.cpu_times()
    time.sleep(seconds - 4)
    after = executor.cpu_times()
    proc.wait()
    used = (after.user + after.system) - (before.user + before.system)
    print(
        f"\nidle executor CPU over {seconds - 4:.0f} s with a worker running: {used * 1000:.0f} ms "
        f"({100 * used / (seconds - 4):.3f} % of one core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    scale(args.sizes)
    if args.idle > 4:
        idle_cpu(args.idle)


if __name__ == "__main__":
    main()
