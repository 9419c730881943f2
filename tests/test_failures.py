import pytest

from factories import make_spec
from teamexec.core.failures import FailureKind, backoff_s, classify


@pytest.mark.parametrize(
    ("tail", "kind"),
    [
        pytest.param("Error: rate limit exceeded", FailureKind.TRANSIENT, id="rate-limit"),
        pytest.param("HTTP 429 Too Many Requests", FailureKind.TRANSIENT, id="429"),
        pytest.param("connection reset by peer", FailureKind.TRANSIENT, id="reset"),
        pytest.param("503 Service Unavailable", FailureKind.TRANSIENT, id="503"),
        pytest.param("sh: agent: command not found", FailureKind.PERMANENT, id="not-found"),
        pytest.param("Invalid API key", FailureKind.PERMANENT, id="auth"),
        pytest.param("assertion failed", FailureKind.UNKNOWN, id="unknown"),
    ],
)
def test_classify(tail, kind):
    assert classify(tail, None) is kind


def test_role_spec_lists_replace_the_defaults():
    spec = make_spec("a", "A", transient_patterns=("flaky",), permanent_patterns=())
    assert classify("flaky network", spec) is FailureKind.TRANSIENT
    assert classify("command not found", spec) is FailureKind.UNKNOWN


def test_backoff_is_capped_and_jittered_deterministically():
    assert 2 <= backoff_s("T", 1) < 2.5
    assert backoff_s("T", 20) == 300
    assert backoff_s("T", 3) == backoff_s("T", 3)
    assert backoff_s("T", 3, scale=0.0) == 0.0
