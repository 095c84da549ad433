"""How a shape's shortest program relates to its expression: the kinds a study reports apart.

- ``in order``: the program's tools are the postfix operators, in order, then the answer
  (``(a*b+c)*d`` is ``MUL ADD MUL ANS``): reading the expression left to right is enough;
- ``rewritten``: operators only, but others or in another order (``a+(b-c)+d`` is
  ``ADD SUB ADD ANS``): associativity or a sign flip;
- ``memory``: the program needs a tool that is no operator (``STO``, ``RCL``, ``LOAD``, …).

The kind needs no search: a program of operators alone computes ``((x0 o1 x1) o2 x2) …``, so
peeling the operands off the expression's polynomial from the last one says whether such a
*chain* exists and which it is (``chain``). A shortest program is a chain whenever one exists
(a chain has the fewest tools any program over ``n`` operands can have), so an expression
that some program computes is ``memory`` exactly when it has no chain, on every profile.

>>> [kind(Task.parse(e)) for e in ("a*b+c", "a-(b-c)", "(a-b)*(c-d)")]
['in order', 'rewritten', 'memory']
>>> chain(Task.parse("a-(b-c)+d").tree), chain(Task.parse("a*(b+c)").tree)
(('-', '+', '+'), None)
"""

from __future__ import annotations

from nativeagent.machine.polynomial import Poly
from nativeagent.machine.tools import PRODUCT, SUM, profile
from nativeagent.tasks.expression import (
    OPERATOR_FORMS,
    Node,
    n_operands,
    polynomial,
    postfix,
)
from nativeagent.tasks.task import Task

KINDS = ("in order", "rewritten", "memory")


def _split(poly: Poly, k: int) -> tuple[Poly, Poly] | None:
    """``(a, b)`` with ``poly = a + b * x_k`` and neither holding ``x_k``; ``None`` when ``x_k``
    appears squared or more."""
    without, with_ = {}, {}
    for monomial, coefficient in poly.terms:
        exponent = monomial[k] if k < len(monomial) else 0
        if exponent > 1:
            return None
        if exponent == 0:
            without[monomial] = coefficient
        else:
            rest = (*monomial[:k], 0, *monomial[k + 1 :])
            while rest and rest[-1] == 0:
                rest = rest[:-1]
            with_[rest] = coefficient
    return Poly._normal(without), Poly._normal(with_)


def chain(tree: Node) -> tuple[str, ...] | None:
    """The operators ``o1 … o(n-1)`` of the one program of operators alone that computes
    ``tree``, ``((x0 o1 x1) o2 x2) …``, or ``None`` when no such program does (it needs
    memory, or cannot be computed at all)."""
    poly, found = polynomial(tree), []
    for k in range(n_operands(tree) - 1, 0, -1):
        parts = _split(poly, k)
        if parts is None:
            return None
        rest, factor = parts
        for symbol, form in OPERATOR_FORMS.items():
            if form == (PRODUCT, 0) and not rest.terms:
                poly = factor
            elif form is not None and form[0] == SUM and factor == Poly.constant(form[1]):
                poly = rest
            else:
                continue
            found.append(symbol)
            break
        else:
            return None
    return tuple(reversed(found)) if poly == Poly.operand(0) else None


def classify(tree: Node) -> str:
    """The kind of an expression that some program computes (not checked: see ``kind``)."""
    ops = chain(tree)
    if ops is None:
        return "memory"
    written = tuple(x for x in postfix(tree) if isinstance(x, str))
    return "in order" if ops == written else "rewritten"


def kind(task: Task, machine: str = "canonical", max_steps: int | None = None) -> str:
    """The kind of ``task``'s shortest program on ``machine``; ``ValueError`` if it has none."""
    limit = profile(machine).max_steps if max_steps is None else max_steps
    short = chain(task.tree) is not None and task.n_operands <= limit  # a chain fits the limit
    if not short and task.shortest_program(machine, max_steps) is None:
        raise ValueError(f"{task.expression} cannot be computed on {machine}")
    return classify(task.tree)


__all__ = ["KINDS", "chain", "classify", "kind"]
