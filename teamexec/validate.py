"""Session validation (PROTOCOL §2-§4) as a pure function over raw file texts.

``validate_session(files) -> (Session | None, issues)`` checks every rule
and collects every finding — not only the first — each as
``path:line: message``.  It never raises, whatever the input.  The session
is built only when there is no error.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from teamexec import dag, schema
from teamexec.agentcmd import split_command
from teamexec.jsonloc import line_of, loads
from teamexec.loader import TASK_ANALYSIS, TEAM_SESSION, SessionFiles
from teamexec.model import (
    TASK_ID_RE,
    ExecutorConfig,
    GraphNode,
    Issue,
    RoleDef,
    RoleSpec,
    Session,
    Severity,
    TaskDetails,
)
from teamexec.rolespec import parse_role_spec

NUMBER_SUFFIX = re.compile(r"^(.+)-\d+$")


class _Doc:
    """One JSON file: its text, value, and a way to put a line on a pointer."""

    def __init__(self, files: SessionFiles, rel: str, issues: list[Issue]) -> None:
        self.shown = files.shown(rel)
        self.text = files.texts.get(rel)
        self.value: Any = None
        self.parsed = False  # the file held JSON (which may be null)
        self.issues = issues
        if self.text is None:
            return
        try:
            self.value = loads(self.text)
            self.parsed = True
        except RecursionError:
            issues.append(Issue(self.shown, None, "JSON nested too deeply"))
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            msg = getattr(exc, "msg", str(exc))
            issues.append(Issue(self.shown, line, f"not valid JSON: {msg}"))

    def error(self, pointer: str, message: str, severity: Severity = Severity.ERROR) -> None:
        line = line_of(self.text, pointer) if self.text is not None else None
        self.issues.append(Issue(self.shown, line, message, severity))

    def check_schema(self, kind: str) -> bool:
        value = self.value
        if kind == "task-analysis" and isinstance(value, dict) and plainly_valid_graph(value):
            # the schema's per-entry rules are proven to hold: skip descending 50k entries
            value = {**value, "dependency_graph": {}}
        errors = schema.schema_errors(kind, value)
        for pointer, message in errors:
            self.error(pointer, f"{pointer or '/'}: {message}")
        return not errors


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
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def role_defs(doc: _Doc) -> dict[str, RoleDef]:
    roles: dict[str, RoleDef] = {}
    prefixes: dict[str, str] = {}
    raw_roles = doc.value.get("roles")
    for i, raw in enumerate(raw_roles if isinstance(raw_roles, list) else ()):
        if not isinstance(raw, dict):
            continue  # the schema error says why
        name, prefix = raw.get("name"), raw.get("prefix")
        if not isinstance(name, str) or not isinstance(prefix, str):
            continue
        if name in roles:
            doc.error(f"/roles/{i}/name", f"role {name!r} is registered twice")
            continue
        owner = prefixes.get(prefix)
        if owner is not None:
            doc.error(f"/roles/{i}/prefix", f"prefix {prefix!r} is used by {owner!r} too")
        prefixes[prefix] = name
        role_spec = raw.get("role_spec")
        roles[name] = RoleDef(
            name=name,
            prefix=prefix,
            role_spec=role_spec
            if isinstance(role_spec, str) and role_spec
            else f"role-specs/{name}.md",
            inner_loop=bool(raw.get("inner_loop", False)),
            responsibility_type=raw.get("responsibility_type"),
            additional_prefixes=_strings(raw.get("additional_prefixes")),
        )
    return roles


def role_specs(
    files: SessionFiles, roles: Mapping[str, RoleDef], issues: list[Issue]
) -> dict[str, RoleSpec]:
    specs = {}
    for role in roles.values():
        text = files.texts.get(role.role_spec)
        if text is None:
            continue  # the loader reported why it could not be read
        spec, found = parse_role_spec(
            text,
            path=files.shown(role.role_spec),
            expected_role=role.name,
            expected_prefix=role.prefix,
            rel_path=role.role_spec,
        )
        issues.extend(found)
        if spec is not None:
            specs[role.name] = spec
    return specs


def details_by_task(analysis: Mapping[str, Any]) -> tuple[dict[str, TaskDetails], dict[str, str]]:
    """Per-task details and the capability (role) listing each task."""
    details: dict[str, TaskDetails] = {}
    owners: dict[str, str] = {}
    for cap in analysis["capabilities"]:
        artifacts = _strings(cap.get("artifacts"))
        for task in cap.get("tasks") or ():
            tid = task["id"]
            owners.setdefault(tid, cap["name"])
            details[tid] = TaskDetails(
                description=task.get("description"),
                goal=task.get("goal"),
                steps=_strings(task.get("steps")),
                key_files=_strings(task.get("key_files")),
                upstream_artifacts=_strings(task.get("upstream_artifacts")),
                success_criteria=_strings(task.get("success_criteria")),
                constraints=_strings(task.get("constraints")),
                artifacts=artifacts,
            )
    return details, owners


def resolve_role(
    task_id: str,
    explicit: str | None,
    capability: str | None,
    by_prefix: Mapping[str, str],
) -> str | None:
    """PROTOCOL §3 order: the node's role, the capability listing it, the id's prefix."""
    if explicit:
        return explicit
    if capability:
        return capability
    match = NUMBER_SUFFIX.match(task_id)
    return by_prefix.get(match.group(1)) if match else None


def build_graph(
    doc: _Doc, roles: Mapping[str, RoleDef], specs: Mapping[str, RoleSpec]
) -> dict[str, GraphNode]:
    analysis = doc.value
    details, owners = details_by_task(analysis)
    by_prefix: dict[str, str] = {}
    for role in roles.values():
        extra = specs[role.name].additional_prefixes if role.name in specs else ()
        for prefix in (role.prefix, *role.additional_prefixes, *extra):
            by_prefix.setdefault(prefix, role.name)
    graph: dict[str, GraphNode] = {}
    for task_id, entry in analysis["dependency_graph"].items():
        pointer = f"/dependency_graph/{task_id}"
        deps = entry if isinstance(entry, list) else entry.get("depends_on") or []
        explicit = entry.get("role") if isinstance(entry, dict) else None
        role = resolve_role(task_id, explicit, owners.get(task_id), by_prefix)
        if role is None:
            doc.error(
                pointer,
                f"task {task_id} has no role: name one with {{'role': ...}}, list it under a "
                "capability's tasks, or give it a registered prefix",
            )
        elif role not in roles:
            doc.error(pointer, f"task {task_id}: role {role!r} is not in team-session.json")
        for dep in deps:
            if dep not in analysis["dependency_graph"]:
                doc.error(pointer, f"task {task_id} depends on unknown task {dep!r}")
        graph[task_id] = GraphNode(task_id, tuple(deps), role, details.get(task_id, TaskDetails()))
    cycle = dag.find_cycle({t: n.depends_on for t, n in graph.items()})
    if cycle is not None:
        doc.error(f"/dependency_graph/{cycle[0]}", "dependency cycle: " + " -> ".join(cycle))
    for tid in details:
        if tid not in graph and TASK_ID_RE.match(tid):
            doc.error(
                "/capabilities",
                f"task {tid} is listed in capabilities but not in the graph",
                Severity.WARNING,
            )
    return graph


def executor_config(doc: _Doc) -> ExecutorConfig:
    raw = doc.value.get("executor") or {}
    agent = raw.get("agent")
    return ExecutorConfig(
        max_workers=int(raw.get("max_workers", 4)),
        orphan_after_s=float(raw.get("orphan_after_s", 300)),
        agent=_agent(agent),
        cwd=raw.get("cwd"),
        worker=raw.get("worker", "python"),
    )


def _agent(value: Any) -> tuple[str, ...] | None:
    try:
        return split_command(value)
    except ValueError:  # unbalanced quotes: reported by check_executor
        return None


def check_executor(doc: _Doc) -> None:
    agent = (doc.value.get("executor") or {}).get("agent")
    if isinstance(agent, str):
        try:
            shlex.split(agent)
        except ValueError as exc:
            doc.error("/executor/agent", f"executor.agent: cannot split: {exc}")


def validate_session(files: SessionFiles) -> tuple[Session | None, list[Issue]]:
    issues = list(files.issues)
    team = _Doc(files, TEAM_SESSION, issues)
    analysis = _Doc(files, TASK_ANALYSIS, issues)
    team_ok = team.parsed and team.check_schema("team-session")
    analysis_ok = analysis.parsed and analysis.check_schema("task-analysis")
    if not isinstance(team.value, dict):
        return None, issues
    # go on past schema errors where the data still allows it: every error at once
    roles = role_defs(team)
    specs = role_specs(files, roles, issues)
    if not analysis_ok:
        return None, issues
    graph = build_graph(analysis, roles, specs)
    if team_ok:
        check_executor(team)
    if any(i.severity is Severity.ERROR for i in issues) or set(specs) != set(roles):
        return None, issues
    executor = executor_config(team)
    specs = {name: replace(spec, path=roles[name].role_spec) for name, spec in specs.items()}
    session = Session(
        root=files.root,
        data=team.value,
        analysis=analysis.value,
        roles=roles,
        specs=specs,
        graph=graph,
        executor=executor,
        warnings=tuple(i for i in issues if i.severity is Severity.WARNING),
    )
    return session, issues
