"""What each CLI command does, as functions returning an exit code.

cli/app.py parses arguments and calls these; these wire the loader, the lock,
the engine and the reporter together.  Errors are raised as ``TeamexecError``
and turned into one stderr line each by the CLI.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teamexec.cli.reporter import Reporter
from teamexec.core import dag
from teamexec.core.agentcmd import NO_AGENT, roles_without_agent
from teamexec.core.errors import ExitCode, InvalidSession, TeamexecError, UsageError
from teamexec.core.model import (
    Control,
    EndAction,
    Issue,
    Session,
    SessionStatus,
    Severity,
    Task,
    TaskStatus,
    iso,
    task_sort_key,
)
from teamexec.core.msglog import RESET_TYPE
from teamexec.core.report import build_report, deliverables, report_lines
from teamexec.core.schedule import PipelineState, Running
from teamexec.core.status import build_status
from teamexec.core.transitions import Reason, move
from teamexec.executor import end_action as completion
from teamexec.executor.engine import Engine, Outcome, PauseReason, RunOptions
from teamexec.executor.preflight import agent_issues
from teamexec.storage import safeopen
from teamexec.storage.atomic import atomic_write, dump_json
from teamexec.storage.claudelist import ClaudeList, mirror_dir, open_task_store
from teamexec.storage.journal import Journal, boot_id, read_tasks, recover
from teamexec.storage.layout import layout_issues
from teamexec.storage.loader import MAX_JSON_BYTES, SessionLoader, load_session
from teamexec.storage.lock import ExecutorLock, lock_holder
from teamexec.storage.logtail import read_tail
from teamexec.storage.messages import MessageLog
from teamexec.storage.paths import SessionPaths
from teamexec.storage.store import TaskStore
from teamexec.worker.crashpoints import crash_point

SEARCH_ROOTS = (Path(".workflow/.team"), Path("sessions"))


def random_hex(digits: int) -> str:
    """``digits`` random hex digits for an id (what ``uuid4().hex[:digits]`` gave, without
    importing uuid, which brings platform: ~5 ms of every run's start-up)."""
    return os.urandom((digits + 1) // 2).hex()[:digits]


def discover(*, statuses: Sequence[str] | None = None) -> Path:
    """The current directory when it is a session, else the one session under
    .workflow/.team/ or ./sessions/; several or none is a usage error."""
    if Path("team-session.json").is_file():
        return Path(".")
    found: list[tuple[Path, str]] = []
    for base in SEARCH_ROOTS:
        if not base.is_dir():
            continue
        for candidate in sorted(base.iterdir()):
            marker = candidate / "team-session.json"
            if not marker.is_file():
                continue
            try:
                raw = safeopen.read_bytes(marker, limit=MAX_JSON_BYTES)
                status = str(json.loads(raw).get("status"))
            except (ValueError, OSError, AttributeError, RecursionError):
                status = "?"
            if statuses is None or status in statuses:
                found.append((candidate, status))
    if len(found) == 1:
        return found[0][0]
    if not found:
        raise UsageError(
            "no session here: the current directory has no team-session.json and there is none "
            "under .workflow/.team/ or ./sessions/; name the session directory"
        )
    listing = "; ".join(f"{p} ({s})" for p, s in found)
    raise UsageError(f"several sessions found, name one: {listing}")


@dataclass
class RunRequest:
    session: Path
    options: RunOptions
    dry_run: bool = False
    json_out: bool = False
    completion: EndAction | None = None
    export_to: Path | None = None
    force: bool = False
    task_list: Path | None = None
    resume: bool = False
    retry_failed: bool = False


def cwd_issues(session: Session, paths: SessionPaths) -> list[Issue]:
    """``executor.cwd`` must name a directory: a missing one fails every attempt (§2)."""
    cwd = session.executor.cwd
    if cwd is None:
        return []
    path = Path(cwd) if Path(cwd).is_absolute() else paths.root / cwd
    if path.is_dir():
        return []
    why = f"executor.cwd {cwd!r}: {path} is not a directory; create it or fix the path"
    return [Issue(str(paths.team_session), None, why)]


def agents_missing(session: Session, options: RunOptions) -> list[Issue]:
    missing = roles_without_agent(
        session.specs, cli_agent=options.cli_agent, env=options.env, executor=session.executor
    )
    return [
        Issue(str(session.root / session.specs[role].path), None, NO_AGENT.format(role=role))
        for role in missing
    ]


def task_file_issues(paths: SessionPaths) -> list[Issue]:
    """Damaged task files and a broken layout stop a run before anything is written (§8 step 1)."""
    broken = [i for i in layout_issues(paths) if i.severity is Severity.ERROR]
    if broken:
        return broken  # reading tasks/ through a symlink is what must not happen
    _tasks, problems = open_task_store(paths.tasks).read_all()
    return problems


def recover_journal(
    paths: SessionPaths, session: Session, env: Mapping[str, str] | None = None
) -> None:
    """Replay the journal a power cut left behind, then checkpoint it (storage/journal.py).

    Under the executor lock, before anything reads the task files to act on
    them: a run, a resume, a reset.  A broken layout is left for the caller
    to refuse (nothing is written through a symlinked tasks/).
    """
    try:
        if os.lstat(paths.journal).st_size == 0:
            return  # the common case: the last run checkpointed
    except FileNotFoundError:
        return
    if any(i.severity is Severity.ERROR for i in layout_issues(paths)):
        return
    journal = Journal(paths.journal, root=paths.root, boot=boot_id(env))
    try:
        store = open_task_store(paths.tasks, subjects=set(session.graph))
        recover(journal, store, directories=(paths.tasks, paths.root))
    finally:
        journal.close()


def execute(request: RunRequest, reporter: Reporter) -> int:
    # the loop, the observers and watchdog load only when a run starts: `check` stays quick
    from teamexec.executor.runner import run_loop

    paths = SessionPaths(request.session, request.task_list)
    loader = SessionLoader(paths.root)  # re-read each time, validated again only when changed
    loader.load()  # validate before the lock file is even created
    reporter.session = str(paths.root)
    if request.dry_run:
        return dry_run(request, paths, reporter, loader)
    with ExecutorLock(paths.lock):
        recover_journal(paths, loader.load(), request.options.env)
        if request.retry_failed:
            retried = reset_tasks(paths, loader.load(), (), failed=True)
            if retried:
                reporter.line(f"[executor] failed tasks back to pending: {', '.join(retried)}")
        session = loader.load()
        missing = (  # before the engine reads anything: a broken layout is refused first
            agents_missing(session, request.options)
            + cwd_issues(session, paths)
            + task_file_issues(paths)
        )
        if missing:
            raise InvalidSession(missing)
        engine = Engine(paths=paths, session=session, options=request.options, emit=reporter.event)
        missing += agent_issues(
            session, agent_for=engine.agent_for, cwd=engine.cwd, env=engine.options.env
        )
        if missing:
            raise InvalidSession(missing)
        engine.pool.warm_up()  # the supervisor boots while the session is reconciled
        started = time.time()
        engine.apply_reconciliation(engine.plan(started), started)
        reporter.start(total=len(engine.tasks), done=_done(engine.tasks))
        collect_garbage_from_now_on()
        try:
            engine_outcome = run_loop(engine)
        finally:
            reporter.stop()  # also when the loop stops on an error: the terminal is restored
        return finish(request, engine, engine_outcome, started, reporter)


def collect_garbage_from_now_on() -> None:
    """The loop runs for hours: the collector goes back on if start-up turned it off.

    entry.py turns it off for start-up (validation and reconcile allocate a few
    hundred thousand objects that all stay alive).  Freezing them first keeps
    them out of every later collection, so the loop's collections walk only
    what the loop allocates.  In-process callers (tests) keep theirs as it was.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _done(tasks: dict[str, Task]) -> int:
    return sum(1 for t in tasks.values() if t.status is TaskStatus.COMPLETED)


def dry_run(
    request: RunRequest,
    paths: SessionPaths,
    reporter: Reporter,
    loader: SessionLoader | None = None,
) -> int:
    session = (loader or SessionLoader(paths.root)).load()
    problems = task_file_issues(paths)
    if problems:
        raise InvalidSession(problems)
    now = time.time()
    engine = Engine(paths=paths, session=session, options=request.options, emit=lambda _e: None)
    rec = engine.plan(now)
    adopted = [
        Running(str(e["worker_id"]), str(e.get("role")), str(e.get("task_id")))
        for e in rec.session_data.get("active_workers") or ()
    ]
    spawns = engine.pool.next_spawns(rec.tasks, adopted, now)
    view = {
        "session": str(paths.root),
        "actions": [
            {"kind": e.kind.value, "task_id": e.task_id, "reason": e.text} for e in rec.events
        ],
        "messages": [
            {"file": d.item.name, "accepted": d.verdict.accepted, "reason": d.verdict.reason}
            for d in rec.messages
        ],
        "writes": {"tasks": list(rec.changed), "team_session": rec.session_changed},
        "spawn": [{"task_id": s.task_id, "role": s.role} for s in spawns],
        "missing_agents": [str(i) for i in agents_missing(session, request.options)],
    }
    reporter.dry_run(view)
    return ExitCode.OK


def finish(
    request: RunRequest, engine: Engine, outcome: Outcome, started: float, reporter: Reporter
) -> int:
    paths, session = engine.paths, engine.session
    hint = f"teamexec resume {paths.root}"
    if outcome.paused_by is PauseReason.BUDGET and not outcome.interrupted:
        # §10: say what was spent and how to go on; exit 1 like any pause that needs the user
        spent = engine.agents.budget_note or "the budget is spent"
        reporter.line(
            f"[executor] paused: {spent}. No new workers were started; running ones finished. "
            f"Raise executor.budget in team-session.json, then: {hint}"
        )
        reporter.summary(
            {
                "status": "paused",
                "reason": "budget",
                "spent": engine.agents.spent.as_dict(),
                "session": str(paths.root),
            }
        )
        return 1
    if outcome.interrupted or outcome.paused_by:
        why = "interrupted" if outcome.interrupted else f"paused ({outcome.paused_by})"
        detail = "workers left running for resume" if outcome.detached else "session paused"
        reporter.line(f"[executor] {why}: {detail}. Resume with: {hint}")
        reporter.summary({"status": "paused", "reason": why, "session": str(paths.root)})
        if outcome.paused_by is PauseReason.CONSENSUS:
            return ExitCode.FAILED
        return ExitCode.INTERRUPTED
    finished = time.time()
    status = {
        PipelineState.COMPLETE: "completed",
        PipelineState.FAILED: "failed",
        PipelineState.STALLED: "stalled",
    }[outcome.state]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = build_report(
        execution_id=f"exec-{random_hex(12)}",
        session_id=session.session_id,
        status=status,
        tasks=engine.tasks,
        tracked=engine.task_seconds,
        started=started,
        finished=finished,
        stuck=outcome.stuck,
        peak_rss_kb=usage.ru_maxrss or None,
    )
    absent_logs(report["stuck"], paths.root)
    atomic_write(paths.report, dump_json(report))
    for line in report_lines(
        report,
        roles=sorted(session.roles),
        session_path=str(paths.root),
        delivered=deliverables(engine.tasks, paths.artifacts, paths.root, agents_cwd=engine.cwd),
    ):
        reporter.line(line)
    if outcome.state is not PipelineState.COMPLETE:
        for line in retry_hints(engine.tasks, str(paths.root)):
            reporter.line(line)
        reporter.summary(report)
        return ExitCode.FAILED
    result = run_completion(request, engine, reporter, hint)
    report["completion_action"] = result.action.value
    reporter.summary(report)
    return ExitCode.OK


def retry_hints(tasks: dict[str, Task], root: str) -> list[str]:
    """What to type after a failed or stalled run: commands that make it go on.

    A plain ``resume`` leaves failed tasks failed (their retries are spent), so
    the hint for failed tasks is ``--retry-failed``; a stall is something to
    fix first (a missing agent, a task no role owns), then ``resume``.
    """
    failed = sorted(
        (t.id for t in tasks.values() if t.status is TaskStatus.FAILED), key=task_sort_key
    )
    root = shlex.quote(root)
    if not failed:
        return [
            "[executor] session paused; fix the cause above, then:",
            f"[executor]   teamexec resume {root}",
        ]
    return [
        f"[executor] session paused: {len(failed)} task(s) failed ({', '.join(failed)}).",
        "[executor] read the log named above, fix the cause, then retry them with:",
        f"[executor]   teamexec resume {root} --retry-failed",
        "[executor] or in two steps:",
        f"[executor]   teamexec reset {root} --failed",
        f"[executor]   teamexec resume {root}",
    ]


def run_completion(
    request: RunRequest, engine: Engine, reporter: Reporter, hint: str
) -> completion.Result:
    action = completion.configured(engine.session.completion_action, request.completion)
    export_to = request.export_to
    if action is completion.Action.INTERACTIVE:
        if reporter.interactive():
            action, export_to = completion.ask(reporter.ask, export_to)
        else:
            reporter.line("[executor] warning: no terminal to ask; keeping the session active")
            action = completion.Action.KEEP
    crash_point("action")
    result = completion.perform(
        action,
        paths=engine.paths,
        session_file=engine.session_file,
        now=time.time(),
        export_to=export_to,
        force=request.force,
        resume_hint=hint,
    )
    if result.warning:
        reporter.line(f"[executor] warning: {result.warning}; kept active instead")
    for line in result.lines:
        reporter.line(line)
    return result


def check(session_path: Path, *, task_list: Path | None, cli_agent: str | None) -> dict[str, Any]:
    """Validate and describe; reads only, takes no lock, never blocks."""
    paths = SessionPaths(session_path, task_list)
    session = load_session(paths.root)
    layout = layout_issues(paths)
    broken = [i for i in layout if i.severity is Severity.ERROR] + cwd_issues(session, paths)
    if broken:
        raise InvalidSession(broken)
    store = open_task_store(paths.tasks, subjects=set(session.graph))
    # exact while a run goes on (views lag the journal by up to a second) and
    # after a power cut: the journal's states over the views
    tasks, problems = read_tasks(store, paths)
    if problems:
        raise InvalidSession(problems)
    options = RunOptions(cli_agent=cli_agent)
    engine = Engine(paths=paths, session=session, options=options, emit=lambda _e: None)
    now = time.time()
    view = build_status(
        session,
        tasks,
        workers=engine.worker_facts(tasks),
        runnable_roles=engine.runnable_roles(),
        now=now,
        locked_by=lock_holder(paths.lock),
        history=None if engine.priorities is None else engine.priorities.history,
        completed_elsewhere=engine.shared.external_completions(tasks),
    )
    absent_logs(view["tasks"], paths.root)
    view["warnings"] = [*view["warnings"], *(str(i) for i in layout)]  # only warnings are left
    cannot_start = agent_issues(
        session,
        agent_for=engine.agent_for,
        cwd=engine.cwd,
        env=options.env,
        severity=Severity.WARNING,
    )
    view["warnings"] += [f"{i}; `run` will refuse" for i in cannot_start]
    return view


def reset_elsewhere(
    store: TaskStore, paths: SessionPaths, session: Session, changed: list[Task], now: float
) -> None:
    """A reset overrides the completions recorded outside the task files too (§8).

    Written with ``force`` into a Claude task list (store or mirror), whose
    completions are otherwise never overridden, and noted in messages.jsonl
    as a ``task_reset`` line, after which earlier completion lines of the task
    no longer count.
    """
    if isinstance(store, ClaudeList):
        store.force = True
    store.write_many(changed)
    mirror = mirror_dir(os.environ, session.session_id)
    if mirror.is_dir() and mirror != paths.tasks:
        claude = ClaudeList(mirror, subjects=set(session.graph))
        claude.force = True
        claude.write_many(changed)
    log = MessageLog(paths.messages_log)
    for task in changed:
        note = {
            "id": f"reset-{task.id}-{random_hex(8)}",
            "from": "executor",
            "to": "coordinator",
            "type": RESET_TYPE,
            "summary": f"[executor] {task.id} reset to pending (teamexec reset)",
            "data": {"task_id": task.id},
        }
        log.append(note, now=now)


def reset(
    session_path: Path,
    task_ids: Sequence[str],
    *,
    downstream: bool,
    task_list: Path | None,
    failed: bool = False,
    every: bool = False,
) -> list[str]:
    """Back to pending in the task list and in completed_tasks; refuses while locked."""
    paths = SessionPaths(session_path, task_list)
    with ExecutorLock(paths.lock):
        return reset_tasks(
            paths,
            load_session(paths.root),
            task_ids,
            downstream=downstream,
            failed=failed,
            every=every,
        )


def reset_tasks(
    paths: SessionPaths,
    session: Session,
    task_ids: Sequence[str],
    *,
    downstream: bool = False,
    failed: bool = False,
    every: bool = False,
) -> list[str]:
    """Put tasks back to pending; the caller holds the executor lock.

    Attempt numbers go on after a reset (``attempts`` is kept and
    ``attempts_before_reset`` records where the retry budget starts again), so
    the next attempt writes a new ``logs/<id>.<n>.log`` and its error's log
    tail never mixes two runs.  The old ``last_error`` goes: it belongs to the
    attempts the reset put aside (their outcomes stay in ``attempt_log``).
    """
    recover_journal(paths, session)  # a reset acts on the replayed state, never under it
    store = open_task_store(paths.tasks, subjects=set(session.graph))
    tasks, problems = store.read_all()
    if problems:
        raise InvalidSession(problems)
    unknown = [t for t in task_ids if t not in tasks and t not in session.graph]
    if unknown:
        raise UsageError(f"{paths.tasks}: unknown task(s): {', '.join(unknown)}")
    targets = set(task_ids)
    if failed:
        targets |= {t.id for t in tasks.values() if t.status is TaskStatus.FAILED}
    if every:
        targets |= {t.id for t in tasks.values() if t.status is not TaskStatus.DELETED}
        targets |= set(session.graph)
    if downstream:
        deps = {t: n.depends_on for t, n in session.graph.items()}
        for task in tasks.values():
            deps.setdefault(task.id, task.blocked_by)
        targets |= dag.downstream(deps, sorted(targets))
    now = time.time()
    changed = []
    for task_id in sorted(targets):
        found = tasks.get(task_id)
        if found is None:
            continue
        changed.append(
            move(
                found,
                TaskStatus.PENDING,
                Reason.USER_RESET,
                now=now,
                retry_at=None,
                completed_at=None,
                last_error=None,
                attempts_before_reset=found.attempts or None,
            )
        )
        tasks[task_id] = changed[-1]
    reset_elsewhere(store, paths, session, changed, now)
    data = dict(session.data)
    data["completed_tasks"] = [t for t in session.completed_tasks if t not in targets]
    pipeline = dict(data.get("pipeline") or {})
    if pipeline or changed:
        live = [t for t in tasks.values() if t.status is not TaskStatus.DELETED]
        pipeline["tasks_total"] = max(len(live), len(session.graph))
        pipeline["tasks_completed"] = sum(1 for t in live if t.status is TaskStatus.COMPLETED)
        data["pipeline"] = pipeline
    if data.get("status") == SessionStatus.COMPLETED.value:
        data["status"] = SessionStatus.PAUSED.value
    if data != dict(session.data):
        atomic_write(paths.team_session, dump_json(data))
    return sorted(targets)


def request_control(session_path: Path, kind: Control) -> str:
    """``teamexec pause|stop``: ask the running executor through a control file."""
    paths = SessionPaths(session_path)
    load_session(paths.root)
    holder = lock_holder(paths.lock)
    if holder is None:
        raise TeamexecError(f"{paths.root}: no executor is running this session")
    paths.control.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.control / kind.value, f"{iso(time.time())} pid {os.getpid()}\n".encode())
    return f"{kind} requested from executor pid {holder.get('pid')}"


def report(session_path: Path, *, html: Path | None, json_out: bool) -> list[str]:
    """``teamexec report``: report.json again, as text or JSON; ``--html`` writes the page."""
    paths = SessionPaths(session_path)
    session = load_session(paths.root)
    try:
        data = json.loads(paths.report.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TeamexecError(
            f"{paths.report}: no report yet; it is written when a run ends "
            f"(teamexec run {paths.root})"
        ) from None
    except (OSError, ValueError) as exc:
        raise TeamexecError(f"{paths.report}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise TeamexecError(f"{paths.report}: not a JSON object")
    absent_logs(data.get("stuck"), paths.root)
    lines: list[str] = []
    if html is not None:
        from teamexec.core.reportpage import render_page

        tails = failure_tails(paths, data)
        atomic_write(html, render_page(data, log_tails=tails, title=session.team_name).encode())
        lines.append(f"wrote {html}")
    if json_out:
        return [json.dumps({"ok": True, **data}, indent=2, ensure_ascii=False)]
    if html is not None:
        return lines
    tasks, _problems = open_task_store(paths.tasks, subjects=set(session.graph)).read_all()
    return report_lines(
        data,
        roles=sorted(session.roles),
        session_path=str(paths.root),
        delivered=deliverables(
            tasks, paths.artifacts, paths.root, agents_cwd=paths.project_root or Path.cwd()
        ),
    )


def absent_logs(rows: Any, root: Path) -> None:
    """Set each row's ``log`` to None when no such file exists: an agent that wrote
    nothing under the supervisor has no log (docs/DESIGN.md), and the summary says
    "no log output" instead of naming a file that is not there."""
    for row in rows or ():
        log = row.get("log") if isinstance(row, dict) else None
        if isinstance(log, str) and not os.path.lexists(root / log):
            row["log"] = None


def failure_tails(paths: SessionPaths, data: dict[str, Any], lines: int = 20) -> dict[str, str]:
    """The last lines of each failed attempt's log, keyed ``<task>.<attempt>``."""
    tails: dict[str, str] = {}
    for row in data.get("tasks") or ():
        for entry in row.get("attempt_log") or () if isinstance(row, dict) else ():
            outcome = entry.get("outcome") if isinstance(entry, dict) else None
            if outcome in (None, "completed", "interrupted"):
                continue
            key = f"{row.get('id')}.{entry.get('attempt')}"
            # missing (a silent agent has no log), unsafe or unreadable: no tail
            tail = read_tail(paths.logs / f"{key}.log", lines, root=paths.root)
            if tail:
                tails[key] = tail
    return tails
