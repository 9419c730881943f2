"""The lean shell worker's report: stamped with the time it was written (PROTOCOL §6)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from teamexec.core.model import parse_iso
from teamexec.executor.spawn import LEAN_WORKER

pytestmark = pytest.mark.skipif(not Path("/proc/uptime").exists(), reason="needs /proc/uptime")


def report_ts(tmp_path: Path, pretend_now: float) -> tuple[str, float]:
    """Run the worker with a boot instant chosen so that its clock read ``pretend_now``
    when it started; its report's ts and how long it ran (at most)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "tmp").mkdir()
    boot = pretend_now - time.clock_gettime(time.CLOCK_BOOTTIME)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "TEAMEXEC_BOOT_EPOCH_CS": str(round(boot * 100)),
        "TEAMEXEC_STARTED_TS": "2000-01-01T00:00:00.000Z",
        "TEAMEXEC_CWD": str(tmp_path),
        "TEAMEXEC_PROMPT_FILE": os.devnull,
        "TEAMEXEC_WORKER_ID": "t.T-001.a1.abc",
        "TEAMEXEC_TASK_ID": "T-001",
        "TEAMEXEC_ROLE": "t",
        "TEAMEXEC_ATTEMPT": "1",
        "TEAMEXEC_INBOX": str(inbox),
    }
    subprocess.run(["/bin/sh", str(LEAN_WORKER), "true"], env=env, check=True)
    ran = time.clock_gettime(time.CLOCK_BOOTTIME) - (pretend_now - boot)
    (report,) = inbox.glob("*.json")
    return str(json.loads(report.read_text())["ts"]), ran


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-26T13:20:00.500Z",
        "2028-02-29T23:59:58.000Z",  # a leap day, a minute before midnight
        "2026-12-31T23:59:58.990Z",  # the year's end
        "2100-03-01T00:00:00.000Z",  # 2100 is no leap year
        "2000-02-29T12:00:00.000Z",  # 2000 is one
    ],
)
def test_the_report_carries_the_clock_not_the_start(tmp_path, moment):
    target = parse_iso(moment)
    assert target is not None
    ts, ran = report_ts(tmp_path, target)
    got = parse_iso(ts)
    assert got is not None, ts
    assert len(ts) == len(moment) and ts.endswith("0Z")  # the executor's ISO form
    # centiseconds: the boot instant is rounded, /proc/uptime truncated
    assert -0.02 <= got - target <= ran + 0.02, (ts, moment, ran)
