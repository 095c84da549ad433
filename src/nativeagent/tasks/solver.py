"""The shortest program that computes an expression on a machine, or why there is none.

The symbolic search itself is the machine layer's (``nativeagent.machine.solver``); this module
turns an expression into its target polynomial and caches the answer per expression, machine
and step limit.

>>> s = solve("(a*b+c)-(d*e)")
>>> s.program_text, s.n_shortest
('MUL ADD STO MUL RCL SUB ANS', 1)
>>> solve("a*(b+c)").reachable, solve("a*(b+c)", "extended").program_text
(False, 'LOAD STO ADD RCL MUL ANS')
"""

from __future__ import annotations

from functools import lru_cache

from nativeagent.machine.solver import Solution, search
from nativeagent.machine.tools import profile
from nativeagent.tasks.expression import Node, n_operands, parse, polynomial, to_text


def solve(
    expression: str | Node, machine: str = "canonical", max_steps: int | None = None
) -> Solution:
    """Search programs of at most ``max_steps`` tools (``ANS`` included; default: the machine's
    own limit) that compute ``expression`` on ``machine``, shortest first.

    ``seed-legacy`` is searched as the canonical machine whose tokens it runs.
    """
    tree = parse(expression) if isinstance(expression, str) else expression
    text = expression if isinstance(expression, str) else to_text(tree)
    p = profile(machine)
    return _solve(tree, text, p.name, p.max_steps if max_steps is None else max_steps)


@lru_cache(maxsize=4096)
def _solve(tree: Node, text: str, machine: str, max_steps: int) -> Solution:
    return search(profile(machine), polynomial(tree), n_operands(tree), max_steps, text)


__all__ = ["Solution", "solve"]
