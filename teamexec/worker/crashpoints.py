"""Test-only crash points: SIGKILL this process at a named instant (issue 11).

``TEAMEXEC_CRASH_AT=<point>[:<n>]`` makes the n-th pass (default the first)
through ``crash_point("<point>")`` kill the process with SIGKILL — no
``finally``, no atexit, exactly what a power cut or the OOM killer does.
Tests set it for one executor run and then check that ``resume`` finishes
every task exactly once, in seconds.  Unset, ``crash_point`` is one
comparison with None.

The points, in the order a task meets them (executor unless marked):

- ``claim``       the task file says in_progress, claimed; nothing committed yet
- ``commit``      the journal's lines are written, not yet fdatasynced (any commit)
- ``committed``   the journal's lines are fdatasynced; what depends on them not done
- ``record``      the pass's claims are committed; no process started yet
- ``spawn``       the worker runs; its pid is not recorded
- ``callback``    a message was read from the inbox; nothing applied yet
- ``completion``  the task files hold the message's effect; not logged yet
- ``message``     the message is in messages.jsonl; its effect is not committed and
                  its inbox file is not removed
- ``counters``    team-session.json was rewritten (counters, pids, status)
- ``action``      report.json is written; the completion action has not run
- ``worker-report`` (worker) its report is in the inbox; it has not exited.
  In the agent supervisor (worker/supervisor.py): an exit is reported (on its
  socket, or in the inbox when orphaned) and no agent of it runs; it has not
  exited — the next plain agent needs a new supervisor
- ``supervisor-report`` (supervisor) an agent has ended and been reaped; its
  exit is not reported yet.  A restarted supervisor does not inherit the
  point: the run's first one dies, the attempt fails as a crash and is retried
- ``supervisor-start`` (supervisor) a start was received; no agent started, no
  answer sent.  The executor sends the start to a new supervisor (which does not
  inherit the point): the same attempt, started once

Standard library only: the worker imports it too.  It lives in worker/ (the
lower layer) so that both the worker and the executor may import it.
"""

from __future__ import annotations

import os
import signal

ENV = "TEAMEXEC_CRASH_AT"
POINTS = (
    "claim",
    "commit",
    "committed",
    "record",
    "spawn",
    "callback",
    "completion",
    "message",
    "counters",
    "action",
    "worker-report",
    "supervisor-report",
    "supervisor-start",
)


def _parse(value: str | None) -> tuple[str | None, int]:
    if not value:
        return None, 0
    name, _, count = value.partition(":")
    try:
        return name, max(1, int(count)) if count else 1
    except ValueError:
        return name, 1


_POINT, _AT = _parse(os.environ.get(ENV))
_passes = 0


def crash_point(name: str) -> None:
    """SIGKILL this process if ``TEAMEXEC_CRASH_AT`` names ``name`` and its pass has come."""
    if _POINT is None or name != _POINT:
        return
    global _passes
    _passes += 1
    if _passes >= _AT:
        os.kill(os.getpid(), signal.SIGKILL)
