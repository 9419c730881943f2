"""The last lines of a worker's log: what an error report carries (PROTOCOL §7, §8).

One reader for the built-in worker (its ``error`` message) and the executor (a
crash, a timeout, or the lean worker's report, which has no tail) — so the
failure classifier sees the same text whoever read it.  Opened through
safeopen (no symlinks, no FIFOs).  Standard library only: the worker imports it.
"""

from __future__ import annotations

from pathlib import Path

from teamexec.storage import safeopen

DEFAULT_LINES = 20
TAIL_BYTES = 64 * 1024  # enough for the last lines of any sane log; never read it whole


def read_tail(path: Path, lines: int = DEFAULT_LINES, *, root: Path | None = None) -> str:
    """The last ``lines`` lines of ``path`` ('' when it is missing, unsafe or ``lines`` is 0)."""
    if lines <= 0:
        return ""
    try:
        raw = safeopen.read_tail(path, TAIL_BYTES, root=root)
    except OSError:
        return ""
    return "\n".join(raw.decode("utf-8", "replace").splitlines()[-lines:])
