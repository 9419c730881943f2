"""A stand-in for CCW's ``team_msg`` tool (ccw/src/tools/team-msg.ts, CCW 07491b04).

Writes exactly what team-msg.ts writes, so tests see the files CCW's own tools
leave: the session directory is ``<project root>/.workflow/.team/<session_id>``
with the root from ``CCW_PROJECT_ROOT``, else the working directory
(``getProjectRoot`` in ccw/src/utils/path-validator.ts); ``log`` reads every
line, picks ``MSG-`` + (highest number + 1) zero-padded to 3 (``getNextId``),
stamps ``new Date().toISOString()`` with ``Z`` replaced by ``+00:00``
(``nowISO``), appends ``JSON.stringify(msg) + "\\n"`` (keys id, ts, from, to,
type, summary, then data only when given) in one write; a ``state_update``
then merges ``data`` into ``meta.json``'s ``role_state[from]`` with
``_updated_at``, promotes pipeline_mode/pipeline_stages/team_name/
task_description/roles to the top level, sets ``updated_at`` and rewrites
meta.json with ``JSON.stringify(meta, null, 2)`` — in place, no lock, no
rename, as ``writeFileSync`` does.  Standard library only (agents run it).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

_SEQ = re.compile(r"^MSG-(\d+)$")
TOP_LEVEL = ("pipeline_mode", "pipeline_stages", "team_name", "task_description", "roles")


def project_root() -> Path:
    return Path(os.environ.get("CCW_PROJECT_ROOT") or os.getcwd())


def log_dir(session_id: str) -> Path:
    return project_root() / ".workflow" / ".team" / session_id / ".msg"


def now_iso() -> str:
    moment = datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def stringify(value: Any, indent: int | None = None) -> str:
    """``JSON.stringify``: compact, or with ``indent`` spaces; non-ASCII kept."""
    if indent is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, indent=indent)


def read_all(path: Path) -> list[dict[str, Any]]:
    """``readAllMessages``: every line that parses; the rest dropped."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return []
    out = []
    for line in text.split("\n") if text else []:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def next_id(messages: list[dict[str, Any]]) -> str:
    top = 0
    for message in messages:
        match = _SEQ.match(str(message.get("id", "")))
        if match:
            top = max(top, int(match.group(1)))
    return f"MSG-{top + 1:03d}"


def effective_meta(directory: Path, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """``getEffectiveTeamMeta`` for a session without legacy files."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if isinstance(meta, dict):
            return meta
    except (FileNotFoundError, ValueError):
        pass
    created = now_iso()
    status = "completed" if messages and messages[-1].get("type") == "shutdown" else "active"
    updated = messages[-1].get("ts", created) if messages else created
    return {"status": status, "created_at": created, "updated_at": updated}


def log(
    session_id: str,
    *,
    sender: str,
    type_: str = "message",
    summary: str | None = None,
    data: dict[str, Any] | None = None,
    to: str = "coordinator",
) -> str:
    """``opLog``: append one message; returns its id."""
    directory = log_dir(session_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "messages.jsonl"
    messages = read_all(path)
    msg_id = next_id(messages)
    message: dict[str, Any] = {
        "id": msg_id,
        "ts": now_iso(),
        "from": sender,
        "to": to,
        "type": type_,
        "summary": summary or f"[{sender}] {type_} → {to}",
    }
    if data is not None:
        message["data"] = data
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (stringify(message) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    if type_ == "state_update" and data:
        meta = effective_meta(directory, messages)
        role_state = meta.setdefault("role_state", {})
        role_state[sender] = {**role_state.get(sender, {}), **data, "_updated_at": now_iso()}
        for key in TOP_LEVEL:
            if key in data:
                meta[key] = data[key]
        meta["updated_at"] = now_iso()
        (directory / "meta.json").write_text(stringify(meta, 2), encoding="utf-8")
        if os.environ.get("TEAM_MSG_META_COPY"):  # tests: what this write left, to compare
            Path(os.environ["TEAM_MSG_META_COPY"]).write_text(stringify(meta, 2))
    return msg_id


def get_state(session_id: str, role: str | None = None) -> Any:
    """``opGetState``: ``role_state`` (or one role's entry) from meta.json."""
    meta = effective_meta(log_dir(session_id), [])
    states = meta.get("role_state") or {}
    return states.get(role) if role else states


if __name__ == "__main__":  # team_msg.py <session_id> <from> <type> [json data]
    payload = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    print(log(sys.argv[1], sender=sys.argv[2], type_=sys.argv[3], data=payload))
