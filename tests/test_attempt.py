"""attempt: a reported completion judged by the agent's output and the deliverables."""

from __future__ import annotations

import pytest

from factories import make_spec
from teamexec.core import attempt
from teamexec.core.agentout import AgentKind, AgentRun
from teamexec.core.attempt import AttemptFacts, Evidence, EvidenceMode
from teamexec.core.failures import FailureKind
from teamexec.core.model import Task


def task(**meta):
    return Task({"id": "IMPL-001", "status": "in_progress", "owner": "impl", "metadata": meta})


def test_expected_deliverables_prefers_the_tasks_own_names():
    declared = ["impl-001-summary.md", "impl-002-summary.md"]
    assert attempt.expected_deliverables(declared, None, task_id="IMPL-001") == (
        "artifacts/impl-001-summary.md",
    )
    assert attempt.expected_deliverables(["findings.md"], "artifacts/x.md", task_id="IMPL-001") == (
        "artifacts/findings.md",
        "artifacts/x.md",
    )


@pytest.mark.parametrize(
    ("mtimes", "ok"),
    [
        pytest.param({"artifacts/a.md": 100.0}, True, id="written-during"),
        pytest.param({"artifacts/a.md": 10.0}, False, id="stale"),
        pytest.param({"artifacts/a.md": None}, False, id="missing"),
        pytest.param({"artifacts/a.md": 99.5}, True, id="coarse-clock-slack"),
    ],
)
def test_judge_evidence(mtimes, ok):
    assert attempt.judge_evidence(("artifacts/a.md",), mtimes, 100.0).ok is ok


def test_placeholder_matches_any_new_file_in_the_folder():
    evidence = attempt.judge_evidence(
        ("artifacts/<doc>.md",), {"artifacts/old.md": 1.0, "artifacts/new.md": 200.0}, 100.0
    )
    assert evidence.written == ("artifacts/new.md",)


RUN = AgentRun(kind=AgentKind.CLAUDE, found=True, session_id="s1", cost_usd=0.5)
MISSING = Evidence(("artifacts/a.md",), ())


@pytest.mark.parametrize(
    ("facts", "kind"),
    [
        pytest.param(AttemptFacts(1, RUN), None, id="clean"),
        pytest.param(
            AttemptFacts(
                1, AgentRun(AgentKind.CLAUDE, found=True, is_error=True, subtype="success")
            ),
            FailureKind.UNKNOWN,
            id="is_error",
        ),
        pytest.param(
            AttemptFacts(
                1, AgentRun(AgentKind.CODEX, found=True, is_error=True, rate_limited=True)
            ),
            FailureKind.RATE_LIMITED,
            id="rate-limited",
        ),
        pytest.param(AttemptFacts(1, RUN, MISSING, EvidenceMode.WARN), None, id="warn"),
        pytest.param(
            AttemptFacts(1, RUN, MISSING, EvidenceMode.REQUIRE),
            FailureKind.NO_EVIDENCE,
            id="require",
        ),
    ],
)
def test_failure(facts, kind):
    found = attempt.failure(facts)
    assert (found[0] if found else None) is kind


def test_record_is_once_per_attempt_and_notes_missing_evidence():
    facts = AttemptFacts(1, RUN, MISSING, EvidenceMode.WARN)
    once = attempt.record(task(attempts=1), facts, now=0.0)
    twice = attempt.record(once, facts, now=0.0)
    assert twice.metadata["runs"] == once.metadata["runs"] and len(once.metadata["runs"]) == 1
    assert once.metadata["agent_session"] == "s1"
    assert once.metadata["evidence_missing"] == ["artifacts/a.md"]


def test_resume_session_unless_disabled_or_overflowed():
    ran = task(attempts=2, runs=[{"attempt": 1, "session_id": "s1"}])
    assert attempt.resume_session(ran, None) == "s1"
    assert attempt.resume_session(ran, make_spec("impl", "IMPL", resume_on_retry=False)) is None
    over = task(attempts=2, runs=[{"attempt": 1, "session_id": "s1", "context_overflow": True}])
    assert attempt.resume_session(over, None) is None
    assert attempt.agent_command(AgentKind.CLAUDE, ("claude", "-p"), spec=None, resume="s1") == (
        "claude",
        "-p",
        "--resume",
        "s1",
    )
