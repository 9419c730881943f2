"""Parsing and validating one role-spec markdown file (PROTOCOL §4).

``parse_role_spec`` never raises: any text in, a ``RoleSpec`` or the list of
problems out, each with the file's line number.  It runs at load time and
again whenever someone edits a role-spec while a pipeline runs.

YAML is only ever *composed* with the safe loader (which keeps each node's
line) and then constructed with the safe constructor, so a
``!!python/object/apply:os.system`` tag is an error and never runs.  The
frontmatter is split here rather than by python-frontmatter because errors
must carry the file's line numbers, which that library does not keep.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from teamexec import schema
from teamexec.model import Issue, RoleSpec

PHASE_RE = re.compile(r"^##\s+Phase\s+([234])\b", re.IGNORECASE)
DELIMITER = "---"


def split(text: str) -> tuple[str, int, str, int] | None:
    """(frontmatter, its first line, body, its first line), or None without frontmatter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").strip() != DELIMITER:
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").strip() in (DELIMITER, "..."):
            return "".join(lines[1:index]), 2, "".join(lines[index + 1 :]), index + 2
    return None


def _key_lines(node: yaml.Node, offset: int, prefix: str = "") -> dict[str, int]:
    """JSON pointer -> file line for every mapping key under ``node``."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                ptr = f"{prefix}/{key.value}"
                lines[ptr] = key.start_mark.line + offset
                lines.update(_key_lines(value, offset, ptr))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            ptr = f"{prefix}/{i}"
            lines[ptr] = item.start_mark.line + offset
            lines.update(_key_lines(item, offset, ptr))
    return lines


def _line_for(lines: Mapping[str, int], pointer: str, default: int) -> int:
    while pointer:
        if pointer in lines:
            return lines[pointer]
        pointer = pointer.rsplit("/", 1)[0]
    return default


def load_frontmatter(
    front: str, *, path: str, first_line: int
) -> tuple[Any, dict[str, int], list[Issue]]:
    """Safe-load the YAML; (value, key lines, issues)."""
    offset = first_line  # YAML marks are 0-based lines of the frontmatter text
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        value = yaml.load(front, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + offset if mark is not None else first_line
        problem = exc.problem or "invalid YAML"
        if "could not determine a constructor" in problem:
            problem = "YAML tag not allowed (only plain YAML is loaded; tags never run)"
        return None, {}, [Issue(path, line, f"frontmatter: {problem}")]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return None, {}, [Issue(path, first_line, f"frontmatter: invalid YAML: {exc}")]
    lines = _key_lines(node, offset) if node is not None else {}
    return value, lines, []


def _command(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value)) or None
        except ValueError:
            return None
    return tuple(str(v) for v in value) or None


def check_phases(body: str, *, path: str, first_line: int) -> list[Issue]:
    """``## Phase 2``, ``## Phase 3``, ``## Phase 4`` present, in that order."""
    found: dict[str, int] = {}
    for number, line in enumerate(body.splitlines(), start=first_line):
        match = PHASE_RE.match(line)
        if match and match.group(1) not in found:
            found[match.group(1)] = number
    end = first_line + max(0, len(body.splitlines()) - 1)  # the file's last line
    issues = []
    for phase in "234":
        if phase not in found:
            issues.append(Issue(path, end, f"missing '## Phase {phase}' heading in the body"))
    present = [(found[p], p) for p in "234" if p in found]
    for (line_a, a), (line_b, b) in itertools.pairwise(present):
        if line_b < line_a:
            issues.append(Issue(path, line_b, f"'## Phase {b}' comes before '## Phase {a}'"))
    return issues


def check_fields(
    front: Mapping[str, Any],
    lines: Mapping[str, int],
    *,
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
) -> list[Issue]:
    issues = [
        Issue(path, _line_for(lines, ptr, 1), f"frontmatter {ptr or '/'}: {msg}")
        for ptr, msg in schema.schema_errors("role-spec", dict(front))
    ]
    role, prefix = front.get("role"), front.get("prefix")
    if expected_role is not None and isinstance(role, str) and role != expected_role:
        issues.append(
            Issue(path, lines.get("/role", 1), f"role {role!r} does not match {expected_role!r}")
        )
    if expected_prefix is not None and isinstance(prefix, str) and prefix != expected_prefix:
        issues.append(
            Issue(
                path,
                lines.get("/prefix", 1),
                f"prefix {prefix!r} does not match team-session.json's {expected_prefix!r}",
            )
        )
    for key in ("transient_patterns", "permanent_patterns"):
        for i, pattern in enumerate(front.get(key) or ()):
            if not isinstance(pattern, str):
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                line = lines.get(f"/{key}/{i}", 1)
                issues.append(Issue(path, line, f"{key}[{i}]: invalid regex: {exc}"))
    for key in ("agent", "worker"):
        if isinstance(front.get(key), str):
            try:
                shlex.split(front[key])
            except ValueError as exc:
                issues.append(Issue(path, lines.get(f"/{key}", 1), f"{key}: cannot split: {exc}"))
    return issues


def parse_role_spec(
    text: str,
    *,
    path: str,
    expected_role: str | None,
    expected_prefix: str | None,
    rel_path: str | None = None,
) -> tuple[RoleSpec | None, list[Issue]]:
    """``path`` names the file in messages; ``rel_path`` (session-relative) goes in the spec."""
    parts = split(text)
    if parts is None:
        msg = "no YAML frontmatter: the file must start with '---', the keys, then '---'"
        return None, [Issue(path, 1, msg)]
    front_text, front_line, body, body_line = parts
    front, lines, issues = load_frontmatter(front_text, path=path, first_line=front_line)
    if issues:
        return None, issues
    if not isinstance(front, dict):
        return None, [Issue(path, front_line, "frontmatter must be a mapping of keys")]
    issues = check_fields(
        front, lines, path=path, expected_role=expected_role, expected_prefix=expected_prefix
    )
    issues += check_phases(body, path=path, first_line=body_line)
    if issues:
        return None, issues
    types = front["message_types"]
    spec = RoleSpec(
        role=front["role"],
        prefix=front["prefix"],
        inner_loop=front["inner_loop"],
        success_type=types["success"],
        error_type=types["error"],
        body=body,
        path=rel_path if rel_path is not None else path,
        agent=_command(front.get("agent")),
        worker=_command(front.get("worker")),
        additional_prefixes=tuple(front.get("additional_prefixes") or ()),
        max_concurrent=front.get("max_concurrent"),
        timeout_s=float(front.get("timeout_s", 1800)),
        max_retries=int(front.get("max_retries", 2)),
        stall_after_s=float(front.get("stall_after_s", 600)),
        env={str(k): str(v) for k, v in (front.get("env") or {}).items()},
        transient_patterns=_tuple_or_none(front.get("transient_patterns")),
        permanent_patterns=_tuple_or_none(front.get("permanent_patterns")),
        frontmatter=front,
    )
    return spec, []


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)
