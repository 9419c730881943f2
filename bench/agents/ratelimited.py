"""A stand-in rate limit, and a stand-in Claude Code that runs against it.

``TokenBucket`` is a token bucket shared by every process that opens the same
file: its state is one JSON object, read and rewritten under ``flock``.  Each
agent run takes one token when it starts; with none left the bucket answers
with the time the next token will be there — what an API's 429 says.

Run as a program, this file is a stand-in for ``claude -p --output-format
json`` (Claude Code's headless mode): it reads its prompt on stdin, takes a
token, and either

- works for ``RATELIMIT_WORK_S`` seconds, writes ``artifacts/<task>.md`` in
  ``$TEAMEXEC_SESSION`` and prints a ``type: "result"`` object with
  ``total_cost_usd`` and ``usage`` (exit 0), or
- prints a ``rate_limit_event`` whose ``rate_limit_info`` is ``rejected`` with
  ``resetsAt`` (epoch seconds, an integer, camelCase as the CLI sends it) and
  a result with ``is_error: true``, ``subtype: "success"`` and
  ``api_error_status: 429`` (exit 1).

Settings come from the environment: RATELIMIT_BUCKET (the state file),
RATELIMIT_RATE (tokens a second), RATELIMIT_CAPACITY, RATELIMIT_WORK_S,
RATELIMIT_COST, and RATELIMIT_TRACE (a file that gets one line a run).
Used by bench/ratelimit.py and by tests (standard library only).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sys
import time
import uuid
from pathlib import Path


class TokenBucket:
    """``rate`` tokens a second up to ``capacity``; full when its file is new."""

    def __init__(self, path: Path | str, *, rate: float, capacity: int) -> None:
        self.path = Path(path)
        self.rate = rate
        self.capacity = capacity

    def take(self, now: float | None = None) -> float | None:
        """Take one token: None when granted, else the epoch time the next one arrives."""
        now = time.time() if now is None else now
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 4096)
            try:
                state = json.loads(raw) if raw else None
            except ValueError:
                state = None
            if not isinstance(state, dict):
                state = {"tokens": float(self.capacity), "at": now}
            tokens = min(self.capacity, state["tokens"] + (now - state["at"]) * self.rate)
            granted = tokens >= 1.0
            if granted:
                tokens -= 1.0
            data = json.dumps({"tokens": tokens, "at": now}).encode()
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, data)
        finally:
            os.close(fd)  # releases the lock
        return None if granted else now + (1.0 - tokens) / self.rate


def ideal_seconds(*, tasks: int, rate: float, capacity: int, work_s: float) -> float:
    """The least time ``tasks`` runs can take against the bucket: a full bucket, then the rate."""
    return max(0, tasks - capacity) / rate + work_s


def _result(**fields: object) -> str:
    base = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": 0,
        "duration_api_ms": 0,
        "num_turns": 1,
        "session_id": str(uuid.uuid4()),
        "total_cost_usd": 0.0,
        "usage": {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    base.update(fields)
    return json.dumps(base)


def main() -> int:
    sys.stdin.read()
    env = os.environ
    bucket = TokenBucket(
        env["RATELIMIT_BUCKET"],
        rate=float(env.get("RATELIMIT_RATE", "4")),
        capacity=int(env.get("RATELIMIT_CAPACITY", "8")),
    )
    started = time.time()
    next_token = bucket.take(started)
    trace = env.get("RATELIMIT_TRACE")
    if trace:  # one line a run: when it asked, and whether it got a token
        with open(trace, "a") as out:
            out.write(f"{started:.3f} {'ok' if next_token is None else '429'}\n")
    session_id = str(uuid.uuid4())
    if next_token is not None:
        info = {
            "status": "rejected",
            "resetsAt": math.ceil(next_token),
            "rateLimitType": "five_hour",
            "utilization": 1.0,
        }
        event = {"type": "rate_limit_event", "rate_limit_info": info, "uuid": str(uuid.uuid4())}
        print(json.dumps({**event, "session_id": session_id}), flush=True)
        print(
            _result(
                is_error=True,
                api_error_status=429,
                session_id=session_id,
                result="API Error: 429 rate_limit_error",
            ),
            flush=True,
        )
        return 1
    time.sleep(float(env.get("RATELIMIT_WORK_S", "0.2")))
    session = env.get("TEAMEXEC_SESSION")
    task = env.get("TEAMEXEC_TASK_ID", "task")
    if session:
        artifact = Path(session) / "artifacts" / f"{task.lower()}.md"
        artifact.parent.mkdir(parents=True, exist_ok=True)
        artifact.write_text(f"# {task}\n")
    cost = float(env.get("RATELIMIT_COST", "0.01"))
    usage = {
        "input_tokens": 100,
        "output_tokens": 50,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    duration = int((time.time() - started) * 1000)
    print(
        _result(session_id=session_id, total_cost_usd=cost, usage=usage, duration_ms=duration),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
