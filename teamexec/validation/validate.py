"""Session validation (PROTOCOL §2-§4) as a pure function over raw file texts.

``validate_session(files) -> (Session | None, issues)`` checks every rule and
collects every finding — not only the first — each printable as
``path:line: message``.  The loader (loader.py) reads the files into a
``SessionFiles``; ``teamexec check``/``run``/``resume`` go through
``loader.load_session``.  Nothing here touches the disk, and nothing raises
whatever the input: the session is built only when there is no error, and
warnings (``Severity.WARNING``) travel in ``Session.warnings``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from teamexec.core import dag
from teamexec.core.agentcmd import split_command
from teamexec.core.model import (
    ROLE_NAME_RE,
    TASK_ID_RE,
    ExecutorConfig,
    GraphNode,
    Issue,
    RoleDef,
    RoleSpec,
    Schedule,
    Session,
    Severity,
    TaskDetails,
)
from teamexec.validation import schema
from teamexec.validation.jsonloc import LineIndex, error_line, escape, parse
from teamexec.validation.nearmiss import near_miss
from teamexec.validation.rolespec import parse_role_spec

TEAM_SESSION = "team-session.json"
TASK_ANALYSIS = "task-analysis.json"
NUMBER_SUFFIX = re.compile(r"^(.+)-\d+$")
DETAIL_LISTS = ("steps", "key_files", "upstream_artifacts", "success_criteria", "constraints")


@dataclass(frozen=True)
class SessionFiles:
    """What the loader read: texts by session-relative path, and the problems met."""

    root: Path
    texts: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def shown(self, rel: str) -> str:
        """The path as printed in messages: under the session as the user named it."""
        return str(self.root / rel)


def unsafe_relpath(rel: str) -> str | None:
    """Why ``rel`` may not name a file of the session (judged on the text alone), or None.

    The loader adds the check only the disk can answer: symlinks leading out.
    """
    if not rel:
        return "must not be empty"
    if "\x00" in rel:
        return "must not contain a NUL character"
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~") or "\\" in rel:
        return "must be a path relative to the session directory, with '/' separators"
    if ".." in pure.parts:
        return "must not contain '..': keep role-specs inside the session directory"
    return None


def default_spec_path(raw: Mapping[str, Any]) -> str | None:
    """The role-spec path a team-session.json role entry names (PROTOCOL §2 default)."""
    rel, name = raw.get("role_spec"), raw.get("name")
    if isinstance(rel, str) and rel:
        return rel
    if isinstance(name, str) and ROLE_NAME_RE.match(name):
        return f"role-specs/{name}.md"
    return None


class _Doc:
    """One JSON file: its text, its value, and a line for any JSON pointer."""

    def __init__(self, files: SessionFiles, rel: str, issues: list[Issue]) -> None:
        self.shown = files.shown(rel)
        self.text = files.texts.get(rel)
        self.value: Any = None
        self.parsed = False  # the file held JSON (which may be null)
        self.issues = issues
        self.plain_graph = False  # every dependency_graph entry proven well-formed (ids too)
        self._index: LineIndex | None = None
        if self.text is not None:
            self._parse(self.text)

    def _parse(self, text: str) -> None:
        try:
            parsed = parse(text)
        except RecursionError:
            self.issues.append(Issue(self.shown, None, "JSON nested too deeply"))
            return
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            self.issues.append(Issue(self.shown, error_line(exc), f"not valid JSON: {msg}"))
            return
        self.value, self.parsed = parsed.value, True
        if parsed.duplicates:
            for pointer, line in self.index.duplicates():
                key = pointer.rsplit("/", 1)[-1]
                message = f"key {key!r} appears twice in one object: the last one is used"
                self.issues.append(Issue(self.shown, line, message, Severity.WARNING))

    @property
    def index(self) -> LineIndex:
        if self._index is None:
            self._index = LineIndex(self.text or "")
        return self._index

    def error(self, pointer: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.issues.append(Issue(self.shown, self.index.line(pointer), message, severity))

    def warn(self, pointer: str, message: str) -> None:
        self.error(pointer, message, Severity.WARNING)

    def check_schema(self, kind: str) -> bool:
        if not self.parsed:
            return False
        value = self.value
        if kind == "task-analysis" and isinstance(value, dict) and plainly_valid_graph(value):
            # the schema's per-entry rules are proven to hold: skip descending 50k entries
            value = {**value, "dependency_graph": {}}
            self.plain_graph = True
        errors = schema.schema_errors(kind, value)
        for pointer, message in errors:
            self.error(pointer, f"{pointer or '/'}: {message}")
        return not errors

    def get(self, key: str) -> Any:
        return self.value.get(key) if isinstance(self.value, dict) else None


def plainly_valid_graph(analysis: Mapping[str, Any]) -> bool:
    """A fast check that implies the schema's rules for dependency_graph entries.

    True only when every id matches the task-id pattern and every entry is a
    list of strings or an object whose depends_on/role have the schema's types.
    When False the full schema runs and words the errors.
    """
    graph = analysis.get("dependency_graph")
    if not isinstance(graph, dict):
        return False
    for task_id, entry in graph.items():
        if not TASK_ID_RE.match(task_id):
            return False
        if isinstance(entry, dict):
            deps, role = entry.get("depends_on", []), entry.get("role", "")
            if not isinstance(role, str) or not isinstance(deps, list):
                return False
            entry = deps
        if not isinstance(entry, list) or not all(isinstance(d, str) for d in entry):
            return False
    return True


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _hint(value: Any, default: Any = None) -> Any:
    """A pass-through hint as written (any JSON value); a list becomes a tuple."""
    if value is None:
        return default
    return tuple(value) if isinstance(value, list) else value


def _dicts(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a list, with their index (anything else: the schema reports it)."""
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


# ------------------------------------------------------------------ roles


def role_defs(team: _Doc) -> tuple[dict[str, RoleDef], dict[str, int]]:
    """team-session.json's roles by name, and each one's index in ``roles``."""
    roles: dict[str, RoleDef] = {}
    index: dict[str, int] = {}
    for i, raw in _dicts(team.get("roles")):
        name, prefix = raw.get("name"), raw.get("prefix")
        if not isinstance(name, str) or not ROLE_NAME_RE.match(name) or not isinstance(prefix, str):
            continue  # the schema error says why
        if name in roles:
            team.error(f"/roles/{i}/name", f"role {name!r} is registered twice: keep one entry")
            continue
        rel = default_spec_path(raw) or f"role-specs/{name}.md"
        why = unsafe_relpath(rel)
        if why is not None:
            team.error(f"/roles/{i}/role_spec", f"role_spec {rel!r} {why}")
        inner = raw.get("inner_loop")
        responsibility = raw.get("responsibility_type")
        roles[name] = RoleDef(
            name=name,
            prefix=prefix,
            role_spec=rel,
            inner_loop=inner if isinstance(inner, bool) else False,
            responsibility_type=responsibility if isinstance(responsibility, str) else None,
            additional_prefixes=_strings(raw.get("additional_prefixes")),
        )
        index[name] = i
    return roles, index


def role_specs(
    files: SessionFiles, roles: Mapping[str, RoleDef], issues: list[Issue]
) -> dict[str, RoleSpec]:
    """Parse each role's role-spec, checked against what team-session.json says."""
    specs = {}
    for role in roles.values():
        if unsafe_relpath(role.role_spec) is not None:
            continue  # reported against team-session.json
        shown = files.shown(role.role_spec)
        text = files.texts.get(role.role_spec)
        if text is None:
            if not any(i.path == shown for i in issues):
                issues.append(Issue(shown, None, f"role-spec of role {role.name!r} was not read"))
            continue
        spec, found = parse_role_spec(
            text,
            path=shown,
            expected_role=role.name,
            expected_prefix=role.prefix,
            rel_path=role.role_spec,
        )
        issues.extend(found)
        if spec is not None:
            specs[role.name] = spec
    return specs


def _line_mentioning(text: str | None, needle: str) -> int | None:
    for number, line in enumerate((text or "").splitlines(), start=1):
        if needle in line:
            return number
    return None


def prefix_owners(
    team: _Doc,
    files: SessionFiles,
    roles: Mapping[str, RoleDef],
    index: Mapping[str, int],
    specs: Mapping[str, RoleSpec],
) -> dict[str, str]:
    """Task-id prefix -> role; a prefix claimed by two roles is an error."""
    owners: dict[str, str] = {}

    def clash(prefix: str, role: str) -> str | None:
        """The error when ``prefix`` already names another role; claims it otherwise."""
        owner = owners.setdefault(prefix, role)
        if owner == role:
            return None
        return f"prefix {prefix!r} is used by role {owner!r} too: each prefix names one role"

    for name, role in roles.items():
        i = index[name]
        if problem := clash(role.prefix, name):
            team.error(f"/roles/{i}/prefix", problem)
        for j, extra in enumerate(role.additional_prefixes):
            if problem := clash(extra, name):
                team.error(f"/roles/{i}/additional_prefixes/{j}", problem)
    for name, spec in specs.items():
        shown = files.shown(spec.path)
        line = _line_mentioning(files.texts.get(spec.path), "additional_prefixes")
        for extra in spec.additional_prefixes:
            if problem := clash(extra, name):
                team.issues.append(Issue(shown, line, problem))
    return owners


def agreement_warnings(
    team: _Doc,
    analysis: _Doc,
    roles: Mapping[str, RoleDef],
    index: Mapping[str, int],
    specs: Mapping[str, RoleSpec],
) -> None:
    """Non-fatal disagreements between the files."""
    for i, raw in _dicts(team.get("roles")):
        name, inner = raw.get("name"), raw.get("inner_loop")
        spec = specs.get(name) if isinstance(name, str) and index.get(name) == i else None
        if spec is not None and isinstance(inner, bool) and inner != spec.inner_loop:
            team.warn(
                f"/roles/{i}/inner_loop",
                f"inner_loop is {str(inner).lower()} here but {str(spec.inner_loop).lower()} "
                f"in {spec.path}: the role-spec's value is used",
            )
    for i, raw in _dicts(analysis.get("roles")):
        name = raw.get("name")
        if isinstance(name, str) and name not in roles:
            analysis.warn(
                f"/roles/{i}/name",
                f"role {name!r} is not registered in team-session.json: its tasks cannot run",
            )


# ------------------------------------------------------------------ graph


@dataclass
class _Listing:
    """What capabilities[].tasks[] say about the tasks."""

    details: dict[str, TaskDetails] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # task id -> capability name
    pointers: dict[str, str] = field(default_factory=dict)  # task id -> its tasks[] entry


def capability_listing(analysis: _Doc) -> _Listing:
    listing = _Listing()
    for c, cap in _dicts(analysis.get("capabilities")):
        name = cap.get("name")
        artifacts = _hint(cap.get("artifacts"), ())
        for t, task in _dicts(cap.get("tasks")):
            tid = task.get("id")
            if not isinstance(tid, str) or not isinstance(name, str):
                continue
            pointer = f"/capabilities/{c}/tasks/{t}/id"
            if tid in listing.owners:
                analysis.warn(
                    pointer,
                    f"task {tid} is listed by capability {listing.owners[tid]!r} already: "
                    "the first listing gives its role and details",
                )
                continue
            listing.owners[tid] = name
            listing.pointers[tid] = pointer
            listing.details[tid] = TaskDetails(
                description=_hint(task.get("description")),
                goal=_hint(task.get("goal")),
                artifacts=artifacts,
                **{key: _hint(task.get(key), ()) for key in DETAIL_LISTS},
            )
    return listing


def _entry_deps(entry: Any) -> tuple[list[Any], str, str | None] | None:
    """(dependency list, its pointer below the entry, explicit role); None if malformed."""
    if isinstance(entry, list):
        return entry, "", None
    if isinstance(entry, dict):
        deps, role = entry.get("depends_on", []), entry.get("role")
        return (
            (deps if isinstance(deps, list) else []),
            "/depends_on",
            (role if isinstance(role, str) else None),
        )
    return None


def resolve_role(
    task_id: str, explicit: str | None, capability: str | None, by_prefix: Mapping[str, str]
) -> tuple[str | None, str]:
    """PROTOCOL §3 order: the node's role, the capability listing it, the id's prefix.

    Returns the role and where it came from (for messages).
    """
    if explicit:
        return explicit, "its graph entry"
    if capability:
        return capability, f"capability {capability!r}"
    match = NUMBER_SUFFIX.match(task_id)
    if match and match.group(1) in by_prefix:
        return by_prefix[match.group(1)], f"prefix {match.group(1)!r}"
    return None, ""


def _no_role_message(task_id: str) -> str:
    match = NUMBER_SUFFIX.match(task_id)
    hint = f", or register the prefix {match.group(1)!r} for a role" if match else ""
    return (
        f"task {task_id} has no role: give its entry a role "
        f'({{"depends_on": [...], "role": "<role>"}}), list it in a capability\'s tasks{hint}'
    )


def _dependencies(
    analysis: _Doc,
    task_id: str,
    parsed: tuple[list[Any], str, str | None],
    known: Mapping[str, Any],
) -> tuple[str, ...]:
    """The node's dependencies, duplicates dropped; unknown ones reported."""
    deps, deps_pointer, _role = parsed
    ids = [d for d in deps if isinstance(d, str)]
    if len(ids) == len(deps) and all(d in known for d in ids):  # the usual case, 10k times
        return tuple(ids) if len(set(ids)) == len(ids) else tuple(dict.fromkeys(ids))
    for j, dep in enumerate(deps):
        if isinstance(dep, str) and dep not in known:
            analysis.error(
                f"/dependency_graph/{escape(task_id)}{deps_pointer}/{j}",
                f"task {task_id} depends on unknown task {dep!r}: add it to the graph "
                "or remove the dependency",
            )
    return tuple(ids) if len(set(ids)) == len(ids) else tuple(dict.fromkeys(ids))


def _role_issue(
    analysis: _Doc, task_id: str, role: str | None, source: str, listing: _Listing
) -> None:
    pointer = f"/dependency_graph/{escape(task_id)}"
    if role is None:
        analysis.error(pointer, _no_role_message(task_id))
        return
    if source != "its graph entry":
        pointer = listing.pointers.get(task_id, pointer)
    analysis.error(
        pointer,
        f"task {task_id}: role {role!r} (from {source}) is not a role of "
        "team-session.json: register it there or name another role",
    )


def build_graph(
    analysis: _Doc,
    roles: Mapping[str, RoleDef] | None,
    by_prefix: Mapping[str, str],
) -> dict[str, GraphNode]:
    """Graph nodes with roles resolved; ``roles`` None: team-session.json is unusable."""
    raw_graph = analysis.get("dependency_graph")
    if not isinstance(raw_graph, dict):
        return {}
    listing = capability_listing(analysis)
    no_details = TaskDetails()
    graph: dict[str, GraphNode] = {}
    ids_checked = analysis.plain_graph  # plainly_valid_graph matched every id already
    for task_id, entry in raw_graph.items():
        parsed = _entry_deps(entry)
        if parsed is None or not (ids_checked or TASK_ID_RE.match(task_id)):
            continue  # the schema error says why
        depends_on = _dependencies(analysis, task_id, parsed, raw_graph)
        role, source = resolve_role(task_id, parsed[2], listing.owners.get(task_id), by_prefix)
        if roles is not None and role not in roles:
            _role_issue(analysis, task_id, role, source, listing)
        graph[task_id] = GraphNode(
            task_id, depends_on, role, listing.details.get(task_id, no_details)
        )
    _graph_checks(analysis, graph, listing)
    return graph


def _graph_checks(analysis: _Doc, graph: Mapping[str, GraphNode], listing: _Listing) -> None:
    cycle = dag.find_cycle({t: n.depends_on for t, n in graph.items()})
    if cycle is not None:
        analysis.error(
            f"/dependency_graph/{escape(cycle[0])}",
            "dependency cycle: " + " -> ".join(cycle) + ": remove one of these dependencies",
        )
    for tid, pointer in listing.pointers.items():
        if tid not in graph and TASK_ID_RE.match(tid):
            analysis.warn(
                pointer, f"task {tid} is listed in capabilities but not in the dependency graph"
            )


# ------------------------------------------------------------------ executor


# executor keys of PROTOCOL §2 beyond those team-session.schema.json checks
EXECUTOR_EXTRA_KEYS = ("budget", "evidence", "schedule", "claude_task_list")


def executor_issues(team: _Doc) -> None:
    raw = team.get("executor")
    if not isinstance(raw, dict):
        return
    known = [*schema.property_names("team-session", "properties", "executor"), *EXECUTOR_EXTRA_KEYS]
    for key in raw:
        meant = near_miss(str(key), known, raw)
        if meant is not None:
            team.warn(
                f"/executor/{escape(str(key))}",
                f"executor: unknown key {key!r}: did you mean {meant!r}? (kept, but teamexec "
                f"ignores it and uses the default for {meant})",
            )
    agent = raw.get("agent")
    if isinstance(agent, str):
        try:
            split_command(agent)
        except ValueError as exc:
            team.error(
                "/executor/agent",
                f"executor.agent: cannot split: {exc} (quote it, or write it as a list)",
            )
    orphan = raw.get("orphan_after_s")
    if isinstance(orphan, float) and not math.isfinite(orphan):
        team.error("/executor/orphan_after_s", "executor.orphan_after_s: must be a finite number")


def executor_config(raw: Any) -> ExecutorConfig:
    """The ``executor`` object of a team-session.json that passed validation."""
    raw = raw if isinstance(raw, dict) else {}
    budget = raw.get("budget") if isinstance(raw.get("budget"), dict) else {}
    return ExecutorConfig(
        max_workers=int(raw.get("max_workers", 4)),
        orphan_after_s=float(raw.get("orphan_after_s", 300)),
        agent=split_command(raw.get("agent")),
        cwd=raw.get("cwd"),
        worker=raw.get("worker", "auto"),
        claude_task_list=raw.get("claude_task_list", True) is not False,
        schedule=Schedule(raw.get("schedule", Schedule.CRITICAL_PATH.value)),
        budget_usd=_number(budget.get("usd")),
        budget_tokens=int(budget["tokens"]) if _number(budget.get("tokens")) is not None else None,
        evidence=str(raw.get("evidence", "warn")),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# ------------------------------------------------------------------ entry point


def _validate(files: SessionFiles) -> tuple[Session | None, list[Issue]]:
    issues = list(files.issues)
    team = _Doc(files, TEAM_SESSION, issues)
    analysis = _Doc(files, TASK_ANALYSIS, issues)
    team.check_schema("team-session")
    analysis.check_schema("task-analysis")
    # go on past schema errors wherever the data still allows it: every error at once
    usable_team = isinstance(team.value, dict)
    roles, index = role_defs(team) if usable_team else ({}, {})
    specs = role_specs(files, roles, issues)
    by_prefix = prefix_owners(team, files, roles, index, specs)
    graph = build_graph(analysis, roles if usable_team else None, by_prefix)
    executor_issues(team)
    agreement_warnings(team, analysis, roles, index, specs)
    complete = usable_team and isinstance(analysis.value, dict) and set(specs) == set(roles)
    if not complete or any(i.severity is Severity.ERROR for i in issues):
        return None, issues
    session = Session(
        root=files.root,
        data=team.value,
        analysis=analysis.value,
        roles=roles,
        specs={name: replace(spec, path=roles[name].role_spec) for name, spec in specs.items()},
        graph=graph,
        executor=executor_config(team.get("executor")),
        warnings=tuple(i for i in issues if i.severity is Severity.WARNING),
    )
    return session, issues


def validate_session(files: SessionFiles) -> tuple[Session | None, list[Issue]]:
    """Check every rule of PROTOCOL §2-§4; the session only when there is no error."""
    try:
        return _validate(files)
    except Exception as exc:  # never raise on any input; tests assert this never happens
        issue = Issue(
            str(files.root), None, f"internal error while validating: {type(exc).__name__}: {exc}"
        )
        return None, [*files.issues, issue]
