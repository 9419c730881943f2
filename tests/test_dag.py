import pytest

from teamexec.core import dag
from teamexec.core.errors import CycleError


@pytest.mark.parametrize(
    ("deps", "cycle"),
    [
        pytest.param({"A": ["A"]}, ["A", "A"], id="self-loop"),
        pytest.param({"A": ["B"], "B": ["A"]}, ["A", "B", "A"], id="two"),
        pytest.param(
            {"A": [], "B": ["C"], "C": ["D"], "D": ["B"]}, ["B", "C", "D", "B"], id="three"
        ),
        pytest.param({"A": [], "B": ["A"], "C": ["A", "B"]}, None, id="diamond-no-cycle"),
        pytest.param({"A": ["ghost"]}, None, id="unknown-deps-ignored"),
    ],
)
def test_find_cycle(deps, cycle):
    assert dag.find_cycle(deps) == cycle


def test_topological_order_breaks_ties_by_numeric_id():
    deps = {"T-10": [], "T-2": [], "T-1": ["T-10"]}
    assert dag.topological_order(deps) == ["T-2", "T-10", "T-1"]


def test_topological_order_names_the_cycle():
    with pytest.raises(CycleError, match="A -> B -> A"):
        dag.topological_order({"A": ["B"], "B": ["A"]})


def test_deep_chain_does_not_hit_the_recursion_limit():
    deps = {f"T-{i}": [f"T-{i - 1}"] if i else [] for i in range(20000)}
    assert dag.find_cycle(deps) is None
    assert dag.topological_order(deps)[-1] == "T-19999"


def test_downstream_is_transitive_and_excludes_roots():
    deps = {"A": [], "B": ["A"], "C": ["B"], "D": []}
    assert dag.downstream(deps, ["A"]) == {"B", "C"}
    assert dag.downstream(deps, ["D"]) == set()
