"""A strict parser for the plain forms of `check`, `run` and `resume`, without typer.

Importing typer is ~40-60 ms of every command's start-up: a fifth of `check`
of 10 000 tasks, and most of the fixed cost that makes a short pipeline slower
than `make`.  The arguments these commands are given by people and scripts
are simple: one session directory, flags, options with a value.  Those are
parsed here; anything else — ``--help``, an unknown option, a value typer
would refuse or convert in its own way, a second positional argument —
returns None, and the typer app parses the same arguments as before, with
its help and its error messages.  So the fast path accepts a subset of what
typer accepts and gives each accepted argument the value typer would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from teamexec.core.model import EndAction

_COUNT = re.compile(r"[0-9]{1,9}")  # what int() reads the same way everywhere
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9}")


def _path(text: str) -> Path | None:
    return Path(text)


def _text(text: str) -> str | None:
    return text


def _workers(text: str) -> int | None:
    """``--max-workers``: typer's ``min=1``; anything but plain digits goes to typer."""
    if not _COUNT.fullmatch(text) or int(text) < 1:
        return None
    return int(text)


def _scale(text: str) -> float | None:
    """``--backoff-scale``: typer's ``min=0.0``; plain decimals only."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def _completion(text: str) -> EndAction | None:
    return EndAction(text) if text in EndAction._value2member_map_ else None


# option -> (parameter name, converter: None means "typer would refuse or differ")
Converter = Callable[[str], Any]
_COMMON_FLAGS = {"--json": "json_out", "--debug": "debug"}
_COMMON_VALUES: dict[str, tuple[str, Converter]] = {
    "--task-list": ("task_list", _path),
    "--agent": ("agent", _text),
}
FLAGS: Mapping[str, Mapping[str, str]] = {
    "check": _COMMON_FLAGS,
    "run": {
        **_COMMON_FLAGS,
        "--dry-run": "dry_run",
        "--poll": "poll",
        "--force": "force",
        "--detach": "detach",
        "--retry-failed": "retry_failed",
    },
}
VALUES: Mapping[str, Mapping[str, tuple[str, Converter]]] = {
    "check": _COMMON_VALUES,
    "run": {
        **_COMMON_VALUES,
        "--max-workers": ("max_workers", _workers),
        "--completion": ("completion", _completion),
        "--export-to": ("export_to", _path),
        "--backoff-scale": ("backoff_scale", _scale),
    },
}
COMMANDS = ("check", "run", "resume")


def parse(args: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """``(command, keyword arguments)`` for actions.py, or None: let typer parse it."""
    if not args or args[0] not in COMMANDS:
        return None
    command = args[0]
    kind = "check" if command == "check" else "run"
    flags, values = FLAGS[kind], VALUES[kind]
    found: dict[str, Any] = {}
    session: Path | None = None
    rest = list(args[1:])
    while rest:
        word = rest.pop(0)
        if not word or word == "-" or word == "--":
            return None  # an empty name, stdin, the end of options: typer's rules
        if not word.startswith("-"):
            if session is not None:
                return None  # a second positional argument: typer's error
            session = Path(word)
            continue
        name, equals, value = word.partition("=")
        if name in flags and not equals:
            found[flags[name]] = True
            continue
        if name not in values:
            return None  # --help, -h, an unknown option, a flag given a value
        if not equals:
            if not rest:
                return None  # the value is missing: typer's error
            value = rest.pop(0)
        if not value or value.startswith("-"):
            return None  # typer decides whether "-x" is a value or an option
        key, convert = values[name]
        converted = convert(value)
        if converted is None:
            return None
        found[key] = converted
    if command != "check":
        found["resume"] = command == "resume"
    return command, {"session": session, **found}
