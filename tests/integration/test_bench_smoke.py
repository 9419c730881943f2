"""The benchmarks still run (smallest size, once). No timing is asserted."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from sessionkit import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_bench_runner_smoke():
    result = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--sizes",
            "16",
            "--repeat",
            "1",
            "--no-snakemake",
            "--worker",
            "sh",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| layered | 16 | 2 |" in result.stdout
