"""The ``teamexec`` executable: fast paths for ``msg``, ``--version``, ``check``,
``run`` and ``resume``, else the typer app.

Agents call ``teamexec msg`` for every message they send, so its start-up is
paid many times per task: it is parsed here with argparse and never imports
typer, rich or the executor (bench/msg_startup.py measures it).  ``check``,
``run`` and ``resume`` in their plain forms are parsed by fastargs.py (typer
was ~50 ms of their start-up); anything else, ``--help`` and every usage
error included, goes to ``app.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("teamexec")
    except PackageNotFoundError:  # run from a source tree without an install
        return "unknown"


def msg_main(argv: Sequence[str]) -> int:
    """``teamexec msg TYPE [--summary S] [--data JSON] [--task ID]``: 0, or 2 on bad input."""
    import argparse
    import os

    from teamexec.worker.outbox import MailboxError, parse_data, post_from_env

    parser = argparse.ArgumentParser(
        prog="teamexec msg",
        description="Write a message into the session inbox (for agents). Exit 0, or 2 on bad "
        "input. The session, role, task and attempt come from the TEAMEXEC_* variables.",
    )
    parser.add_argument("type", metavar="TYPE", help="progress, task_complete, error, blocker, ...")
    parser.add_argument("--summary", default="", help="One-line summary.")
    parser.add_argument("--data", default=None, help="A JSON object of details.")
    parser.add_argument("--task", default=None, help="Task id (default: TEAMEXEC_TASK_ID).")
    args = parser.parse_args(list(argv))
    try:
        payload = parse_data(args.data)
        path = post_from_env(
            args.type, summary=args.summary, data=payload, task_id=args.task, env=os.environ
        )
    except (MailboxError, ValueError, RecursionError, OSError) as exc:
        text = str(exc).replace("\r", "\\r").replace("\n", "\\n")  # one line, always
        print(f"teamexec msg: {text}", file=sys.stderr)
        return 2
    print(path)
    return 0


# Commands that end within seconds: the cyclic garbage collector stays off for them.
# Loading a 10 000-task session allocates a few hundred thousand objects that all
# live until the end, and each full collection walks them again: ~0.1 s of
# `check`'s CPU, reclaiming nothing.  `run`/`resume`/`demo` turn it back on (with
# the start-up's objects frozen) when their loop starts: commands.execute.
SHORT_LIVED = frozenset(("check", "msg", "report", "reset", "pause", "stop", "--version"))
LONG_LIVED = frozenset(("run", "resume", "demo"))


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] and (args[0] in SHORT_LIVED or args[0] in LONG_LIVED):
        import gc

        gc.disable()
    if args[:1] == ["msg"]:
        sys.exit(msg_main(args[1:]))
    if args[:1] == ["--version"]:
        print(f"teamexec {version()}")
        sys.exit(0)
    from teamexec.cli.fastargs import parse

    parsed = parse(args)  # check/run/resume in their plain forms: no typer (fastargs.py)
    if parsed is not None:
        from teamexec.cli import actions

        command, kwargs = parsed
        action = actions.check_command if command == "check" else actions.run_command
        sys.exit(action(**kwargs))
    from teamexec.cli.app import run_app

    run_app(args)
