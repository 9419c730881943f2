"""entry.py's fast path parses `check`/`run`/`resume` exactly as the typer app does.

For each command line the fast parser accepts, the typer app is run on the
same words with the command functions replaced by recorders: both must call
the same function with the same arguments.  What the fast parser declines
goes to typer (help, usage errors), which the integration tests cover.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamexec.cli import actions, app, fastargs
from teamexec.core.model import EndAction

PLAIN = [
    ["check"],
    ["check", "s"],
    ["check", "s", "--json"],
    ["check", "--json", "s", "--agent", "claude -p"],
    ["check", "--task-list=/t", "s/", "--debug"],
    ["run", "s"],
    ["run", "s", "--max-workers", "4", "--completion", "keep", "--json"],
    ["run", "--dry-run", "s", "--poll", "--force", "--detach", "--retry-failed"],
    ["run", "s", "--export-to", "out", "--backoff-scale", "0.01", "--max-workers=007"],
    ["resume", "s", "--json", "--agent=true"],
    ["resume"],
]
DECLINED = [
    ["check", "--help"],
    ["check", "-h"],
    ["check", "a", "b"],
    ["check", "--agent"],
    ["check", "--agent", "--json"],
    ["check", "--json=1"],
    ["check", "--jsn"],
    ["check", ""],
    ["check", "--", "s"],
    ["run", "s", "--max-workers", "0"],
    ["run", "s", "--max-workers", "+3"],
    ["run", "s", "--max-workers", "x"],
    ["run", "s", "--completion", "Keep"],
    ["run", "s", "--backoff-scale", "-1"],
    ["run", "s", "--backoff-scale", "nan"],
    ["run", "s", "--agent", ""],
    ["msg", "progress"],
    ["reset", "s", "T-1"],
]


def via_typer(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """What the typer app calls for ``args``: (command, keyword arguments, defaults filled)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def record(session: Path | None, **kwargs: Any) -> int:
            calls.append((name, {"session": session, **kwargs}))
            return 0

        return record

    monkeypatch.setattr(app, "check_command", recorder("check"))
    monkeypatch.setattr(app, "run_command", recorder("run"))
    app.app(args=args, prog_name="teamexec", standalone_mode=False)
    assert len(calls) == 1
    return calls[0]


def with_defaults(command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    function = actions.check_command if command == "check" else actions.run_command
    params = inspect.signature(function).parameters
    return {name: kwargs.get(name, p.default) for name, p in params.items() if name != "session"}


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_plain_command_lines_are_parsed_as_typer_parses_them(args, monkeypatch):
    parsed = fastargs.parse(args)
    assert parsed is not None
    command, kwargs = parsed
    typer_command, typer_kwargs = via_typer(args, monkeypatch)
    assert ("check" if command == "check" else "run") == typer_command
    assert kwargs["session"] == typer_kwargs["session"]
    assert with_defaults(typer_command, kwargs) == with_defaults(typer_command, typer_kwargs)


@pytest.mark.parametrize("args", DECLINED, ids=" ".join)
def test_anything_else_is_left_to_typer(args):
    assert fastargs.parse(args) is None


WORDS = st.sampled_from(
    [
        "s",
        "t",
        "--json",
        "--debug",
        "--dry-run",
        "--poll",
        "--force",
        "--agent",
        "--max-workers",
        "--max-workers=2",
        "--completion",
        "keep",
        "archive",
        "--backoff-scale",
        "0.5",
        "3",
        "--task-list",
        "--export-to=x",
        "-x",
        "--help",
        "",
    ]
)


@settings(max_examples=150, deadline=None)
@given(command=st.sampled_from(["check", "run", "resume"]), words=st.lists(WORDS, max_size=6))
def test_whatever_the_fast_path_accepts_typer_reads_the_same(command, words):
    args = [command, *words]
    parsed = fastargs.parse(args)
    if parsed is None:
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        typer_command, typer_kwargs = via_typer(args, monkeypatch)
    _command, kwargs = parsed
    assert kwargs["session"] == typer_kwargs["session"]
    assert with_defaults(typer_command, kwargs) == with_defaults(typer_command, typer_kwargs)


def test_the_completion_choices_are_the_enum():
    assert fastargs.parse(["run", "--completion", "export"]) == (
        "run",
        {"session": None, "completion": EndAction.EXPORT, "resume": False},
    )
