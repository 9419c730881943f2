"""Parsing and validating one role-spec markdown file (PROTOCOL §4).

``parse_role_spec`` never raises: any text in, a ``RoleSpec`` or the list of
problems out, each with the file's line number.  Validation (validate.py)
calls it at load time, and the executor calls it again whenever someone
edits a role-spec while a pipeline runs (an invalid edit is reported and the
last valid version stays in force).

The YAML frontmatter is only *composed* by PyYAML's safe loader (which keeps
each node's line); the values are then built here from the plain YAML types
(string, integer, float, boolean, null, mapping, sequence).  Any other tag —
``!!python/object/apply:os.system`` included — is an error and never runs.
Decisions, documented in docs/DESIGN.md:

- aliases (``*name``) are refused: none is needed in a role-spec, and
  refusing them rules out self-referencing values and "billion laughs";
- a repeated key is an error (YAML forbids it; PyYAML would keep the last);
- a timestamp-looking value (``created: 2026-11-24``) stays a string;
- mapping keys are taken as written (``1:`` is the key ``"1"``).

python-frontmatter is not used: errors must carry file line numbers, which
that library does not keep.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

from teamexec.core.model import Issue, RoleSpec, Severity
from teamexec.validation import schema
from teamexec.validation.frontsplit import split_frontmatter
from teamexec.validation.jsonloc import escape
from teamexec.validation.nearmiss import near_miss
from teamexec.validation.simpleyaml import simple_frontmatter

PHASE_RE = re.compile(r"^##\s+Phase\s+([234])(?!\d)", re.IGNORECASE)
FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
NUMBER_KEYS = ("timeout_s", "stall_after_s", "max_budget_usd")


def load_frontmatter(
    front: str, *, path: str, first_line: int
) -> tuple[Any, dict[str, int], list[Issue]]:
    """The frontmatter's value: (value, pointer -> file line, issues).

    The plain shapes (``key: value`` lines, one level of nesting, flow lists)
    are read by simpleyaml.py; anything else by PyYAML (yamlfront.py), whose
    import alone was ~20 ms of every start-up.  Both give the same answer
    where the simple reader answers at all (tests/test_simpleyaml.py).
    """
    quick = simple_frontmatter(front, first_line=first_line)
    if quick is not None:
        value, lines = quick
        return value, lines, []
    from teamexec.validation.yamlfront import compose_frontmatter

    return compose_frontmatter(front, path=path, first_line=first_line)


def line_for(lines: Mapping[str, int], pointer: str, default: int) -> int:
    """The line of ``pointer`` or of its nearest ancestor; ``default`` for the root."""
    while pointer:
        if pointer in lines:
            return lines[pointer]
        pointer = pointer.rsplit("/", 1)[0]
    return default


def phase_issues(body: str, *, path: str, first_line: int) -> list[Issue]:
    """``## Phase 2``, ``## Phase 3``, ``## Phase 4`` present, in that order.

    Headings inside fenced code blocks do not count.  A missing heading is
    reported at the next phase heading present (where it belongs), else at
    the file's last line.
    """
    found: dict[str, int] = {}
    in_fence = False
    body_lines = body.splitlines()
    for number, line in enumerate(body_lines, start=first_line):
        if FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else PHASE_RE.match(line)
        if match and match.group(1) not in found:
            found[match.group(1)] = number
    last = first_line + max(0, len(body_lines) - 1)
    issues = []
    for phase in "234":
        if phase not in found:
            later = [found[p] for p in "234" if p > phase and p in found]
            issues.append(
                Issue(path, min(later, default=last), f"missing '## Phase {phase}' heading")
            )
    present = sorted((int(p), found[p]) for p in found)
    for (a, line_a), (b, line_b) in itertools.pairwise(present):
        if line_b < line_a:
            issues.append(
                Issue(path, line_b, f"'## Phase {b}' comes before '## Phase {a}': swap them")
            )
    return issues


def field_issues(
    front: Mapping[str, Any],
    lines: Mapping[str, int],
    *,
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
) -> list[Issue]:
    """Schema, agreement with team-session.json, regexes, commands and numbers."""
    issues = [
        Issue(path, line_for(lines, ptr, 1), f"frontmatter {ptr or '/'}: {msg}")
        for ptr, msg in schema.schema_errors("role-spec", dict(front))
    ]
    issues += _agreement(front, lines, path, expected_role, expected_prefix)
    for key in ("transient_patterns", "permanent_patterns"):
        patterns = front.get(key)
        for i, pattern in enumerate(patterns if isinstance(patterns, list) else ()):
            if isinstance(pattern, str) and (why := _regex_error(pattern)):
                issues.append(
                    Issue(path, lines.get(f"/{key}/{i}", 1), f"{key}[{i}]: invalid regex: {why}")
                )
    for key in ("agent", "worker"):
        if isinstance(front.get(key), str) and (why := _split_error(front[key])):
            issues.append(Issue(path, lines.get(f"/{key}", 1), f"{key}: cannot split: {why}"))
    for key in NUMBER_KEYS:
        value = front.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            issues.append(Issue(path, lines.get(f"/{key}", 1), f"{key}: must be a finite number"))
    return issues


def _agreement(
    front: Mapping[str, Any],
    lines: Mapping[str, int],
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
) -> list[Issue]:
    issues = []
    role, prefix = front.get("role"), front.get("prefix")
    if expected_role is not None and isinstance(role, str) and role != expected_role:
        issues.append(
            Issue(
                path,
                lines.get("/role", 1),
                f"role {role!r} does not match {expected_role!r}, the role team-session.json "
                "gives this file: make them equal",
            )
        )
    if expected_prefix is not None and isinstance(prefix, str) and prefix != expected_prefix:
        issues.append(
            Issue(
                path,
                lines.get("/prefix", 1),
                f"prefix {prefix!r} does not match team-session.json's {expected_prefix!r}: "
                "make them equal",
            )
        )
    return issues


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return str(exc)
    return None


def _split_error(command: str) -> str | None:
    try:
        shlex.split(command)
    except ValueError as exc:
        return f"{exc} (quote it, or write the command as a list)"
    return None


def _command(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    argv = tuple(shlex.split(value)) if isinstance(value, str) else tuple(str(v) for v in value)
    return argv or None


def _strings_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


def build_spec(front: Mapping[str, Any], *, body: str, rel_path: str) -> RoleSpec:
    """The ``RoleSpec`` of a frontmatter that passed ``field_issues``."""
    types = front["message_types"]
    max_concurrent = front.get("max_concurrent")
    return RoleSpec(
        role=front["role"],
        prefix=front["prefix"],
        inner_loop=front["inner_loop"],
        success_type=types["success"],
        error_type=types["error"],
        body=body,
        path=rel_path,
        agent=_command(front.get("agent")),
        worker=_command(front.get("worker")),
        additional_prefixes=tuple(front.get("additional_prefixes") or ()),
        max_concurrent=int(max_concurrent) if max_concurrent is not None else None,
        timeout_s=float(front.get("timeout_s", 1800)),
        max_retries=int(front.get("max_retries", 2)),
        stall_after_s=float(front.get("stall_after_s", 600)),
        env={str(k): str(v) for k, v in (front.get("env") or {}).items()},
        transient_patterns=_strings_or_none(front.get("transient_patterns")),
        permanent_patterns=_strings_or_none(front.get("permanent_patterns")),
        agent_kind=front.get("agent_kind"),
        max_budget_usd=(
            float(front["max_budget_usd"]) if front.get("max_budget_usd") is not None else None
        ),
        resume_on_retry=bool(front.get("resume_on_retry", True)),
        evidence=front.get("evidence"),
        frontmatter=front,
    )


def _parse(
    text: str,
    *,
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
    rel_path: str,
) -> tuple[RoleSpec | None, list[Issue]]:
    parts = split_frontmatter(text.removeprefix("\ufeff"))
    if parts is None:
        msg = "no YAML frontmatter: the file must start with '---', then the keys, then '---'"
        return None, [Issue(path, 1, msg)]
    front_text, front_line, body, body_line = parts
    front, lines, issues = load_frontmatter(front_text, path=path, first_line=front_line)
    if not issues and not isinstance(front, dict):
        issues = [Issue(path, front_line, "frontmatter must be a mapping of keys to values")]
    warnings: list[Issue] = []
    if not issues:
        warnings = key_warnings(front, lines, path=path)
        issues = field_issues(
            front, lines, path=path, expected_role=expected_role, expected_prefix=expected_prefix
        )
    issues += phase_issues(body, path=path, first_line=body_line)
    if issues:
        return None, issues + warnings
    return build_spec(front, body=body, rel_path=rel_path), warnings


# keys PROTOCOL §4 gives teamexec beyond those its JSON Schema checks
EXTRA_KEYS = ("agent_kind", "max_budget_usd", "resume_on_retry", "evidence")


def key_warnings(front: Mapping[str, Any], lines: Mapping[str, int], *, path: str) -> list[Issue]:
    """Unknown keys are kept (CCW writes its own); a near miss of a teamexec key warns."""
    known = [*schema.property_names("role-spec"), *EXTRA_KEYS]
    found = []
    for key in front:
        meant = near_miss(str(key), known, front)
        if meant is not None:
            found.append(
                Issue(
                    path,
                    lines.get(f"/{escape(str(key))}", 1),
                    f"unknown key {key!r}: did you mean {meant!r}? (kept, but teamexec "
                    f"ignores it and uses the default for {meant})",
                    Severity.WARNING,
                )
            )
    return found


def parse_role_spec(
    text: str,
    *,
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
    rel_path: str | None = None,
) -> tuple[RoleSpec | None, list[Issue]]:
    """Parse and check one role-spec; never raises.

    ``path`` names the file in messages; ``rel_path`` (session-relative, default
    ``path``) goes into ``RoleSpec.path``.  ``expected_role``/``expected_prefix``
    are what team-session.json says (None: not checked).
    """
    try:
        return _parse(
            text,
            path=path,
            expected_role=expected_role,
            expected_prefix=expected_prefix,
            rel_path=rel_path if rel_path is not None else path,
        )
    except Exception as exc:  # a hand edit mid-run must never crash the executor
        return None, [Issue(path, None, f"cannot read role-spec: {type(exc).__name__}: {exc}")]
