"""The rate-limit gate: closed until the reset, then one probe, then the caps; no sleeping."""

from __future__ import annotations

import itertools

import pytest

from teamexec.core import ratelimit as rl


def test_closed_until_the_named_reset_then_one_probe_then_open():
    gates = rl.limited({}, "claude", now=100.0, resets_at=160.0, reason="429")
    assert rl.allowance(gates, "claude", now=159.9) == 0
    assert rl.allowance(gates, "codex", now=100.0) is None  # other kinds go on
    assert rl.wake_at(gates, now=100.0) == 160.0
    assert rl.allowance(gates, "claude", now=160.0) == 1
    gates = rl.probe_started(gates, "claude", "w1", now=160.0)
    assert rl.allowance(gates, "claude", now=161.0) == 0  # the probe runs alone
    gates = rl.got_through(gates, "claude", now=162.0)
    assert rl.allowance(gates, "claude", now=162.0) is None


def test_backoff_doubles_from_30_s_capped_at_15_min():
    delays = [rl.backoff_s("claude", n) for n in range(1, 10)]
    assert 30.0 <= delays[0] < 37.5
    assert 60.0 <= delays[1] < 75.0
    assert delays[-1] == rl.BACKOFF_CAP_S
    assert all(a <= b for a, b in itertools.pairwise(delays))


def test_workers_hit_together_are_one_strike_a_turned_away_probe_another():
    gates = rl.limited({}, "codex", now=0.0, resets_at=None)
    for _ in range(7):
        gates = rl.limited(gates, "codex", now=1.0, resets_at=None)
    assert gates["codex"].strikes == 1
    until = gates["codex"].until
    gates = rl.probe_started(gates, "codex", "p", now=until)
    gates = rl.limited(gates, "codex", now=until + 0.5, resets_at=None)
    assert gates["codex"].strikes == 2
    assert gates["codex"].until - (until + 0.5) >= 60.0
    assert gates["codex"].probe is None


def test_success_before_the_reset_keeps_the_gate():
    gates = rl.limited({}, "claude", now=0.0, resets_at=50.0)
    assert rl.got_through(gates, "claude", now=10.0) == gates


def test_a_silent_probe_clears_after_a_while_and_progress_clears_it_at_once():
    gates = rl.limited({}, "gemini", now=0.0, resets_at=10.0)
    gates = rl.probe_started(gates, "gemini", "p", now=10.0)
    assert rl.wake_at(gates, now=11.0) == 10.0 + rl.PROBE_CLEAR_S
    assert rl.allowance(gates, "gemini", now=10.0 + rl.PROBE_CLEAR_S) is None
    assert rl.probe_heard(gates, "gemini", "p", now=11.0) == {}
    assert rl.probe_heard(gates, "gemini", "other", now=11.0) == gates


@pytest.mark.parametrize("now", [pytest.param(0.0, id="closed"), pytest.param(99.0, id="past")])
def test_json_round_trip_keeps_closed_gates_only(now):
    gates = rl.limited({}, "claude", now=0.0, resets_at=60.0, reason="429")
    back = rl.from_json(rl.to_json(gates), now=now)
    if now < 60.0:
        assert back["claude"].until == pytest.approx(60.0, abs=0.001)
        assert back["claude"].reason == "429"
        assert rl.describe(back, now=now) == ["claude rate-limited until 00:01 UTC (429)"]
    else:
        assert back == {}


def test_a_reset_already_past_opens_within_a_second_not_after_a_back_off():
    gates = rl.limited({}, "claude", now=100.0, resets_at=99.0)
    assert gates["claude"].until == 100.0 + rl.PAST_RESET_FLOOR_S


def test_late_reports_of_the_same_wave_are_stale():
    gates = rl.limited({}, "claude", now=100.0, resets_at=102.0)
    # a sibling turned away at the same time reports after the reset: old news
    assert rl.stale(gates, "claude", now=102.5, resets_at=102.0, started_at=99.0)
    assert rl.stale({}, "claude", now=102.5, resets_at=102.0, started_at=99.0)
    # a later reset is news
    assert not rl.stale(gates, "claude", now=102.5, resets_at=105.0, started_at=102.1)
    # no reset named: stale only for an attempt started before the gate's reset
    codex = rl.limited({}, "codex", now=100.0, resets_at=None)
    until = codex["codex"].until
    assert rl.stale(codex, "codex", now=until + 1, resets_at=None, started_at=99.0)
    assert not rl.stale(codex, "codex", now=until + 1, resets_at=None, started_at=until)
