"""``teamexec demo``: run the demo session on a fresh copy, never in place.

The demo (sessions/demo in the repository, ``teamexec/demo`` in a wheel) is
copied without any run state into a new directory — by default a new
temporary one — and run there with the Keep Active completion, so a clone's
tracked files are never rewritten and the command passes every time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from teamexec.core.errors import UsageError
from teamexec.storage.paths import copy_definition


def demo_source() -> Path:
    """The packaged demo, else the repository's (editable install, source checkout)."""
    package = Path(__file__).resolve().parent.parent  # teamexec/
    for candidate in (package / "demo", package.parent / "sessions" / "demo"):
        if (candidate / "team-session.json").is_file():
            return candidate
    raise UsageError(f"{package}: the demo session is not installed with this teamexec")


def prepare(target: Path | None) -> Path:
    """A fresh copy of the demo: in ``target`` (new or empty), else a new temporary folder."""
    if target is None:
        target = Path(tempfile.mkdtemp(prefix="teamexec-demo-"))
    elif target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target}: exists and is not an empty directory; name a new one")
    return copy_definition(demo_source(), target)
