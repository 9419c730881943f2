"""The rate-limit gate (PROTOCOL §10): a limit is a condition of the agent kind, not the task.

When an attempt of a ``claude``, ``codex`` or ``gemini`` agent ends in a rate
limit (HTTP 429/529, "overloaded", a ``rate_limit_event`` rejected, a
usage-limit message with a reset time), no new worker of that kind starts
until the reset the agent named, else a back-off that doubles from 30 s up to
15 min, with jitter.  Workers already running go on.  After the reset one
worker — the probe — starts alone; the caps apply again once an attempt of
the kind ends without a limit, or the probe reports progress, or has run for
``PROBE_CLEAR_S`` without being turned away.  Spawns never resume all at once.

Pure: the engine holds a ``Gates`` mapping and asks ``allowance`` before each
spawn; the state is written to team-session.json (``rate_limits``) so that
``check`` can say "rate-limited until HH:MM" and a resume keeps waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from teamexec.core.model import iso, parse_iso

BACKOFF_START_S = 30.0
BACKOFF_CAP_S = 900.0
PROBE_CLEAR_S = 60.0
PAST_RESET_FLOOR_S = 1.0


@dataclass(frozen=True)
class Gate:
    """One agent kind's limit: closed until ``until``, then one probe, then open."""

    until: float
    strikes: int = 1  # limits in a row without an attempt getting through
    probe: str | None = None  # worker id of the probe in flight
    probe_started: float | None = None
    reason: str = ""


Gates = Mapping[str, Gate]


def backoff_s(kind: str, strikes: int) -> float:
    """30 s doubling per strike, capped at 15 min, with a deterministic jitter in [1, 1.25)."""
    digest = hashlib.blake2b(f"{kind}:{strikes}".encode(), digest_size=2).digest()
    jitter = 1.0 + int.from_bytes(digest, "big") / 65536 / 4
    return min(BACKOFF_START_S * 2.0 ** max(0, strikes - 1) * jitter, BACKOFF_CAP_S)


def stale(
    gates: Gates, kind: str, *, now: float, resets_at: float | None, started_at: float | None
) -> bool:
    """A report about a window already waited out: it neither closes nor extends the gate.

    Workers started together are turned away together, and their reports can
    arrive after the reset they name (the reports queue behind each other):
    a reset already past, or one no later than the gate's, is old news; so is
    a report without a reset from an attempt that started before the gate's.
    """
    if resets_at is not None:
        previous = gates.get(kind)
        return resets_at <= now or (previous is not None and resets_at <= previous.until)
    previous = gates.get(kind)
    return (
        previous is not None
        and now >= previous.until
        and started_at is not None
        and started_at < previous.until
    )


def limited(
    gates: Gates, kind: str, *, now: float, resets_at: float | None, reason: str = ""
) -> dict[str, Gate]:
    """An attempt of ``kind`` was turned away: close (or keep closed) its gate.

    Workers that were running together all hit the same limit: a report that
    arrives while the gate is still closed is the same episode and adds no
    strike; one that arrives after the reset (the probe was turned away) does.
    The caller drops ``stale`` reports first.
    """
    out = dict(gates)
    previous = gates.get(kind)
    same_episode = previous is not None and now < previous.until
    strikes = (previous.strikes if same_episode else previous.strikes + 1) if previous else 1
    if resets_at is not None:
        # the agent named the reset: trust it; one already past (the report took longer than
        # the wait) means "now", with a second's floor so a stale clock cannot spin probes
        until = max(resets_at, now + PAST_RESET_FLOOR_S)
    elif same_episode and previous is not None:
        until = previous.until
    else:
        until = now + backoff_s(kind, strikes)
    if previous is not None and same_episode:
        until = max(until, previous.until)
    out[kind] = Gate(
        until=until, strikes=strikes, reason=reason or (previous.reason if previous else "")
    )
    return out


def got_through(gates: Gates, kind: str, *, now: float) -> dict[str, Gate]:
    """An attempt of ``kind`` ended without a limit: once past the reset, the gate opens."""
    out = dict(gates)
    gate = gates.get(kind)
    if gate is not None and now >= gate.until:
        del out[kind]
    return out


def allowance(gates: Gates, kind: str, *, now: float) -> int | None:
    """How many workers of ``kind`` may start now: None = no limit, 0 = none, 1 = the probe."""
    gate = gates.get(kind)
    if gate is None:
        return None
    if now < gate.until:
        return 0
    if gate.probe is not None and gate.probe_started is not None:
        if now - gate.probe_started >= PROBE_CLEAR_S:
            return None  # the probe has not been turned away: the caps apply again
        return 0
    return 1


def probe_started(gates: Gates, kind: str, worker_id: str, *, now: float) -> dict[str, Gate]:
    out = dict(gates)
    gate = gates.get(kind)
    if gate is not None and now >= gate.until and gate.probe is None:
        out[kind] = replace(gate, probe=worker_id, probe_started=now)
    return out


def probe_heard(gates: Gates, kind: str, worker_id: str, *, now: float) -> dict[str, Gate]:
    """The probe reported progress: it got through, the gate opens."""
    gate = gates.get(kind)
    if gate is not None and gate.probe == worker_id:
        return got_through(gates, kind, now=now)
    return dict(gates)


def wake_at(gates: Gates, *, now: float) -> float | None:
    """When the executor must look again: a reset, or a probe's clearing time."""
    times: list[float] = []
    for gate in gates.values():
        if gate.until > now:
            times.append(gate.until)
        elif gate.probe_started is not None:
            times.append(gate.probe_started + PROBE_CLEAR_S)
    return min(times, default=None)


def clock(ts: float) -> str:
    """``HH:MM`` (UTC) for messages; seconds too when the reset is under a minute away."""
    return iso(ts)[11:16]


def to_json(gates: Gates) -> dict[str, Any]:
    """team-session.json's ``rate_limits``: per kind, until (ISO), strikes, reason."""
    return {
        kind: {"until": iso(g.until), "strikes": g.strikes, "reason": g.reason}
        for kind, g in sorted(gates.items())
    }


def from_json(value: Any, *, now: float) -> dict[str, Gate]:
    """The gates a previous run left, those still closed (a resume keeps waiting)."""
    out: dict[str, Gate] = {}
    if not isinstance(value, dict):
        return out
    for kind, entry in value.items():
        if not isinstance(entry, dict):
            continue
        until = parse_iso(entry.get("until"))
        strikes = entry.get("strikes")
        if until is None or until <= now:
            continue
        out[str(kind)] = Gate(
            until=until,
            strikes=strikes if isinstance(strikes, int) and strikes > 0 else 1,
            reason=str(entry.get("reason") or ""),
        )
    return out


def describe(gates: Gates, *, now: float, kinds: Iterable[str] | None = None) -> list[str]:
    """ "claude rate-limited until 14:05 (429)" for each closed gate."""
    lines = []
    for kind, gate in sorted(gates.items()):
        if kinds is not None and kind not in kinds:
            continue
        if gate.until > now:
            why = f" ({gate.reason})" if gate.reason else ""
            lines.append(f"{kind} rate-limited until {clock(gate.until)} UTC{why}")
        elif gate.probe is not None:
            lines.append(f"{kind} rate limit reset: one probe worker running, then the caps")
    return lines
