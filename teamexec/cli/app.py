"""The command line (PROTOCOL §9): a thin typer layer over commands.py.

Each command builds its options, calls one function in commands.py and maps
``TeamexecError`` to one stderr line per problem and the protocol's exit
code (1 invalid/failed, 2 usage, 3 locked, 130 interrupted).  Heavy modules
are imported inside the commands so that ``teamexec msg`` stays quick.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from teamexec.cli.actions import check_command, guarded, run_command
from teamexec.core.errors import ExitCode
from teamexec.core.model import Control, EndAction

app = typer.Typer(
    help="Run multi-agent team sessions stored as plain files — deterministically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


SessionArg = Annotated[
    Path | None,
    typer.Argument(
        help="Session directory. Default: the one under .workflow/.team/ or ./sessions/."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
TaskListOpt = Annotated[
    Path | None, typer.Option("--task-list", help="Use another task directory (same format).")
]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", help="Agent command for roles whose role-spec sets none.")
]


def _guard(debug: bool, action: Callable[[], int], *, json_out: bool = False) -> None:
    """Run a command through ``actions.guarded``: one stderr line per error, the exit code."""
    raise typer.Exit(guarded(debug, action, json_out=json_out))


def _run_options(resume: bool) -> Callable[..., None]:
    def command(
        session: SessionArg = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Print what reconcile and the first spawns would do; write nothing.",
            ),
        ] = False,
        agent: AgentOpt = None,
        max_workers: Annotated[
            int | None,
            typer.Option(
                "--max-workers",
                min=1,
                help="Workers at once (default: executor.max_workers, else 4).",
            ),
        ] = None,
        poll: Annotated[
            bool, typer.Option("--poll", help="Poll the inbox instead of file-system events.")
        ] = False,
        task_list: TaskListOpt = None,
        completion: Annotated[
            EndAction | None,
            typer.Option("--completion", help="Override the session's completion action."),
        ] = None,
        export_to: Annotated[
            Path | None, typer.Option("--export-to", help="Target directory for Export Results.")
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Let Export overwrite a non-empty directory.")
        ] = False,
        detach: Annotated[
            bool, typer.Option("--detach", help="On Ctrl-C leave workers running for `resume`.")
        ] = False,
        backoff_scale: Annotated[
            float,
            typer.Option(
                "--backoff-scale",
                min=0.0,
                help="Multiply retry back-offs (tests, fast agents).",
                hidden=True,
            ),
        ] = 1.0,
        retry_failed: Annotated[
            bool,
            typer.Option(
                "--retry-failed",
                help="Put failed tasks back to pending first (their attempt numbers go on).",
            ),
        ] = False,
    ) -> None:
        code = run_command(
            session,
            resume=resume,
            json_out=json_out,
            debug=debug,
            dry_run=dry_run,
            agent=agent,
            max_workers=max_workers,
            poll=poll,
            task_list=task_list,
            completion=completion,
            export_to=export_to,
            force=force,
            detach=detach,
            backoff_scale=backoff_scale,
            retry_failed=retry_failed,
        )
        raise typer.Exit(code)

    return command


app.command(
    "run",
    help="Validate, reconcile and run a session to the end, then its completion action. "
    "Exit 0 complete, 1 invalid/failed/stalled, 3 locked, 130 interrupted.",
)(_run_options(resume=False))
app.command(
    "resume",
    help="Continue a paused or interrupted session: adopts live workers, applies callbacks "
    "that arrived meanwhile, runs the rest. Exit codes as `run`.",
)(_run_options(resume=True))


@app.command(
    help="Validate and show status (progress, graph, workers, ready tasks). Changes nothing."
)
def check(
    session: SessionArg = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
    task_list: TaskListOpt = None,
    agent: AgentOpt = None,
) -> None:
    code = check_command(session, json_out=json_out, debug=debug, task_list=task_list, agent=agent)
    raise typer.Exit(code)


@app.command(help="Write a message into the session inbox (for agents). Exit 0, or 2 on bad input.")
def msg(
    type_: Annotated[
        str, typer.Argument(metavar="TYPE", help="progress, task_complete, error, blocker, ...")
    ],
    summary: Annotated[str, typer.Option("--summary", help="One-line summary.")] = "",
    data: Annotated[str | None, typer.Option("--data", help="A JSON object of details.")] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="Task id (default: TEAMEXEC_TASK_ID).")
    ] = None,
) -> None:
    from teamexec.worker.outbox import MailboxError, parse_data, post_from_env

    try:
        payload = parse_data(data)
        path = post_from_env(type_, summary=summary, data=payload, task_id=task, env=os.environ)
    except (MailboxError, ValueError, RecursionError, OSError) as exc:
        from teamexec.core.errors import one_line

        print(f"teamexec msg: {one_line(str(exc))}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None
    print(path)


@app.command(
    help="Put tasks (and with --downstream their dependents) back to pending; --failed: every "
    "failed task, --all: every task. Attempt numbers go on, so logs never mix. Exit 0, 1, 3."
)
def reset(
    session: Annotated[Path, typer.Argument(help="Session directory.")],
    tasks: Annotated[list[str] | None, typer.Argument(help="Task ids.")] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Also reset every dependent task.")
    ] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Reset every failed task.")] = False,
    all_tasks: Annotated[bool, typer.Option("--all", help="Reset every task.")] = False,
    task_list: TaskListOpt = None,
    debug: DebugOpt = False,
) -> None:
    def action() -> int:
        from teamexec.cli.commands import reset as do_reset
        from teamexec.core.errors import UsageError

        if not tasks and not failed and not all_tasks:
            raise UsageError("name the tasks to reset, or pass --failed or --all")
        done = do_reset(
            session,
            tasks or (),
            downstream=downstream,
            task_list=task_list,
            failed=failed,
            every=all_tasks,
        )
        print(f"reset to pending: {', '.join(done)}" if done else "nothing to reset")
        if done:
            print(f"continue with: teamexec resume {session}")
        return ExitCode.OK

    _guard(debug, action)


@app.command(
    help="Show the end-of-run report again (report.json); --html FILE writes one "
    "self-contained page: timeline, durations per role, failures, cost, graph. Exit 0, 1."
)
def report(
    session: SessionArg = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML page here.")
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    def action() -> int:
        from teamexec.cli.commands import discover
        from teamexec.cli.commands import report as do_report

        root = session or discover()
        for line in do_report(root, html=html, json_out=json_out):
            print(line)
        return ExitCode.OK

    _guard(debug, action, json_out=json_out)


@app.command(
    help="Run the demo pipeline (3 roles, 6 tasks, script agents: no LLM, no network) on a "
    "fresh copy in DIR (default: a new temporary directory). Exit codes as `run`."
)
def demo(
    directory: Annotated[
        Path | None, typer.Argument(metavar="DIR", help="A new or empty directory.")
    ] = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    def action() -> int:
        from teamexec.cli.commands import RunRequest, execute
        from teamexec.cli.demo import prepare
        from teamexec.cli.reporter import Reporter
        from teamexec.executor.engine import RunOptions

        root = prepare(directory)
        reporter = Reporter(json_out=json_out)
        reporter.line(f"[executor] demo session copied to {root}")
        request = RunRequest(
            session=root, options=RunOptions(), json_out=json_out, completion=EndAction.KEEP
        )
        code = execute(request, reporter)
        reporter.line(f"[executor] look at it: teamexec check {root}")
        reporter.line(
            f"[executor] the report as a page: teamexec report {root} --html {root}/report.html"
        )
        return code

    _guard(debug, action, json_out=json_out)


@app.command(help="Ask the running executor to stop starting workers (running ones finish).")
def pause(session: SessionArg = None, debug: DebugOpt = False) -> None:
    _control(session, Control.PAUSE, debug)


@app.command(help="Ask the running executor to terminate its workers and pause the session.")
def stop(session: SessionArg = None, debug: DebugOpt = False) -> None:
    _control(session, Control.STOP, debug)


def _control(session: Path | None, kind: Control, debug: bool) -> None:
    def action() -> int:
        from teamexec.cli.commands import discover, request_control

        print(request_control(session or discover(statuses=("active",)), kind))
        return ExitCode.OK

    _guard(debug, action)


@app.command(help="The built-in worker (spawned by the executor; reads TEAMEXEC_* variables).")
def worker() -> None:
    from teamexec.worker.main import main as worker_main

    raise typer.Exit(worker_main())


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
) -> None:
    if show_version:
        from teamexec.cli.entry import version

        print(f"teamexec {version()}")
        raise typer.Exit(0)


def run_app(args: list[str]) -> None:
    """Run the typer app; with ``--json`` a usage error is JSON on stdout too (exit 2)."""
    if "--json" not in args:
        app(args=args, prog_name="teamexec")
        return
    from typer._click.exceptions import ClickException  # typer >= 0.26 carries its own click

    try:
        code = app(args=args, prog_name="teamexec", standalone_mode=False)
    except ClickException as exc:
        text = exc.format_message()
        print(f"teamexec: {text}", file=sys.stderr)
        print(json.dumps({"ok": False, "exit_code": exc.exit_code, "errors": [text]}))
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    run_app(sys.argv[1:])
