"""What an agent's headless output says about one attempt (PROTOCOL §10): a pure parser.

Given the text of an attempt's log (``logs/<TASK-ID>.<attempt>.log``, where
the worker put the agent's stdout and stderr) and the agent's kind, ``parse``
returns an ``AgentRun``: the conversation's id (to continue it), turns,
duration, cost, tokens, and whether the run failed, hit a rate limit (with
the reset time when the agent said one) or overflowed its context.

- claude: the ``type: "result"`` object (``-p --output-format json`` prints it
  alone, ``stream-json`` as the last line, ``--verbose`` inside an array) and
  ``rate_limit_event`` lines;
- codex: ``exec --json`` JSONL events ``thread.started``, ``turn.completed``
  (usage), ``turn.failed``, ``error``;
- gemini: the ``--output-format json`` object ``{session_id, response, stats, error}``;
- plain: nothing, its exit code alone decides.

The field names are the ones the CLIs write on the wire (Claude's
``rate_limit_info.resetsAt`` is camelCase, its result fields snake_case).
Standard library only and no I/O: the built-in worker may import it, and the
executor calls it with text it read.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AgentKind(StrEnum):
    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"
    PLAIN = "plain"


RATE_LIMIT_STATUSES = frozenset({429, 529})


class LazyPattern:
    """A regex compiled on first use: these four took ~6 ms of every start-up to
    compile, and most runs never look at an agent's error text."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled.search(text)


RATE_LIMIT_TEXT = LazyPattern(
    r"\b(429|529)\b|rate.?limit|overloaded|usage limit|too many requests|resource.?exhausted|quota",
    re.IGNORECASE,
)
CONTEXT_OVERFLOW_TEXT = LazyPattern(
    r"prompt is too long|context.?(length|window)|context_length_exceeded|maximum context|"
    r"input is too long|too many tokens",
    re.IGNORECASE,
)
# Claude Code's older usage-limit line: "Claude AI usage limit reached|1767225600"
USAGE_LIMIT_EPOCH = LazyPattern(r"usage limit reached\|(\d{9,11})", re.IGNORECASE)
# Codex: "... try again in 2 hours 5 minutes" / "try again in 30 seconds"
TRY_AGAIN_IN = LazyPattern(
    r"try again in\s+((?:\d+(?:\.\d+)?\s*(?:days?|hours?|hrs?|minutes?|mins?|seconds?|secs?|s|m|h)"
    r"[\s,and]*)+)",
    re.IGNORECASE,
)
UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def agent_kind(declared: str | None, argv: Sequence[str] | None) -> AgentKind:
    """The role's ``agent_kind``, else the agent's program name, else ``plain``."""
    if declared:
        try:
            return AgentKind(declared)
        except ValueError:
            return AgentKind.PLAIN
    if argv:
        name = os.path.basename(argv[0]).lower()
        name = name.removesuffix(".exe").removesuffix(".cmd").removesuffix(".js")
        for kind in (AgentKind.CLAUDE, AgentKind.CODEX, AgentKind.GEMINI):
            if name == kind.value:
                return kind
    return AgentKind.PLAIN


@dataclass(frozen=True)
class AgentRun:
    """One attempt as the agent reported it; ``found`` is False when it printed nothing we read."""

    kind: AgentKind
    found: bool = False
    session_id: str | None = None
    turns: int | None = None
    duration_ms: float | None = None
    cost_usd: float | None = None
    tokens: Mapping[str, int] = field(default_factory=dict)
    is_error: bool = False
    subtype: str | None = None
    api_error_status: int | None = None
    error: str | None = None
    rate_limited: bool = False
    resets_at: float | None = None  # epoch seconds, when the agent said when
    context_overflow: bool = False

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())

    def metadata(self, attempt: int) -> dict[str, Any]:
        """The per-attempt record kept in the task's ``metadata.runs``."""
        record: dict[str, Any] = {"attempt": attempt, "agent": self.kind.value}
        for key in ("session_id", "turns", "duration_ms", "cost_usd", "subtype", "error"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.tokens:
            record["tokens"] = dict(self.tokens)
        if self.is_error:
            record["is_error"] = True
        if self.api_error_status is not None:
            record["api_error_status"] = self.api_error_status
        if self.rate_limited:
            record["rate_limited"] = True
            if self.resets_at is not None:
                record["resets_at"] = self.resets_at
        if self.context_overflow:
            record["context_overflow"] = True
        return record


def json_values(text: str) -> Iterator[Any]:
    """Every JSON object or array that starts a line, in order; arrays are flattened.

    One line is one value for JSONL; a value spread over lines (gemini prints
    its object indented) is decoded from where its first line starts.
    """
    decoder = json.JSONDecoder()
    offset = 0
    resume_at = 0
    for line in text.splitlines(keepends=True):
        start = offset
        offset += len(line)
        if start < resume_at:
            continue
        stripped = line.strip()
        if not stripped or stripped[0] not in "{[":
            continue
        try:
            value = json.loads(stripped)
        except ValueError:
            lead = start + (len(line) - len(line.lstrip()))
            try:
                value, end = decoder.raw_decode(text, lead)
            except ValueError:
                continue
            resume_at = end
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None else None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _overflowed(message: str | None) -> bool:
    return bool(message) and CONTEXT_OVERFLOW_TEXT.search(message or "") is not None


def reset_from_text(text: str, now: float | None) -> float | None:
    """A reset time written in an error message: an epoch, or "try again in ..." (needs ``now``)."""
    match = USAGE_LIMIT_EPOCH.search(text)
    if match:
        return float(match.group(1))
    match = TRY_AGAIN_IN.search(text)
    if match and now is not None:
        seconds = 0.0
        for amount, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", match.group(1), re.I):
            seconds += float(amount) * UNIT_S.get(unit[0].lower(), 0.0)
        return now + seconds if seconds else None
    return None


def parse(kind: AgentKind, text: str, *, now: float | None = None) -> AgentRun:
    """What the agent's output in ``text`` says; ``now`` turns "try again in" into a time."""
    if kind is AgentKind.CLAUDE:
        return _claude(text, now)
    if kind is AgentKind.CODEX:
        return _codex(text, now)
    if kind is AgentKind.GEMINI:
        return _gemini(text, now)
    return AgentRun(kind=kind)


def _limited_by_text(message: str | None) -> bool:
    return bool(message) and RATE_LIMIT_TEXT.search(message or "") is not None


def _claude(text: str, now: float | None) -> AgentRun:
    result: Mapping[str, Any] | None = None
    rejected_until: float | None = None
    rejected = False
    session_id: str | None = None
    for value in json_values(text):
        if not isinstance(value, dict):
            continue
        kind = value.get("type")
        if isinstance(value.get("session_id"), str):
            session_id = value["session_id"]
        if kind == "result":
            result = value
        elif kind == "rate_limit_event":
            info = value.get("rate_limit_info")
            if isinstance(info, dict) and info.get("status") == "rejected":
                rejected = True
                rejected_until = _num(info.get("resetsAt")) or rejected_until
    if result is None:
        return AgentRun(
            kind=AgentKind.CLAUDE,
            found=session_id is not None or rejected,
            session_id=session_id,
            rate_limited=rejected,
            resets_at=rejected_until,
        )
    usage = _obj(result.get("usage"))
    tokens = {
        name: count
        for name, key in (
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
        )
        if (count := _int(usage.get(key))) is not None
    }
    is_error = result.get("is_error") is True
    status = _int(result.get("api_error_status"))
    message = result.get("result") if isinstance(result.get("result"), str) else None
    errors = result.get("errors")
    if not message and isinstance(errors, list) and errors:
        message = "; ".join(str(e) for e in errors)
    subtype = result.get("subtype") if isinstance(result.get("subtype"), str) else None
    if is_error and not message:
        message = f"claude reported is_error ({subtype or 'no subtype'})"
    limited = rejected or status in RATE_LIMIT_STATUSES
    if is_error and not limited:
        limited = bool(message) and USAGE_LIMIT_EPOCH.search(message or "") is not None
    resets = rejected_until
    if limited and resets is None and message:
        resets = reset_from_text(message, now)
    return AgentRun(
        kind=AgentKind.CLAUDE,
        found=True,
        session_id=result.get("session_id")
        if isinstance(result.get("session_id"), str)
        else session_id,
        turns=_int(result.get("num_turns")),
        duration_ms=_num(result.get("duration_ms")),
        cost_usd=_num(result.get("total_cost_usd")),
        tokens=tokens,
        is_error=is_error,
        subtype=subtype,
        api_error_status=status,
        error=message if is_error else None,
        rate_limited=limited,
        resets_at=resets,
        context_overflow=is_error
        and bool(message)
        and bool(CONTEXT_OVERFLOW_TEXT.search(message or "")),
    )


def _codex(text: str, now: float | None) -> AgentRun:
    thread: str | None = None
    turns = 0
    tokens: dict[str, int] = {}
    error: str | None = None
    found = False
    for value in json_values(text):
        if not isinstance(value, dict):
            continue
        kind = value.get("type")
        if kind == "thread.started" and isinstance(value.get("thread_id"), str):
            thread, found = value["thread_id"], True
        elif kind == "turn.completed":
            found = True
            turns += 1
            usage = _obj(value.get("usage"))
            for name, key in (
                ("input", "input_tokens"),
                ("cached_input", "cached_input_tokens"),
                ("output", "output_tokens"),
            ):
                count = _int(usage.get(key))
                if count is not None:
                    tokens[name] = tokens.get(name, 0) + count
        elif kind == "turn.failed":
            found = True
            turns += 1
            err = value.get("error")
            error = str(err.get("message")) if isinstance(err, dict) else str(err or "turn failed")
        elif kind == "error" and isinstance(value.get("message"), str):
            found = True
            error = error or value["message"]
    # cached_input_tokens is a part of input_tokens: keep the parts apart, so that
    # the sum counts each token once (as Claude's input excludes its cache reads)
    if "cached_input" in tokens and "input" in tokens:
        tokens["input"] = max(0, tokens["input"] - tokens["cached_input"])
    failed = error is not None
    return AgentRun(
        kind=AgentKind.CODEX,
        found=found,
        session_id=thread,
        turns=turns or None,
        tokens=tokens,
        is_error=failed,
        error=error,
        rate_limited=failed and _limited_by_text(error),
        resets_at=reset_from_text(error, now) if failed and error else None,
        context_overflow=failed and _overflowed(error),
    )


def _gemini(text: str, now: float | None) -> AgentRun:
    output: Mapping[str, Any] | None = None
    for value in json_values(text):
        if isinstance(value, dict) and ({"response", "stats", "error"} & value.keys()):
            output = value
    if output is None:
        return AgentRun(kind=AgentKind.GEMINI)
    stats = _obj(output.get("stats"))
    models = _obj(stats.get("models"))
    tokens: dict[str, int] = {}
    requests = 0
    latency = 0.0
    for metrics in models.values():
        if not isinstance(metrics, dict):
            continue
        counts = _obj(metrics.get("tokens"))
        for name, key in (("input", "prompt"), ("output", "candidates"), ("thoughts", "thoughts")):
            count = _int(counts.get(key))
            if count is not None:
                tokens[name] = tokens.get(name, 0) + count
        api = _obj(metrics.get("api"))
        requests += _int(api.get("totalRequests")) or 0
        latency += _num(api.get("totalLatencyMs")) or 0.0
    error = output.get("error")
    message: str | None = None
    code: int | None = None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or "error")
        code = _int(error.get("code"))
    elif error:
        message = str(error)
    failed = message is not None
    limited = failed and (code in RATE_LIMIT_STATUSES or _limited_by_text(message))
    session = output.get("session_id")
    return AgentRun(
        kind=AgentKind.GEMINI,
        found=True,
        session_id=session if isinstance(session, str) else None,
        turns=requests or None,
        duration_ms=latency or None,
        tokens=tokens,
        is_error=failed,
        api_error_status=code if failed and code and code >= 400 else None,
        error=message,
        rate_limited=limited,
        resets_at=reset_from_text(message, now) if limited and message else None,
        context_overflow=failed and _overflowed(message),
    )


# --------------------------------------------------------------- agent argv


def continue_argv(kind: AgentKind, argv: Sequence[str], session_id: str) -> tuple[str, ...] | None:
    """The agent command that continues conversation ``session_id``; None when it cannot.

    claude: ``--resume <id>`` added.  codex: ``exec ... resume <id> -`` (the
    prompt still on stdin).  gemini and plain agents start afresh.
    """
    if kind is AgentKind.CLAUDE:
        return (*argv, "--resume", session_id)
    if kind is AgentKind.CODEX and "exec" in argv:
        base = list(argv)
        if base and base[-1] == "-":
            base.pop()
        return (*base, "resume", session_id, "-")
    return None


def budget_argv(kind: AgentKind, argv: Sequence[str], usd: float | None) -> tuple[str, ...]:
    """Pass a role's per-attempt spending cap to the agents that take one (Claude)."""
    if usd is None or kind is not AgentKind.CLAUDE or "--max-budget-usd" in argv:
        return tuple(argv)
    return (*argv, "--max-budget-usd", f"{usd:g}")
