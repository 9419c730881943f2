"""Start-up of ``teamexec msg``, which agents run for every message they send.

    python bench/msg_startup.py --runs 50

Times the installed ``teamexec msg progress ...`` (the console script, as an
agent calls it) writing into a scratch inbox, against ``python -c pass`` (the
interpreter's own floor) and ``teamexec --help`` (the full typer CLI), and
prints a markdown table of medians and p90s.  The target is a median under
100 ms; ``teamexec msg`` is parsed with argparse in cli/entry.py and never
imports typer, rich or the executor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import teamexec_bin  # compiles the bytecode first, as an install would


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    exe = teamexec_bin()
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / ".msg" / "inbox"
        env = dict(
            os.environ,
            TEAMEXEC_INBOX=str(inbox),
            TEAMEXEC_ROLE="writer",
            TEAMEXEC_TASK_ID="DRAFT-001",
            TEAMEXEC_WORKER_ID="writer.DRAFT-001.a1.bench",
            TEAMEXEC_ATTEMPT="1",
        )
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "teamexec msg progress": [exe, "msg", "progress", "--summary", "halfway"],
            "teamexec --help (typer)": [exe, "--help"],
        }
        for argv in cases.values():  # warm the page cache and the bytecode
            timed(argv, env, 2)
        print("| command | runs | median ms | p90 ms |")
        print("|---|---|---|---|")
        for name, argv in cases.items():
            samples = sorted(timed(argv, env, args.runs))
            p90 = samples[min(len(samples) - 1, int(0.9 * len(samples)))]
            print(f"| `{name}` | {args.runs} | {statistics.median(samples):.1f} | {p90:.1f} |")
        written = len(list(inbox.glob("*.json")))
        print(f"\n{written} messages written into the scratch inbox.")


if __name__ == "__main__":
    main()
