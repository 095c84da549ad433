"""How a shape's shortest program relates to its expression: the kinds a study reports apart.

- ``in order``: the program's tools are the postfix operators, in order, then the answer
  (``(a*b+c)*d`` is ``MUL ADD MUL ANS``): reading the expression left to right is enough;
- ``rewritten``: operators only, but others or in another order (``a+(b-c)+d`` is
  ``ADD SUB ADD ANS``): associativity or a sign flip;
- ``memory``: the program needs a tool that is no operator (``STO``, ``RCL``, ``LOAD``, …).

>>> [kind(Task.parse(e)) for e in ("a*b+c", "a-(b-c)", "(a-b)*(c-d)")]
['in order', 'rewritten', 'memory']
"""

from __future__ import annotations

from nativeagent.machine.tools import profile
from nativeagent.tasks.expression import operator_tool
from nativeagent.tasks.task import Task

KINDS = ("in order", "rewritten", "memory")


def kind(task: Task, machine: str = "canonical", max_steps: int | None = None) -> str:
    """The kind of ``task``'s shortest program on ``machine``; ``ValueError`` if it has none."""
    program = task.shortest_program(machine, max_steps)
    if program is None:
        raise ValueError(f"{task.expression} cannot be computed on {machine}")
    tools = profile(machine).by_token
    if any(tools[t].operator is None and not tools[t].answers for t in program):
        return "memory"
    written = [operator_tool(x).token for x in task.postfix if isinstance(x, str)]
    return "in order" if list(program[:-1]) == written else "rewritten"


__all__ = ["KINDS", "kind"]
