"""The timestamp text of every state file and message: ISO 8601 UTC with milliseconds.

One implementation for the executor (re-exported by model.py) and the worker's
outbox.  Standard library only and tiny: the worker imports it at start-up.
"""

from __future__ import annotations

import datetime


def iso(ts: float) -> str:
    """Format epoch seconds as the ISO 8601 UTC form used in every state file.

    ``isoformat`` (milliseconds truncated, as ``microsecond // 1000``) is
    ``strftime``'s text without parsing a format: the executor calls this
    several times per task.  Before the year 1000 ``strftime`` writes fewer
    than four digits for the year; that rare text is kept as it was.
    """
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    if moment.year < 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # without "+00:00"


def parse_iso(text: object) -> float | None:
    """Epoch seconds from an ISO 8601 string (or a number); None when unreadable."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
