"""The JSON texts of a task state, each the exact text of a ``json.dumps`` call, made faster.

Every task state the executor writes is encoded up to three times (issue 15):
as its view file (``indented``: ``json.dumps(value, indent=2,
ensure_ascii=False)``, the on-disk format), as the store's comparison text
(``canonical``: sorted keys, compact; the no-op-write test) and as its
journal line (``compact``).  ``json.dumps`` builds a new encoder on every
call, and given an indent it falls back to the pure-Python encoder (a
generator per container, a yield per token): ~26 us per task object, twice
the time the layout takes when written out here, where the containers are
laid out directly and every string goes to the C string encoder (~12 us).
``canonical`` and ``compact`` call C encoders built once (~7 us, not ~9).

The contract, proved by tests/test_jsontext.py against ``json.dumps``: for
every value each function returns what its ``json.dumps`` call returns, or
raises what that call raises.  Whatever the fast paths do not take as it is
— a subclass of a JSON type, a key that is not a string, a tuple, a value
nested over 100 levels deep, any error at all (a circular value ends in one)
— is handed to ``json.dumps`` itself, so the answer is its answer.  One
difference is left: ``canonical`` and ``compact`` run json's own C encoder
a few Python frames shallower, so a value nested within a few levels of the
recursion limit (~990) may encode here where ``json.dumps`` would raise
RecursionError.  Standard library only: the store (and through it the lean
worker) encodes with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder
from typing import Any

_encode_str: Callable[[str], str] = encoder.encode_basestring  # C where CPython has it
_INFINITY = float("inf")
_DEEPEST = len("\n") + 2 * 100  # the indent 100 levels down: deeper goes to json.dumps


class _Unsupported(Exception):
    """A value the fast path leaves to json.dumps (never escapes this module)."""


def _float(value: float) -> str:
    # json's floatstr with allow_nan=True (the json.dumps default)
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _null(_value: None) -> str:
    return "null"


# exact types only: a subclass (an IntEnum, an OrderedDict, ...) goes to json.dumps
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _encode_str,
    int: int.__repr__,  # raises past the int digit limit, as json.dumps does
    float: _float,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): _null,
}


def _container(value: Any, newline: str) -> str:
    """A non-empty dict or list at the depth ``newline`` ("\\n" plus its indent) opens."""
    inner = newline + "  "
    if len(inner) > _DEEPEST:
        raise _Unsupported  # where RecursionError comes, and when, is json.dumps's to decide
    parts: list[str] = []
    add = parts.append
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _Unsupported  # json.dumps converts int/float/bool/None keys, or refuses
            kind = type(item)
            if kind is str:
                add(_encode_str(key) + ": " + _encode_str(item))
            elif kind is dict or kind is list:
                text = _container(item, inner) if item else ("{}" if kind is dict else "[]")
                add(_encode_str(key) + ": " + text)
            else:
                scalar = _SCALARS.get(kind)
                if scalar is None:
                    raise _Unsupported
                add(_encode_str(key) + ": " + scalar(item))
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    for item in value:
        kind = type(item)
        if kind is str:
            add(_encode_str(item))
        elif kind is dict or kind is list:
            add(_container(item, inner) if item else ("{}" if kind is dict else "[]"))
        else:
            scalar = _SCALARS.get(kind)
            if scalar is None:
                raise _Unsupported
            add(scalar(item))
    return "[" + inner + ("," + inner).join(parts) + newline + "]"


def indented(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``."""
    try:
        kind = type(value)
        if kind is dict or kind is list:
            return _container(value, "\n") if value else ("{}" if kind is dict else "[]")
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            return scalar(value)
    except Exception:  # whatever it is, json.dumps gives the answer (or raises it)
        pass
    return json.dumps(value, indent=2, ensure_ascii=False)


def _refuse(value: Any) -> Any:
    raise _Unsupported


def _c_encoder(*, sort_keys: bool) -> Callable[[Any], str] | None:
    """A compact ``ensure_ascii=False`` C encoder built once; None without the accelerator.

    No circular-reference markers (a marker dict shared between calls could be
    left dirty by an error): a circular value recurses until RecursionError,
    and the fallback lets json.dumps raise its own ValueError instead.
    """
    make = getattr(encoder, "c_make_encoder", None)  # CPython's accelerator, not in typeshed
    if make is None:
        return None
    encode = make(None, _refuse, _encode_str, None, ":", ",", sort_keys, False, True)

    def text(value: Any) -> str:
        return "".join(encode(value, 0))

    return text


_canonical = _c_encoder(sort_keys=True)
_compact = _c_encoder(sort_keys=False)


def canonical(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``."""
    return _encoded(_canonical, value, sort_keys=True)


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    return _encoded(_compact, value, sort_keys=False)


def _encoded(fast: Callable[[Any], str] | None, value: Any, *, sort_keys: bool) -> str:
    """The C encoder's text; json.dumps's answer (or its error) where that one fails."""
    if fast is not None:
        try:
            return fast(value)
        except Exception:  # json.dumps gives the answer (or raises it)
            pass
    return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
