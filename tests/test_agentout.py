"""agentout: each agent's headless output, as its CLI writes it, read into an AgentRun."""

from __future__ import annotations

import json

import pytest

from teamexec.core.agentout import (
    AgentKind,
    agent_kind,
    budget_argv,
    continue_argv,
    json_values,
    parse,
    reset_from_text,
)

CLAUDE_OK = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "duration_ms": 5120,
    "duration_api_ms": 4000,
    "num_turns": 4,
    "result": "done",
    "session_id": "c0ffee",
    "total_cost_usd": 0.0731,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 500,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 30000,
    },
}


@pytest.mark.parametrize(
    ("declared", "argv", "kind"),
    [
        pytest.param(None, ["claude", "-p"], AgentKind.CLAUDE, id="claude"),
        pytest.param(None, ["/usr/local/bin/codex", "exec"], AgentKind.CODEX, id="codex-path"),
        pytest.param(None, ["gemini"], AgentKind.GEMINI, id="gemini"),
        pytest.param(None, ["python3", "agent.py"], AgentKind.PLAIN, id="plain"),
        pytest.param("claude", ["wrapper.sh"], AgentKind.CLAUDE, id="declared"),
        pytest.param(None, None, AgentKind.PLAIN, id="no-agent"),
    ],
)
def test_agent_kind(declared, argv, kind):
    assert agent_kind(declared, argv) is kind


def test_claude_json_result_alone():
    run = parse(AgentKind.CLAUDE, "some stderr\n" + json.dumps(CLAUDE_OK) + "\n")
    assert run.found and not run.is_error and not run.rate_limited
    assert run.session_id == "c0ffee"
    assert run.turns == 4
    assert run.duration_ms == 5120
    assert run.cost_usd == pytest.approx(0.0731)
    assert run.tokens == {"input": 10, "output": 500, "cache_creation": 2000, "cache_read": 30000}
    assert run.total_tokens == 32510


def test_claude_verbose_array_and_stream_json_take_the_result():
    array = json.dumps([{"type": "system", "session_id": "c0ffee"}, CLAUDE_OK])
    stream = "\n".join(json.dumps(x) for x in ({"type": "system"}, CLAUDE_OK))
    assert parse(AgentKind.CLAUDE, array).cost_usd == parse(AgentKind.CLAUDE, stream).cost_usd


def test_claude_is_error_with_subtype_success_is_a_failure():
    result = {**CLAUDE_OK, "is_error": True, "api_error_status": 500, "result": "API Error: 500"}
    run = parse(AgentKind.CLAUDE, json.dumps(result))
    assert run.is_error and run.subtype == "success"
    assert run.api_error_status == 500 and not run.rate_limited
    assert run.error == "API Error: 500"


def test_claude_429_and_rate_limit_event_with_camelcase_resets_at():
    event = {
        "type": "rate_limit_event",
        "rate_limit_info": {
            "status": "rejected",
            "resetsAt": 1767225600,
            "rateLimitType": "five_hour",
        },
        "uuid": "u",
        "session_id": "c0ffee",
    }
    result = {**CLAUDE_OK, "is_error": True, "api_error_status": 429}
    run = parse(AgentKind.CLAUDE, json.dumps(event) + "\n" + json.dumps(result))
    assert run.rate_limited and run.resets_at == 1767225600
    only_status = parse(AgentKind.CLAUDE, json.dumps({**result, "api_error_status": 529}))
    assert only_status.rate_limited and only_status.resets_at is None


def test_claude_warning_event_is_not_a_limit():
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed_warning"}}
    run = parse(AgentKind.CLAUDE, json.dumps(event) + "\n" + json.dumps(CLAUDE_OK))
    assert not run.rate_limited


def test_claude_usage_limit_message_carries_its_reset():
    result = {**CLAUDE_OK, "is_error": True, "result": "Claude AI usage limit reached|1767225600"}
    run = parse(AgentKind.CLAUDE, json.dumps(result))
    assert run.rate_limited and run.resets_at == 1767225600


def test_claude_context_overflow():
    result = {**CLAUDE_OK, "is_error": True, "result": "Prompt is too long"}
    assert parse(AgentKind.CLAUDE, json.dumps(result)).context_overflow


CODEX = [
    {"type": "thread.started", "thread_id": "0199a213-81c0"},
    {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "item_3", "type": "agent_message", "text": "ok"}},
    {
        "type": "turn.completed",
        "usage": {"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122},
    },
]


def test_codex_events():
    run = parse(AgentKind.CODEX, "\n".join(json.dumps(e) for e in CODEX))
    assert run.found and not run.is_error
    assert run.session_id == "0199a213-81c0" and run.turns == 1
    assert run.tokens == {"input": 315, "cached_input": 24448, "output": 122}
    assert run.total_tokens == 24763 + 122
    assert run.cost_usd is None


def test_codex_turn_failed_rate_limit_and_overflow():
    failed = {"type": "turn.failed", "error": {"message": "429 Too Many Requests"}}
    run = parse(AgentKind.CODEX, "\n".join(json.dumps(e) for e in [*CODEX[:2], failed]))
    assert run.is_error and run.rate_limited and run.error == "429 Too Many Requests"
    usage = {"type": "turn.failed", "error": {"message": "usage limit; try again in 2 minutes"}}
    limited = parse(AgentKind.CODEX, json.dumps(usage), now=1000.0)
    assert limited.rate_limited and limited.resets_at == 1120.0
    overflow = {"type": "turn.failed", "error": {"message": "exceeds the context window"}}
    assert parse(AgentKind.CODEX, json.dumps(overflow)).context_overflow


GEMINI = {
    "session_id": "g-1",
    "response": "done",
    "stats": {
        "models": {
            "gemini-2.5-pro": {
                "api": {"totalRequests": 3, "totalErrors": 0, "totalLatencyMs": 2100},
                "tokens": {"prompt": 900, "candidates": 80, "total": 980, "cached": 0},
            }
        }
    },
}


def test_gemini_indented_object_among_stderr_lines():
    text = "Loaded cached credentials.\n" + json.dumps(GEMINI, indent=2) + "\n"
    run = parse(AgentKind.GEMINI, text)
    assert run.found and not run.is_error
    assert run.session_id == "g-1" and run.turns == 3 and run.duration_ms == 2100
    assert run.tokens == {"input": 900, "output": 80}


def test_gemini_error_429():
    text = json.dumps({"error": {"type": "ApiError", "message": "Quota exceeded", "code": 429}})
    run = parse(AgentKind.GEMINI, text)
    assert run.is_error and run.rate_limited and run.api_error_status == 429


def test_plain_reads_nothing_and_nothing_found_is_found_false():
    assert not parse(AgentKind.PLAIN, json.dumps(CLAUDE_OK)).found
    assert not parse(AgentKind.CLAUDE, "no json here\n{broken").found


def test_json_values_skips_broken_lines_and_flattens_arrays():
    text = '{"a": 1}\n{broken\n[{"b": 2}, {"c": 3}]\nplain\n'
    assert list(json_values(text)) == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_reset_from_text():
    assert reset_from_text("try again in 1 hour 30 minutes", 0.0) == 5400.0
    assert reset_from_text("nothing", 0.0) is None


def test_continue_and_budget_argv():
    assert continue_argv(AgentKind.CLAUDE, ("claude", "-p"), "s1") == (
        "claude",
        "-p",
        "--resume",
        "s1",
    )
    assert continue_argv(AgentKind.CODEX, ("codex", "exec", "--json", "-"), "t1") == (
        "codex",
        "exec",
        "--json",
        "resume",
        "t1",
        "-",
    )
    assert continue_argv(AgentKind.GEMINI, ("gemini",), "g") is None
    assert budget_argv(AgentKind.CLAUDE, ("claude", "-p"), 2.0) == (
        "claude",
        "-p",
        "--max-budget-usd",
        "2",
    )
    assert budget_argv(AgentKind.CODEX, ("codex",), 2.0) == ("codex",)
