"""Where tasks come from: every or random reachable expressions, a curriculum's stages, and
the expression sets a trained agent is evaluated on (``parse_expressions``, ``check_computable``,
``reachable_set``).

Expressions here read each operand once, in order (``a``, ``b``, …), so ``n`` operands take
``n - 1`` operators; a shape is the expression with its operators, written with only the
parentheses its tree needs (``a*b-c*d``). Which shapes count as reachable is the solver's call,
on the machine asked for. Nothing here needs torch: random draws use a seeded ``random.Random``.

>>> [t.expression for t in all_reachable(2)]
['a*b', 'a+b', 'a-b']
>>> len(all_reachable(3)), len(all_reachable(4)), len(all_reachable(4, "extended"))
(14, 93, 135)
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from math import comb

from nativeagent.tasks.expression import LETTERS, OPERATORS, BinOp, Node, Operand, to_text
from nativeagent.tasks.random_programs import draw_computable
from nativeagent.tasks.solver import solve
from nativeagent.tasks.task import Task

ALL_OPERATORS = "".join(OPERATORS)
#: Most operands ``reachable_set`` lists in full; beyond, there are too many, so it samples.
MAX_LISTED_OPERANDS = 5


class TaskSpecError(ValueError):
    """A task specification that cannot work; the message starts with the key at fault."""


def _catalan(n: int) -> int:
    return comb(2 * n, n) // (n + 1)


def all_trees(first: int, n: int, operators: str = ALL_OPERATORS) -> list[Node]:
    """Every binary tree over operands ``first .. first+n-1`` in order, every operator choice."""
    if n == 1:
        return [Operand(first)]
    out: list[Node] = []
    for k in range(1, n):  # operands on the left
        for left in all_trees(first, k, operators):
            for right in all_trees(first + k, n - k, operators):
                out.extend(BinOp(op, left, right) for op in operators)
    return out


@lru_cache(maxsize=32)
def all_reachable(
    n: int,
    machine: str = "canonical",
    max_steps: int | None = None,
    operators: str = ALL_OPERATORS,
) -> tuple[Task, ...]:
    """Every expression over ``n`` operands that a program of ``max_steps`` tools computes on
    ``machine`` (default: the machine's own step limit)."""
    _check_operands(n)
    _check_operators(operators)
    trees = [t for t in all_trees(0, n, operators) if solve(t, machine, max_steps).reachable]
    return tuple(Task(to_text(t), t) for t in trees)


def random_tree(n: int, rng: random.Random, operators: str = ALL_OPERATORS) -> Node:
    """A tree over ``n`` operands in order, uniform over tree shapes and over operators."""

    def build(first: int, size: int) -> Node:
        if size == 1:
            return Operand(first)
        weights = [_catalan(k - 1) * _catalan(size - k - 1) for k in range(1, size)]
        k = rng.choices(range(1, size), weights)[0]
        op = operators[rng.randrange(len(operators))]
        return BinOp(op, build(first, k), build(first + k, size - k))

    return build(0, n)


def random_reachable(
    n: int,
    count: int,
    rng: random.Random,
    operators: str = ALL_OPERATORS,
    machine: str = "canonical",
    max_steps: int | None = None,
) -> list[Task]:
    """``count`` distinct random expressions over ``n`` operands that the machine can compute.

    Draws trees with ``random_tree`` and keeps the reachable ones (rejection sampling); raises
    ``ValueError`` when fewer than ``count`` exist (counted for up to 5 operands; beyond that,
    when 1,000 draws per expression asked for did not find them).
    """
    _check_operands(n)
    _check_operators(operators)
    if n <= 5 and count > (limit := len(all_reachable(n, machine, max_steps, operators))):
        raise ValueError(f"only {limit} reachable expressions over {n} operands, not {count}")
    found: dict[str, Task] = {}
    for _ in range(1000 * count):
        if len(found) == count:
            break
        tree = random_tree(n, rng, operators)
        text = to_text(tree)
        if text not in found and solve(tree, machine, max_steps).reachable:
            found[text] = Task(text, tree)
    if len(found) < count:
        raise ValueError(f"found {len(found)} reachable expressions over {n} operands, not {count}")
    return list(found.values())


def _check_operands(n: int) -> None:
    if not 2 <= n <= len(LETTERS):
        raise ValueError(f"expressions need 2..{len(LETTERS)} operands, got {n}")


def _check_operators(operators: str) -> None:
    if not operators or set(operators) - set(OPERATORS):
        raise ValueError(f"operators must be drawn from {ALL_OPERATORS!r}, got {operators!r}")


def computable(text: str, key: str, machine: str, max_steps: int) -> Task:
    """The task of ``text``, or ``TaskSpecError`` (naming ``key``) when no program of
    ``max_steps`` tools computes it on ``machine``."""
    return _reachable(Task.parse(text), key, machine, max_steps)


def _reachable(task: Task, key: str, machine: str, max_steps: int) -> Task:
    """``task``, or ``TaskSpecError`` naming ``key`` with the solver's reason it is not."""
    solution = solve(task.tree, machine, max_steps)
    if not solution.reachable:
        raise TaskSpecError(f"{key}: {solution.reason}")
    return task


def parse_expressions(texts: Iterable[str]) -> list[Task]:
    """The tasks of ``texts``, each a single expression or several separated by commas or spaces
    (expressions contain neither); a shape given twice counts once, in its first spelling.

    Raises ``ExpressionError`` (a ``ValueError``) for a malformed one, ``TaskSpecError`` for none.
    """
    found: dict[str, Task] = {}
    for text in texts:
        for part in re.split(r"[\s,]+", text.strip()):
            if part:
                task = Task.parse(part)
                found.setdefault(task.shape, task)
    if not found:
        raise TaskSpecError("no expression given")
    return list(found.values())


def check_computable(tasks: Sequence[Task], machine: str, max_steps: int) -> list[Task]:
    """``tasks`` when a program of ``max_steps`` tools computes each on ``machine``, else
    ``TaskSpecError`` with the solver's reason for the first that none does (it names it)."""
    return [_reachable(t, f"expression {t.expression}", machine, max_steps) for t in tasks]


def reachable_set(
    n: int, machine: str, max_steps: int, sample: int | None = None, seed: int = 0
) -> list[Task]:
    """Every expression over ``n`` operands that ``machine`` computes within ``max_steps``
    tools, or ``sample`` of them drawn by running random programs with ``seed``, half of them
    needing memory (``random_programs.draw_computable``: no search, so any length).

    Listing them all is refused (``TaskSpecError``) beyond ``MAX_LISTED_OPERANDS`` operands:
    over 6 there are tens of thousands of trees, so give ``sample``.
    """
    if sample is None:
        if n > MAX_LISTED_OPERANDS:
            raise TaskSpecError(
                f"too many expressions over {n} operands to evaluate them all (all are listed "
                f"for up to {MAX_LISTED_OPERANDS}); draw a sample of them"
            )
        return list(all_reachable(n, machine, max_steps))
    return [d.task for d in draw_computable(n, sample, seed, machine, max_steps)]


def curriculum_stages(
    curriculum: Sequence[str | Sequence[str]],
    all_reachable_up_to: int,
    held_out_expressions: Sequence[str],
    machine: str,
    max_steps: int,
) -> tuple[list[list[Task]], list[Task]]:
    """The curriculum's stages of tasks and the extra held-out tasks a task config asks for
    (keys as in ``[task]``); every expression must be computable within ``max_steps`` tools,
    else no policy can master it. ``all_reachable_up_to >= 2`` replaces the curriculum with
    every reachable expression over 2..N operands, a stage per operand count."""
    if all_reachable_up_to:
        if all_reachable_up_to < 2:
            raise TaskSpecError("task.all_reachable: needs at least 2 operands (or 0 for off)")
        stages = [
            list(all_reachable(n, machine, max_steps)) for n in range(2, all_reachable_up_to + 1)
        ]
        empty = next((n for n, stage in enumerate(stages, start=2) if not stage), None)
        if empty is not None:
            raise TaskSpecError(
                f"task.all_reachable: no expression of {empty} operands can be computed within "
                f"machine.max_steps = {max_steps} tools; raise machine.max_steps or lower "
                "task.all_reachable"
            )
    else:
        stages = [
            [computable(entry, f"task.curriculum[{i}]", machine, max_steps)]
            if isinstance(entry, str)
            else [computable(text, f"task.curriculum[{i}]", machine, max_steps) for text in entry]
            for i, entry in enumerate(curriculum)
        ]
    shapes = [t.shape for s in stages for t in s]
    if len(set(shapes)) < len(shapes):
        twice = sorted({s for s in shapes if shapes.count(s) > 1})
        raise TaskSpecError(f"task.curriculum: expression {twice[0]} appears more than once")
    extra = []
    for text in held_out_expressions:
        task = computable(text, "task.held_out_expressions", machine, max_steps)
        if task.shape in shapes:
            raise TaskSpecError(f"task.held_out_expressions: {text} is also in the curriculum")
        extra.append(task)
    return stages, extra


__all__ = [
    "MAX_LISTED_OPERANDS",
    "TaskSpecError",
    "all_reachable",
    "all_trees",
    "check_computable",
    "computable",
    "curriculum_stages",
    "parse_expressions",
    "random_reachable",
    "random_tree",
    "reachable_set",
]
