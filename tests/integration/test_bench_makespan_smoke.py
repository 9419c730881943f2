"""bench/makespan.py still runs: the smallest chain measured, every shape simulated.

No timing is asserted: the machine is shared, and the benchmark's figures
belong in bench/README.md, not in a test. Snakemake is skipped (it would be
installed on first use).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from sessionkit import REPO

BENCH = [sys.executable, "bench/makespan.py", "--small", "--no-snakemake"]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_makespan_bench_smoke():
    measured = subprocess.run(
        [*BENCH, "--graphs", "chain", "--lb", "0.2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert measured.returncode == 0, measured.stderr
    assert measured.stdout.count("| hidden chain | 11 |") == 1, measured.stdout
    simulated = subprocess.run(
        [*BENCH, "--simulate-only"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert simulated.returncode == 0, simulated.stderr
    for graph in ("layered 1:3:9", "hidden chain", "random lognormal"):
        assert f"| {graph} |" in simulated.stdout, simulated.stdout
