"""The kind of an expression without a search: a chain of operators is peeled off its polynomial,
and the result agrees with the solver's shortest programs wherever those can be listed."""

import pytest

from nativeagent.machine.tools import profile
from nativeagent.tasks.expression import operator_tool
from nativeagent.tasks.generate import all_reachable
from nativeagent.tasks.kinds import chain, classify, kind
from nativeagent.tasks.task import Task


def _kind_from_the_solver(task: Task, machine: str, limit: int) -> str:
    """The definition: the shortest program's tools against the postfix operators."""
    program = task.shortest_program(machine, limit)
    assert program is not None
    tools = profile(machine).by_token
    if any(tools[t].operator is None and not tools[t].answers for t in program):
        return "memory"
    written = [operator_tool(x).token for x in task.postfix if isinstance(x, str)]
    return "in order" if list(program[:-1]) == written else "rewritten"


@pytest.mark.parametrize(
    ("machine", "n", "limit"),
    [("canonical", 3, 8), ("canonical", 4, 8), ("canonical", 5, 10), ("extended", 4, 12)],
)
def test_classify_agrees_with_the_solvers_shortest_programs(machine, n, limit) -> None:
    for task in all_reachable(n, machine, limit):
        assert classify(task.tree) == _kind_from_the_solver(task, machine, limit), task


def test_chains_by_hand() -> None:
    assert chain(Task.parse("(a*b+c)-d").tree) == ("*", "+", "-")
    assert chain(Task.parse("a-(b-c)").tree) == ("-", "+")
    assert chain(Task.parse("a*(b*c)*(d*e)").tree) == ("*", "*", "*", "*")
    assert chain(Task.parse("(a*b+c)-(d*e)").tree) is None  # needs memory
    assert chain(Task.parse("a*(b+c)").tree) is None  # needs LOAD


def test_kind_refuses_what_the_machine_cannot_compute() -> None:
    with pytest.raises(ValueError, match="cannot be computed"):
        kind(Task.parse("a*(b+c)"))
    with pytest.raises(ValueError, match="cannot be computed"):
        kind(Task.parse("a+b+c+d+e"), max_steps=4)  # a chain longer than the limit
    assert kind(Task.parse("a*(b+c)"), "extended") == "memory"
    assert kind(Task.parse("a+b+c+d+e+f+g+h+i+j+k+l"), max_steps=12) == "in order"
