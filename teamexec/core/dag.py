"""The dependency graph as a small pure module: order, cycles, descendants.

Used by validation (cycle and unknown-dependency errors), reconciliation
(blocks/blockedBy), scheduling and ``reset --downstream``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence

from teamexec.core.errors import CycleError
from teamexec.core.model import task_sort_key


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as ``[a, b, ..., a]``, or None.  Unknown deps are ignored."""
    if _acyclic(deps):
        return None  # the usual answer, found without sorting ids or walking paths
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(deps, white)
    for start in sorted(deps, key=task_sort_key):
        if color[start] != white:
            continue
        # iterative DFS keeps deep chains (10k+) off the recursion limit
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(deps[start]))]
        path = [start]
        color[start] = grey
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in color:
                    continue
                if color[child] == grey:
                    return [*path[path.index(child) :], child]
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, iter(deps[child])))
                    path.append(child)
                    break
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return None


def _acyclic(deps: Mapping[str, Sequence[str]]) -> bool:
    """No cycle among the known nodes (Kahn's count: every node can be taken)."""
    indegree = dict.fromkeys(deps, 0)
    children: dict[str, list[str]] = {node: [] for node in deps}
    for node, ds in deps.items():
        for d in ds:
            after = children.get(d)
            if after is not None:
                indegree[node] += 1
                after.append(node)
    free = [node for node, count in indegree.items() if not count]
    taken = 0
    while free:
        node = free.pop()
        taken += 1
        for child in children[node]:
            indegree[child] -= 1
            if not indegree[child]:
                free.append(child)
    return taken == len(indegree)


def topological_order(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's order with ties broken by task id; raises CycleError naming a cycle.

    Nodes are numbered in id order once, so the heap compares small integers
    instead of id keys (a 10k-task `check` walks it on every call).
    """
    names = sorted(deps, key=_id_order)
    index = {node: i for i, node in enumerate(names)}
    indegree = [0] * len(names)
    children: list[list[int]] = [[] for _ in names]
    for node, ds in deps.items():
        i = index[node]
        for d in ds:
            j = index.get(d)
            if j is not None:
                indegree[i] += 1
                children[j].append(i)
    heap = [i for i, k in enumerate(indegree) if k == 0]  # ascending: a heap already
    order: list[str] = []
    while heap:
        i = heapq.heappop(heap)
        order.append(names[i])
        for child in children[i]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(heap, child)
    if len(order) < len(names):  # the nodes left over lie on or behind a cycle
        raise CycleError(find_cycle(deps) or [])
    return order


def _id_order(node: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    return task_sort_key(node), node


def dependents(deps: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Invert the graph: task -> tasks that depend on it, sorted by id."""
    found: dict[str, dict[str, None]] = {node: {} for node in deps}  # ordered sets
    for node, ds in deps.items():
        for d in ds:
            if d in found:
                found[d][node] = None
    return {node: sorted(children, key=task_sort_key) for node, children in found.items()}


def downstream(deps: Mapping[str, Sequence[str]], roots: Iterable[str]) -> set[str]:
    """Every task that depends, directly or not, on one of ``roots`` (roots excluded)."""
    children = dependents(deps)
    seen: set[str] = set()
    todo = [r for r in roots if r in children]
    while todo:
        node = todo.pop()
        for child in children[node]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen - set(roots)
