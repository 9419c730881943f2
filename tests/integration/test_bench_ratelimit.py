"""bench/ratelimit.py still runs (smallest size, once): everything completes, no 429 counted.

No timing is asserted: the benchmark prints its ratio to the limit's ideal.
"""

from __future__ import annotations

import subprocess
import sys

from sessionkit import REPO


def test_rate_limit_bench_smoke():
    result = subprocess.run(
        [
            sys.executable,
            "bench/ratelimit.py",
            "--tasks",
            "6",
            "--workers",
            "3",
            "--capacity",
            "2",
            "--rate",
            "4",
            "--work",
            "0.05",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| completed 6 | failed 0 |" in result.stdout
    assert "| retries counted 0 |" in result.stdout
