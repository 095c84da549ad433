"""The shortest tool program that computes an expression on the canonical machine, or why none does.

The search is breadth first over *symbolic* machine states: the accumulator and the memory hold
exact integer polynomials in the operands (``expression.polynomial``), the cursor and the armed
flag are as on the machine. Which tools are legal never depends on the digits, so one symbolic
run stands for every context at once, and a program is correct for every context exactly when
its answered polynomial equals the target's. That equivalence is exact, not sampled: two
polynomials whose degree in every operand is below 10 agree on all of ``{0..9}^n`` only if they
are equal (a non-zero one of that degree cannot vanish on the whole grid), and the degrees here
are at most the number of operands (≤ 8).

>>> s = solve("(a*b+c)-(d*e)")
>>> s.program_text, s.n_shortest
('MUL ADD STO MUL RCL SUB ANS', 1)
>>> solve("a*(b+c)").reachable
False
"""

from __future__ import annotations

from dataclasses import dataclass

from nativeagent.expression import (
    Node,
    Poly,
    n_operands,
    parse,
    poly_apply,
    poly_operand,
    polynomial,
    to_text,
)
from nativeagent.machine.reference import CANONICAL_MAX_STEPS, canonical_legal
from nativeagent.tokens import ADD, ANS, MUL, OPS, RCL, STO, SUB, TOOLS, name

_SYMBOL = {MUL: "*", ADD: "+", SUB: "-"}

#: Symbolic machine state: accumulator, memory (``None`` when empty), cursor, armed.
State = tuple[Poly | None, Poly | None, int, bool]

WHY_UNREACHABLE = (
    "the canonical machine reads operands strictly left to right, starts each chain by "
    "combining the next two unread operands, keeps one value in memory, and uses memory only "
    "as the left operand (mem op acc, after RCL)"
)


@dataclass(frozen=True)
class Solution:
    """What the search found for one expression."""

    expression: str
    program: tuple[int, ...] | None  # the first shortest program in tool order, or None
    n_shortest: int  # how many distinct programs have that shortest length
    states: int  # symbolic states visited
    max_steps: int
    reason: str | None = None  # why no program exists, when ``program`` is None
    exhaustive: bool = False  # every reachable state was searched: no program of any length

    @property
    def reachable(self) -> bool:
        return self.program is not None

    @property
    def program_text(self) -> str:
        """``'MUL ADD ANS'`` (empty when unreachable)."""
        return " ".join(name(t) for t in self.program or ())


def _step(state: State, tool: int, x: list[Poly]) -> State:
    """The symbolic effect of one legal tool (SPEC §2)."""
    acc, mem, p, armed = state
    if tool in OPS:
        op = _SYMBOL[tool]
        if armed:
            assert acc is not None and mem is not None
            return poly_apply(op, mem, acc), mem, p, False
        if acc is None:
            return poly_apply(op, x[p], x[p + 1]), mem, p + 2, False
        return poly_apply(op, acc, x[p]), mem, p + 1, False
    if tool == STO:
        return None, acc, p, False
    assert tool == RCL
    return acc, mem, p, True


def solve(expression: str | Node, max_steps: int = CANONICAL_MAX_STEPS) -> Solution:
    """Search programs of at most ``max_steps`` tools (``ANS`` included), shortest first."""
    tree = parse(expression) if isinstance(expression, str) else expression
    text = expression if isinstance(expression, str) else to_text(tree)
    n = n_operands(tree)
    target = polynomial(tree)
    x = [poly_operand(i) for i in range(n)]
    # Each frontier state keeps the number of shortest programs reaching it and the first one.
    frontier: dict[State, tuple[int, tuple[int, ...]]] = {(None, None, 0, False): (1, ())}
    seen = set(frontier)
    for _ in range(max_steps):
        found = [
            (count, (*prog, ANS))
            for (acc, mem, p, armed), (count, prog) in frontier.items()
            if acc == target and not armed
        ]
        if found:
            total = sum(c for c, _ in found)
            return Solution(text, min(p for _, p in found), total, len(seen), max_steps)
        nxt: dict[State, tuple[int, tuple[int, ...]]] = {}
        for state, (count, prog) in frontier.items():
            acc, mem, p, armed = state
            for tool in TOOLS:
                if tool == ANS or tool not in canonical_legal(acc, mem, p, armed, n):
                    continue
                new = _step(state, tool, x)
                if new in seen and new not in nxt:
                    continue  # reached earlier by a shorter program
                if not canonical_legal(new[0], new[1], new[2], new[3], n):
                    continue  # stuck: the episode would end unsolved
                old = nxt.get(new)
                prog2 = (*prog, tool)
                nxt[new] = (count, prog2) if old is None else (old[0] + count, min(old[1], prog2))
        seen |= set(nxt)
        frontier = nxt
        if not frontier:  # every program ends (stuck or out of operands) before reaching it
            reason = (
                f"no program of any length computes {text} for every context (all {len(seen)} "
                f"reachable symbolic machine states searched): {WHY_UNREACHABLE}"
            )
            return Solution(text, None, 0, len(seen), max_steps, reason, exhaustive=True)
    reason = (
        f"no program of at most {max_steps} tools computes {text} for every context "
        f"({len(seen)} symbolic machine states searched; a longer program may exist, "
        f"raise max_steps to search further): {WHY_UNREACHABLE}"
    )
    return Solution(text, None, 0, len(seen), max_steps, reason)


__all__ = ["WHY_UNREACHABLE", "Solution", "solve"]
