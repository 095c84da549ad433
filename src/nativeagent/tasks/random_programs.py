"""Random computable expressions at any length, drawn by running random programs symbolically.

Drawing an expression and then searching for its program (``generate.random_reachable``) stops
scaling at six operands: the solver's search grows exponentially with the step limit. Here the
draw goes the other way. A random walk over the machine's legal tools, whose registers hold
expression trees instead of numbers (the tool table's own rules, ``rules.apply``), ends with a
program and the expression it computes, so every expression drawn is computable by construction
and costs time linear in its length. The walk reads every operand once and never drops or
reuses a value: a value in a register must be used once before the register is written again,
and a memory cell is recalled only while its value is unused. (Walks that recall cells out of
turn compute expressions whose operands are out of order; those are dropped.)

Walks of operators alone give chains (``((a*b)+c)-d``); walks that may use every tool give the
expressions that need memory (or ``LOAD``). Each expression is then rewritten at random by
associativity (``(x-y)+z`` as ``x-(y-z)``, ``(x*y)*z`` as ``x*(y*z)``: the same polynomial and
operand order, so the same program still computes it), which gives the shapes whose program
must rewrite the expression. A draw keeps ``memory`` of its expressions of the kind that needs
memory (half by default) and reports each expression's kind (``kinds.classify``).

>>> drawn = draw_computable(8, 4, seed=0)
>>> [d.kind for d in drawn], all(len(d.program) <= 16 for d in drawn)
(['rewritten', 'memory', 'in order', 'memory'], True)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from nativeagent.machine import rules
from nativeagent.machine.tools import ACC, PRODUCT, SUM, Profile, Tool, profile
from nativeagent.tasks.expression import (
    LETTERS,
    OPERATOR_FORMS,
    OPERATOR_TOOLS,
    OPERATORS,
    BinOp,
    Node,
    Operand,
    operands,
    to_text,
)
from nativeagent.tasks.kinds import KINDS, classify
from nativeagent.tasks.task import Task

ALL_OPERATORS = "".join(OPERATORS)
#: Operands at which ``default_limit`` starts to grow the machine's step limit.
BASE_OPERANDS = 4
#: Walks tried per expression asked for before a draw gives up, and walks in a row that find
#: nothing new (there may be no more to find: only 3 expressions have 2 operands).
ATTEMPTS_PER_EXPRESSION = 200
STALL = 20_000


@dataclass(frozen=True)
class Drawn:
    """An expression, a program of the machine that computes it (not necessarily the shortest)
    and its kind (``in order``, ``rewritten`` or ``memory``)."""

    task: Task
    program: tuple[int, ...]
    kind: str


def default_limit(machine: str, n: int) -> int:
    """The step limit for ``n`` operands: the machine's own, raised in proportion beyond
    ``BASE_OPERANDS`` (canonical 16 at 8 operands, extended 24), as ``eval`` raises it for a run
    trained on up to four."""
    own = profile(machine).max_steps
    return max(own, ceil(own * n / BASE_OPERANDS))


def _combine(tool: Tool, left: Node, right: Node) -> Node:
    """An operator applied to two expression trees: the tree of the operation."""
    assert tool.operator is not None
    return BinOp(tool.operator.symbol, left, right)


def random_program(
    tools: Profile, n: int, limit: int, rng: random.Random, memory: bool
) -> tuple[tuple[int, ...], Node] | None:
    """One random walk over ``n`` operands: a program of at most ``limit`` tools and the tree it
    answers, or ``None`` when the walk got stuck or ran past the limit. Without ``memory`` the
    walk uses operators (and the answer) alone."""
    allowed = [t for t in tools.tools if memory or t.operator is not None or t.answers]
    x: list[Node] = [Operand(i) for i in range(n)]
    state: rules.State[Node] = rules.start(tools)
    live: set[str] = set()  # registers whose value is still to be used
    program: list[int] = []
    while len(program) < limit:
        moves = []
        for tool in allowed:
            m = rules.move(tools, tool, state, n)
            if m is None:
                continue
            reads = {s for s in m.reads if isinstance(s, str)}
            if m.answers:
                if state.p == n and live == {ACC}:
                    moves.append(m)
                continue
            if reads - live or (m.armed is not None and m.armed not in live):
                continue  # would use a value twice
            if m.writes is not None and m.writes in live and m.writes not in reads:
                continue  # would drop a value unused
            moves.append(m)
        if not moves:
            return None
        m = rng.choice(moves)
        program.append(m.tool.token)
        if m.answers:
            (answer,) = rules.read(tools, m, state, x)
            assert answer is not None
            return tuple(program), answer
        reads = {s for s in m.reads if isinstance(s, str)}
        live = (live - reads - set(m.clears)) | ({m.writes} if m.writes else set())
        state = rules.apply(tools, m, state, x, _combine)
    return None


#: The sum operator of each ``c`` (``l + c*r``), for associativity rewrites.
_SUMS = {f[1]: s for s, f in OPERATOR_FORMS.items() if f is not None and f[0] == SUM}


def reassociate(node: Node, rng: random.Random, chance: float = 0.5) -> Node:
    """``node`` with operations regrouped at random, each ``(x o1 y) o2 z`` of one family (sums:
    ``+`` and ``-``; products: ``*``) becoming ``x o1 (y o z)`` with ``chance``; the value and
    the operand order stay the same.

    >>> to_text(reassociate(BinOp("+", BinOp("-", Operand(0), Operand(1)), Operand(2)),
    ...                     random.Random(0), chance=1.0))
    'a-(b-c)'
    """
    if isinstance(node, Operand):
        return node
    left, right = reassociate(node.left, rng, chance), reassociate(node.right, rng, chance)
    if isinstance(left, BinOp) and rng.random() < chance:
        inner = _regrouped(left.op, node.op)
        if inner is not None:
            return BinOp(left.op, left.left, reassociate(BinOp(inner, left.right, right), rng, 0))
    return BinOp(node.op, left, right)


def _regrouped(outer_left: str, top: str) -> str | None:
    """The inner operator ``o`` with ``(x o1 y) o2 z == x o1 (y o z)``, or ``None``."""
    f1, f2 = OPERATOR_FORMS.get(outer_left), OPERATOR_FORMS.get(top)
    if f1 is None or f2 is None:
        return None
    if f1 == f2 == (PRODUCT, 0):
        return top
    if f1[0] == f2[0] == SUM and abs(f1[1]) == 1:
        return _SUMS.get(f1[1] * f2[1])  # x + c1*(y + (c2/c1)*z), and 1/c1 == c1
    return None


def draw_computable(
    n: int,
    count: int,
    seed: int = 0,
    machine: str = "canonical",
    max_steps: int | None = None,
    memory: float = 0.5,
    operators: str = ALL_OPERATORS,
) -> list[Drawn]:
    """``count`` distinct expressions over ``n`` operands, each with a program of at most
    ``max_steps`` tools (default ``default_limit``) that computes it on ``machine``; a
    ``memory`` share of them need memory, the rest are chains, in order or rewritten (fewer of a
    kind when the machine has fewer, the others making up the count).

    ``ValueError`` when ``count`` distinct expressions were not found.
    """
    tools = profile(machine)
    if not 2 <= n <= len(LETTERS):
        raise ValueError(f"expressions need 2..{len(LETTERS)} operands, got {n}")
    if not operators or set(operators) - set(OPERATORS):
        raise ValueError(f"operators must be drawn from {ALL_OPERATORS!r}, got {operators!r}")
    if not 0.0 <= memory <= 1.0:
        raise ValueError(f"the memory share must lie in [0, 1], got {memory}")
    limit = default_limit(machine, n) if max_steps is None else max_steps
    barred = {OPERATOR_TOOLS[s].token for s in set(OPERATORS) - set(operators)}
    rng = random.Random(seed)
    quota = {"memory": round(count * memory), "chain": count - round(count * memory)}
    kept: list[Drawn] = []  # in the order drawn
    spare: dict[str, list[Drawn]] = {"memory": [], "chain": []}
    seen: set[str] = set()
    stalled = 0
    for _ in range(ATTEMPTS_PER_EXPRESSION * count):
        wanted = [k for k in quota if _pool(kept, k) < quota[k]]
        if not wanted or stalled >= STALL:
            break
        stalled += 1
        walk = random_program(tools, n, limit, rng, memory=rng.choice(wanted) == "memory")
        if walk is None or barred.intersection(walk[0]):
            continue
        program, tree = walk
        if operands(tree) != list(range(n)):
            continue  # cells recalled out of turn: the operands are out of order
        tree = reassociate(tree, rng)
        text = to_text(tree)
        if text in seen:
            continue
        seen.add(text)
        stalled = 0
        drawn = Drawn(Task(text, tree), program, classify(tree))
        pool = _POOL[drawn.kind]
        (kept if _pool(kept, pool) < quota[pool] else spare[pool]).append(drawn)
    for short, other in (("memory", "chain"), ("chain", "memory")):  # a kind that fell short
        kept += spare[other][: quota[short] - _pool(kept, short)]
    if len(kept) < count:
        raise ValueError(
            f"found {len(kept)} distinct expressions over {n} operands that {machine} computes "
            f"within {limit} tools, not {count}"
        )
    return kept


#: The pool of each kind: a draw's ``memory`` share, and the chains.
_POOL = {"memory": "memory", "in order": "chain", "rewritten": "chain"}


def _pool(drawn: list[Drawn], pool: str) -> int:
    return sum(_POOL[d.kind] == pool for d in drawn)


def kind_counts(drawn: Sequence[Drawn]) -> dict[str, int]:
    """How many of ``drawn`` are of each kind, in the order of ``kinds.KINDS``."""
    return {k: sum(d.kind == k for d in drawn) for k in KINDS}


__all__ = [
    "BASE_OPERANDS",
    "Drawn",
    "default_limit",
    "draw_computable",
    "kind_counts",
    "random_program",
    "reassociate",
]
