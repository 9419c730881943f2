"""core/timestamps.iso: the one timestamp text of every state file and message."""

from __future__ import annotations

import datetime
import random

import pytest

from teamexec.core.timestamps import iso, parse_iso


def by_strftime(ts: float) -> str:
    """The text iso() always wrote (strftime), which every file written so far holds."""
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


EDGES = [0.0, 0.0005, 0.9995, 1.9999996, 1.9994999, 1_700_000_000.123456, 4_102_444_799.9999]


@pytest.mark.parametrize("ts", EDGES)
def test_iso_is_the_text_strftime_wrote(ts):
    assert iso(ts) == by_strftime(ts)


def test_iso_agrees_with_strftime_over_many_times_and_reads_back():
    rng = random.Random(15)
    for _ in range(20_000):
        ts = rng.uniform(0, 4_000_000_000)
        assert iso(ts) == by_strftime(ts)
    assert parse_iso(iso(1_700_000_000.123456)) == 1_700_000_000.123
