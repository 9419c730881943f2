"""`check`, `run` and `resume` from parsed arguments to an exit code, without typer.

The typer app (app.py) and entry.py's fast path (fastargs.py) both call
these: the fast path parses these three commands itself and never imports
typer, which was ~40-60 ms of every run's and every check's start-up.
Errors become one stderr line each and the protocol's exit code here, the
same for both callers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from teamexec.core.errors import ExitCode
from teamexec.core.model import EndAction


def guarded(debug: bool, action: Callable[[], int], *, json_out: bool = False) -> int:
    """Run a command; errors become one line each on stderr and the right exit code.

    With ``--json`` an error is also JSON on stdout, ``{"ok": false, "errors": [...]}``,
    so a script reading stdout always gets JSON (PROTOCOL §9).
    """
    from teamexec.core.errors import InvalidSession, TeamexecError, os_error_line

    errors: list[str] = []
    try:
        code = action()
    except InvalidSession as exc:
        if debug:
            raise
        errors = [str(issue) for issue in exc.issues]
        code = exc.exit_code
    except TeamexecError as exc:
        if debug:
            raise
        errors = [str(exc)]
        code = exc.exit_code
    except KeyboardInterrupt:
        errors, code = ["interrupted"], ExitCode.INTERRUPTED
    except OSError as exc:  # disk full, read-only file system, a directory replaced by a file
        if debug:
            raise
        errors, code = [os_error_line(exc)], ExitCode.FAILED
    for line in errors:
        print(line, file=sys.stderr)
    if json_out and errors:
        print(json.dumps({"ok": False, "exit_code": code, "errors": errors}, ensure_ascii=False))
    return code


def run_command(
    session: Path | None,
    *,
    resume: bool = False,
    json_out: bool = False,
    debug: bool = False,
    dry_run: bool = False,
    agent: str | None = None,
    max_workers: int | None = None,
    poll: bool = False,
    task_list: Path | None = None,
    completion: EndAction | None = None,
    export_to: Path | None = None,
    force: bool = False,
    detach: bool = False,
    backoff_scale: float = 1.0,
    retry_failed: bool = False,
) -> int:
    """``teamexec run|resume``: the exit code (PROTOCOL §9)."""

    def action() -> int:
        from teamexec.cli.commands import RunRequest, discover, execute
        from teamexec.cli.reporter import Reporter
        from teamexec.executor.engine import RunOptions

        root = session or discover(statuses=("active", "paused") if resume else None)
        options = RunOptions(
            max_workers=max_workers,
            cli_agent=agent,
            poll=poll,
            detach=detach,
            backoff_scale=backoff_scale,
        )
        request = RunRequest(
            session=root,
            options=options,
            dry_run=dry_run,
            json_out=json_out,
            completion=completion,
            export_to=export_to,
            force=force,
            task_list=task_list,
            resume=resume,
            retry_failed=retry_failed,
        )
        return execute(request, Reporter(json_out=json_out))

    return guarded(debug, action, json_out=json_out)


def check_command(
    session: Path | None,
    *,
    json_out: bool = False,
    debug: bool = False,
    task_list: Path | None = None,
    agent: str | None = None,
) -> int:
    """``teamexec check``: the status view printed, and the exit code."""

    def action() -> int:
        from teamexec.cli import jsonout
        from teamexec.cli.commands import check as do_check
        from teamexec.cli.commands import discover
        from teamexec.core.status import status_lines

        root = session or discover()
        view = do_check(root, task_list=task_list, cli_agent=agent)
        if json_out:
            print(jsonout.dumps({"ok": True, **view}))
        else:
            print("\n".join(status_lines(view)))
        return ExitCode.OK

    return guarded(debug, action, json_out=json_out)
