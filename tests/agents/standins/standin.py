"""Stand-ins for Claude Code, Codex and Gemini CLI that print what the real ones print.

The executables beside this file (``claude``, ``codex``, ``gemini``) call
``main(kind)``.  Tests put this folder first on PATH, so a role whose agent is
``claude -p --output-format json`` runs this instead.  Each run reads its
prompt on stdin and does what ``<session>/behaviour.json`` says for its task
(``TEAMEXEC_SESSION``, ``TEAMEXEC_TASK_ID``, ``TEAMEXEC_ATTEMPT`` tell it
which), in the output shape of the agent it stands for:

- ``outcomes``: one per attempt (the last repeats): ``success``; ``error``
  (exit 1); ``is_error`` (claude: exit 0 but ``is_error: true``, subtype
  ``success``, ``api_error_status`` 500); ``429`` (a rate limit with its
  reset ``resets_in`` seconds ahead: claude ``rate_limit_event`` with
  ``resetsAt`` + ``api_error_status`` 429, codex ``turn.failed``, gemini
  ``error.code`` 429); ``overflow`` (a context overflow);
- ``cost`` (USD, charged to every run but a rate-limited one), ``sleep``,
  ``artifact`` (false: write no deliverable), ``tokens`` {input, output};
- ``team_worker`` (claude): find the task as CCW's team-worker does (Phase 1:
  TaskList in ``$CLAUDE_CODE_TASK_LIST_ID``, the first pending, unblocked
  entry of its prefix, claimed ``in_progress``) and complete it there
  (Phase 5: TaskUpdate ``completed``); ``exit`` then sets the exit code.

Every run is recorded in ``<session>/runs/<task>.<attempt>.<pid>.json``
(argv, cost charged, session id) so tests can sum what the agents spent.
Formats follow the Claude Agent SDK's ResultMessage/RateLimitEvent, Codex's
docs/exec.md and Gemini CLI's headless reference.  Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any


def _behaviour(session: Path, task: str) -> dict[str, Any]:
    try:
        data = json.loads((session / "behaviour.json").read_text())
    except FileNotFoundError:
        return {}
    value = data.get(task, data.get("*", {}))
    return value if isinstance(value, dict) else {}


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def _prompt_field(prompt: str, name: str) -> str:
    """A ``name: value`` line of the prompt's Role Assignment."""
    for line in prompt.splitlines():
        if line.startswith(f"{name}: "):
            return line[len(name) + 2 :].strip()
    raise SystemExit(f"no {name} in the prompt")


def _prefixes(role_spec: Path) -> list[str]:
    """``prefix`` and ``additional_prefixes`` from the role-spec frontmatter (plain lines)."""
    found: list[str] = []
    for line in role_spec.read_text().split("---")[1].splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "prefix":
            found.append(value.strip().strip('"'))
        elif key.strip() == "additional_prefixes":
            found.extend(json.loads(value.strip() or "[]"))
    return found


def _task_update(path: Path, **changes: Any) -> None:
    """Claude Code's TaskUpdate: the entry rewritten whole (temporary file, rename)."""
    entry = json.loads(path.read_text())
    entry.update(changes)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(entry, indent=2))
    os.replace(tmp, path)


def team_worker(prompt: str, session: Path) -> str | None:
    """team-worker.md Phase 1 and Phase 5 against the Claude task list; the subject done.

    Phase 1: TaskList; the entries whose subject starts with the role's prefix
    + "-", status ``pending``, every blocker completed; the first by id;
    TaskUpdate ``in_progress``.  Phase 2-4: the artifact.  Phase 5: TaskUpdate
    ``completed``.  None when no task was found ("No tasks found", STOP).
    """
    assert os.environ.get("CLAUDE_CODE_ENABLE_TODO_TOOLS") == "1"
    config = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    directory = config / "tasks" / os.environ["CLAUDE_CODE_TASK_LIST_ID"]
    prefixes = _prefixes(Path(_prompt_field(prompt, "role_spec")))
    entries = {}
    for path in directory.glob("*.json"):
        entry = json.loads(path.read_text())
        entries[str(entry["id"])] = (path, entry)
    status = {number: entry.get("status") for number, (_p, entry) in entries.items()}
    mine = [
        (int(number), path, entry)
        for number, (path, entry) in entries.items()
        if any(str(entry.get("subject", "")).startswith(f"{p}-") for p in prefixes)
        and entry.get("status") == "pending"
        and all(status.get(str(b)) == "completed" for b in entry.get("blockedBy") or ())
    ]
    if not mine:
        print("No tasks found", flush=True)
        return None
    _number, path, entry = min(mine, key=lambda item: item[0])
    _task_update(path, status="in_progress")
    subject = str(entry["subject"])
    artifact = session / "artifacts" / f"{subject.lower()}.md"
    artifact.parent.mkdir(exist_ok=True)
    artifact.write_text(f"# {subject}\n")
    _task_update(path, status="completed")
    return subject


def main(kind: str) -> int:
    argv = sys.argv[1:]
    prompt = sys.stdin.read()
    session = Path(os.environ["TEAMEXEC_SESSION"])
    task = os.environ["TEAMEXEC_TASK_ID"]
    attempt = int(os.environ.get("TEAMEXEC_ATTEMPT", "1"))
    how = _behaviour(session, task)
    outcomes = how.get("outcomes") or ["success"]
    outcome = outcomes[min(attempt, len(outcomes)) - 1]
    time.sleep(float(how.get("sleep", 0)))
    resumed = _flag(argv, "--resume") if kind == "claude" else None
    if kind == "codex" and "resume" in argv:
        resumed = argv[argv.index("resume") + 1]
    conversation = resumed or f"{kind}-{task}-{attempt}-{uuid.uuid4().hex[:6]}"
    cost = 0.0 if outcome == "429" else float(how.get("cost", 0.1))
    tokens = how.get("tokens") or {"input": 1000, "output": 200}
    resets_at = math.ceil(time.time() + float(how.get("resets_in", 1)))
    if outcome == "success" and how.get("artifact", True):
        artifact = session / "artifacts" / f"{task.lower()}.md"
        artifact.parent.mkdir(exist_ok=True)
        artifact.write_text(f"# {task}\n\nattempt {attempt}\n")
    claimed = None
    if how.get("team_worker") and outcome == "success":
        claimed = team_worker(prompt, session)
        if claimed is None:
            outcome = "error"
    runs = session / "runs"
    runs.mkdir(exist_ok=True)
    record = {
        "task": task,
        "claimed": claimed,
        "kind": kind,
        "argv": argv,
        "outcome": outcome,
        "cost": cost,
        "session_id": conversation,
        "prompt_head": prompt[:300],
    }
    (runs / f"{task}.{attempt}.{os.getpid()}.json").write_text(json.dumps(record))
    printer = {"claude": _claude, "codex": _codex, "gemini": _gemini}[kind]
    code = printer(
        argv,
        outcome=outcome,
        conversation=conversation,
        cost=cost,
        tokens=tokens,
        resets_at=resets_at,
    )
    return int(how["exit"]) if "exit" in how else code


def _claude(
    argv: list[str],
    *,
    outcome: str,
    conversation: str,
    cost: float,
    tokens: dict[str, int],
    resets_at: int,
) -> int:
    stream = _flag(argv, "--output-format") == "stream-json"
    lines: list[dict[str, Any]] = []
    if stream:
        lines.append({"type": "system", "subtype": "init", "session_id": conversation, "tools": []})
    result: dict[str, Any] = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": 1234,
        "duration_api_ms": 1000,
        "num_turns": 3,
        "result": "done",
        "session_id": conversation,
        "total_cost_usd": cost,
        "usage": {
            "input_tokens": tokens["input"],
            "output_tokens": tokens["output"],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    code = 0
    if outcome == "429":
        info = {
            "status": "rejected",
            "resetsAt": resets_at,
            "rateLimitType": "five_hour",
            "utilization": 1.0,
        }
        lines.append(
            {
                "type": "rate_limit_event",
                "rate_limit_info": info,
                "uuid": str(uuid.uuid4()),
                "session_id": conversation,
            }
        )
        result.update(is_error=True, api_error_status=429, result="API Error: 429", num_turns=1)
        code = 1
    elif outcome == "is_error":
        result.update(is_error=True, api_error_status=500, result="API Error: 500 Internal")
    elif outcome == "overflow":
        result.update(is_error=True, result="Prompt is too long")
        code = 1
    elif outcome == "error":
        result.update(subtype="error_during_execution", is_error=True, result="tool failed")
        code = 1
    lines.append(result)
    # stream-json prints every event; with json the result comes alone, after a
    # rate-limit event when there is one: the same lines in both modes here
    for line in lines:
        print(json.dumps(line), flush=True)
    return code


def _codex(
    argv: list[str],
    *,
    outcome: str,
    conversation: str,
    cost: float,
    tokens: dict[str, int],
    resets_at: int,
) -> int:
    events: list[dict[str, Any]] = [
        {"type": "thread.started", "thread_id": conversation},
        {"type": "turn.started"},
    ]
    code = 0
    if outcome == "success":
        events.append(
            {
                "type": "item.completed",
                "item": {"id": "item_0", "type": "agent_message", "text": "done"},
            }
        )
        usage = {
            "input_tokens": tokens["input"],
            "cached_input_tokens": tokens.get("cached", 0),
            "output_tokens": tokens["output"],
        }
        events.append({"type": "turn.completed", "usage": usage})
    else:
        message = {
            "429": "exceeded retry limit, last status: 429 Too Many Requests",
            "overflow": "input exceeds the context window of this model",
        }.get(outcome, "stream disconnected before completion")
        events.append({"type": "turn.failed", "error": {"message": message}})
        code = 1
    for event in events:
        print(json.dumps(event), flush=True)
    return code


def _gemini(
    argv: list[str],
    *,
    outcome: str,
    conversation: str,
    cost: float,
    tokens: dict[str, int],
    resets_at: int,
) -> int:
    output: dict[str, Any] = {"session_id": conversation}
    stats = {
        "models": {
            "gemini-2.5-pro": {
                "api": {"totalRequests": 2, "totalErrors": 0, "totalLatencyMs": 900},
                "tokens": {
                    "input": tokens["input"],
                    "prompt": tokens["input"],
                    "candidates": tokens["output"],
                    "total": tokens["input"] + tokens["output"],
                    "cached": 0,
                    "thoughts": 0,
                    "tool": 0,
                },
            }
        },
        "tools": {"totalCalls": 0},
        "files": {"totalLinesAdded": 0, "totalLinesRemoved": 0},
    }
    code = 0
    if outcome == "success":
        output.update(response="done", stats=stats)
    else:
        error = {
            "429": {"type": "ApiError", "message": "Resource exhausted (429)", "code": 429},
            "overflow": {"type": "ApiError", "message": "input is too long", "code": 400},
        }.get(outcome, {"type": "Error", "message": "failed", "code": 1})
        output["error"] = error
        code = 1
    print(json.dumps(output, indent=2), flush=True)  # gemini prints its object indented
    return code
