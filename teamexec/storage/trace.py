"""Optional timing trace for benchmarks: ``TEAMEXEC_TRACE=<file>``.

When set, the executor appends one JSON line per inbox message seen and per
worker started, with wall-clock times, so that bench/latency.py can measure
callback -> next spawn without guessing.  Off (a no-op) otherwise.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


class Trace:
    def __init__(self, path: str | None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None

    def __call__(self, event: str, **fields: Any) -> None:
        if self.fd is not None:
            line = json.dumps({"event": event, "t": time.time(), **fields}) + "\n"
            os.write(self.fd, line.encode())

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
