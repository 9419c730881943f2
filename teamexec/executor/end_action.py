"""Completion actions (PROTOCOL §8): Archive & Clean, Keep Active, Export Results.

``choose`` decides which action runs from the session's ``completion_action``,
``--completion`` and whether a terminal is there to ask; ``perform`` carries
it out on the session state.  A failing action falls back to Keep Active and
says why.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from teamexec.core.model import CompletionAction, EndAction, SessionStatus, iso
from teamexec.storage.paths import SessionPaths
from teamexec.storage.sessionfiles import SessionFile

Action = EndAction  # the name this module's callers know


@dataclass(frozen=True)
class Result:
    action: Action
    lines: tuple[str, ...]
    warning: str | None = None


MENU = {"1": Action.ARCHIVE, "2": Action.KEEP, "3": Action.EXPORT}


def configured(session_action: CompletionAction, override: EndAction | None) -> Action:
    if override:
        return override
    return {
        CompletionAction.AUTO_ARCHIVE: Action.ARCHIVE,
        CompletionAction.AUTO_KEEP: Action.KEEP,
        CompletionAction.INTERACTIVE: Action.INTERACTIVE,
    }[session_action]


def ask(prompt: Callable[[str], str], export_to: Path | None) -> tuple[Action, Path | None]:
    """The interactive menu; re-asks on an unknown answer, end of input keeps active."""
    question = (
        "Pipeline complete. What now?\n"
        "  1) Archive & Clean\n  2) Keep Active\n  3) Export Results\nChoice [2]: "
    )
    while True:
        try:
            answer = prompt(question).strip() or "2"
        except EOFError:
            return Action.KEEP, export_to
        if answer in MENU:
            break
    action = MENU[answer]
    if action is Action.EXPORT and export_to is None:
        try:
            target = prompt("Export artifacts to directory: ").strip()
        except EOFError:
            target = ""
        export_to = Path(target).expanduser() if target else None
    return action, export_to


def archive(paths: SessionPaths, session_file: SessionFile, now: float) -> list[str]:
    data = dict(session_file.data)
    data.update(status=SessionStatus.COMPLETED.value, archived_at=iso(now), active_workers=[])
    if not session_file.write(data) and session_file.damaged:
        raise OSError(f"{paths.team_session}: {session_file.damaged}")
    return ["[executor] Archived: session completed, no worker running, inbox empty"]


def keep(paths: SessionPaths, session_file: SessionFile, resume_hint: str) -> list[str]:
    data = dict(session_file.data)
    data["status"] = SessionStatus.PAUSED.value
    session_file.write(data)
    return [f"[executor] Kept active. Resume with: {resume_hint}"]


def export(paths: SessionPaths, target: Path | None, *, force: bool) -> list[str]:
    if target is None:
        raise ValueError("no export directory: pass --export-to DIR")
    if target.exists() and any(target.iterdir()) and not force:
        raise FileExistsError(f"{target}: not empty; pass --force to overwrite")
    # symlinks=True: a link is copied as a link, never followed — an artifact
    # symlink to /etc/shadow must not put the file's content in the export (§1)
    shutil.copytree(paths.artifacts, target, dirs_exist_ok=True, symlinks=True)
    return [f"[executor] Exported artifacts to {target}"]


def perform(
    action: Action,
    *,
    paths: SessionPaths,
    session_file: SessionFile,
    now: float,
    export_to: Path | None,
    force: bool,
    resume_hint: str,
) -> Result:
    try:
        if action is Action.ARCHIVE:
            return Result(action, tuple(archive(paths, session_file, now)))
        if action is Action.EXPORT:
            lines = export(paths, export_to, force=force)
            lines += archive(paths, session_file, now)
            return Result(action, tuple(lines))
    except (OSError, ValueError) as exc:
        lines = keep(paths, session_file, resume_hint)
        return Result(Action.KEEP, tuple(lines), warning=f"{action.value} failed: {exc}")
    return Result(Action.KEEP, tuple(keep(paths, session_file, resume_hint)))
