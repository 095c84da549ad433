"""Where task sets come from: every or random reachable expressions, held-out splits, configs.

Expressions here read each operand once, in order (``a``, ``b``, …), so ``n`` operands take
``n - 1`` operators; a shape is the expression with its operators, written with only the
parentheses its tree needs (``a*b-c*d``). Which shapes count as reachable is the solver's call.

>>> [t.expression for t in all_reachable(2)]
['a*b', 'a+b', 'a-b']
>>> len(all_reachable(3)), len(all_reachable(4))
(14, 93)
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import torch

from nativeagent.config import Config, ConfigError, TaskConfig
from nativeagent.expression import LETTERS, OPERATORS, BinOp, Node, Operand, to_text
from nativeagent.machine.reference import CANONICAL_MAX_STEPS
from nativeagent.solver import solve
from nativeagent.tasks import Task, TaskSet


def _catalan(n: int) -> int:
    return comb(2 * n, n) // (n + 1)


def all_trees(first: int, n: int, operators: str = "".join(OPERATORS)) -> list[Node]:
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
    n: int, max_steps: int = CANONICAL_MAX_STEPS, operators: str = "".join(OPERATORS)
) -> tuple[Task, ...]:
    """Every expression over ``n`` operands that a program of ``max_steps`` tools computes."""
    _check_operands(n)
    _check_operators(operators)
    trees = [t for t in all_trees(0, n, operators) if solve(t, max_steps).reachable]
    return tuple(Task(to_text(t), t) for t in trees)


def random_tree(n: int, generator: torch.Generator, operators: str = "".join(OPERATORS)) -> Node:
    """A tree over ``n`` operands in order, uniform over tree shapes and over operators."""

    def build(first: int, size: int) -> Node:
        if size == 1:
            return Operand(first)
        weights = torch.tensor(
            [_catalan(k - 1) * _catalan(size - k - 1) for k in range(1, size)], dtype=torch.float
        )
        k = 1 + int(torch.multinomial(weights, 1, generator=generator))
        op = operators[int(torch.randint(len(operators), (1,), generator=generator))]
        return BinOp(op, build(first, k), build(first + k, size - k))

    return build(0, n)


def random_reachable(
    n: int,
    count: int,
    generator: torch.Generator,
    operators: str = "".join(OPERATORS),
    max_steps: int = CANONICAL_MAX_STEPS,
) -> list[Task]:
    """``count`` distinct random expressions over ``n`` operands that the machine can compute.

    Draws trees with ``random_tree`` and keeps the reachable ones (rejection sampling); raises
    ``ValueError`` when fewer than ``count`` exist (counted for up to 5 operands; beyond that,
    when 1,000 draws per expression asked for did not find them).
    """
    _check_operands(n)
    _check_operators(operators)
    if n <= 5 and count > (limit := len(all_reachable(n, max_steps, operators))):
        raise ValueError(f"only {limit} reachable expressions over {n} operands, not {count}")
    found: dict[str, Task] = {}
    for _ in range(1000 * count):
        if len(found) == count:
            break
        tree = random_tree(n, generator, operators)
        text = to_text(tree)
        if text not in found and solve(tree, max_steps).reachable:
            found[text] = Task(text, tree)
    if len(found) < count:
        raise ValueError(f"found {len(found)} reachable expressions over {n} operands, not {count}")
    return list(found.values())


def split_held_out(
    stages: list[list[Task]], fraction: float, seed: int
) -> tuple[list[list[Task]], list[Task]]:
    """Hold out ``round(fraction * shapes)`` shapes drawn uniformly from every stage's tasks.

    A draw that would empty a stage is skipped, so every stage keeps a task to train on.
    """
    pool = [(s, t) for s, tasks in enumerate(stages) for t in tasks]
    want = round(fraction * len(pool))
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed)).tolist()
    left = [len(tasks) for tasks in stages]
    held: set[int] = set()
    for i in order:
        if len(held) == want:
            break
        s = pool[i][0]
        if left[s] > 1:
            held.add(i)
            left[s] -= 1
    kept = [
        [t for j, (s, t) in enumerate(pool) if s == k and j not in held] for k in range(len(stages))
    ]
    return kept, [pool[i][1] for i in sorted(held)]


def _check_operands(n: int) -> None:
    if not 2 <= n <= len(LETTERS):
        raise ValueError(f"expressions need 2..{len(LETTERS)} operands, got {n}")


def _check_operators(operators: str) -> None:
    if not operators or set(operators) - set(OPERATORS):
        raise ValueError(f"operators must be drawn from {''.join(OPERATORS)!r}, got {operators!r}")


def _task(text: str, key: str, max_steps: int) -> Task:
    task = Task.parse(text)
    solution = solve(task.tree, max_steps)
    if not solution.reachable:
        raise ConfigError(f"{key}: {solution.reason}")
    return task


@lru_cache(maxsize=16)
def _build(task_json: str, max_steps: int) -> TaskSet:
    import json

    cfg = TaskConfig(**json.loads(task_json))
    if cfg.all_reachable:
        if cfg.all_reachable < 2:
            raise ConfigError("task.all_reachable: needs at least 2 operands (or 0 for off)")
        stages = [list(all_reachable(n, max_steps)) for n in range(2, cfg.all_reachable + 1)]
    else:
        stages = [
            [_task(entry, f"task.curriculum[{i}]", max_steps)]
            if isinstance(entry, str)
            else [_task(text, f"task.curriculum[{i}]", max_steps) for text in entry]
            for i, entry in enumerate(cfg.curriculum)
        ]
    shapes = [t.shape for s in stages for t in s]
    if len(set(shapes)) < len(shapes):
        twice = sorted({s for s in shapes if shapes.count(s) > 1})
        raise ConfigError(f"task.curriculum: expression {twice[0]} appears more than once")
    kept, held = split_held_out(stages, cfg.held_out, cfg.split_seed)
    for text in cfg.held_out_expressions:
        task = _task(text, "task.held_out_expressions", max_steps)
        if task.shape in shapes:
            raise ConfigError(f"task.held_out_expressions: {text} is also in the curriculum")
        held.append(task)
    return TaskSet(kept, held, cfg.show_expression)


def build_task_set(cfg: Config) -> TaskSet:
    """The task set a configuration asks for; ``ConfigError`` names a key that cannot work.

    Every expression must be computable within ``machine.max_steps`` tools (else no policy can
    master it); the result is cached, since the solver runs once per expression.
    """
    import dataclasses
    import json

    key = json.dumps(dataclasses.asdict(cfg.task), sort_keys=True)
    return _build(key, cfg.machine.max_steps)


__all__ = [
    "all_reachable",
    "all_trees",
    "build_task_set",
    "random_reachable",
    "random_tree",
    "split_held_out",
]
