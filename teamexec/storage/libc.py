"""The C library's functions that Python's os module does not offer (syncfs, renameat2).

Looked up among the symbols already loaded into this process (libc among
them), once: unlike ctypes.util.find_library, no ``ldconfig -p`` child
process.  None where there is no such library or no such function.
"""

from __future__ import annotations

import ctypes
from typing import Any

_libc: Any = None


def function(name: str) -> Any:
    """libc's ``name`` (errno kept for ctypes.get_errno), or None."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return getattr(_libc, name, None) if _libc else None
