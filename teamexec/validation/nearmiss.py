"""Near misses of teamexec's own keys: ``timout_s`` most likely means ``timeout_s``.

Unknown keys are kept and are no error (PROTOCOL §4: CCW writes its own, e.g.
``output_tag``), so a typo in a key teamexec acts on would otherwise be
silently ignored.  ``near_miss`` names the key meant when an unknown key lies
within two edits (insert, delete, substitute, swap of neighbours) of a known
one that the same object does not already have.  Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

MAX_EDITS = 2


def edit_distance(a: str, b: str, *, limit: int = MAX_EDITS) -> int:
    """Optimal-string-alignment distance, cut short once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


def near_miss(key: str, known: Iterable[str], present: Collection[str]) -> str | None:
    """The known key ``key`` most likely misspells, or None.

    ``present`` are the keys the object has: a known key already there is not
    what an unknown one meant.
    """
    if key in known:
        return None
    best: tuple[int, str] | None = None
    for candidate in known:
        if candidate in present:
            continue
        distance = edit_distance(key.lower(), candidate)
        if distance <= MAX_EDITS and (best is None or (distance, candidate) < best):
            best = (distance, candidate)
    return best[1] if best else None
