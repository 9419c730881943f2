"""The timestamp text of every state file and message: ISO 8601 UTC with milliseconds.

One implementation for the executor (re-exported by model.py) and the worker's
outbox.  Standard library only and tiny: the worker imports it at start-up.
"""

from __future__ import annotations

import datetime


def iso(ts: float) -> str:
    """Format epoch seconds as the ISO 8601 UTC form used in every state file."""
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
