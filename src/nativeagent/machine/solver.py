"""The shortest tool program that computes a target on a profile's machine, or why none does.

The search is breadth first over *symbolic* machine states: the registers hold exact integer
polynomials in the operands (``polynomial.Poly``), the cursor and the armed cell are as on the
machine, and every transition is the tool table's own (``rules``). Which tools are legal never
depends on the digits, so one symbolic run stands for every context at once, and a program is
correct for every context exactly when its answered polynomial equals the target's. That
equivalence is exact, not sampled: two polynomials whose degree in every operand is below 10
agree on all of ``{0..9}^n`` only if they are equal (a non-zero one of that degree cannot
vanish on the whole grid). The degrees here stay below 10 for every program the step limits
allow on up to eight operands; ``search`` checks it.

The expression-level entry point is ``nativeagent.tasks.solver``.

>>> from nativeagent.machine.tools import CANONICAL
>>> a, b, c = (Poly.operand(i) for i in range(3))
>>> search(CANONICAL, a * b + c, 3).program_text
'MUL ADD ANS'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nativeagent.machine import rules
from nativeagent.machine.polynomial import Poly
from nativeagent.machine.tools import Profile, token_names

#: Below this degree in every operand, polynomial equality is equality on all of {0..9}^n.
MAX_DEGREE = 9


@dataclass(frozen=True)
class Solution:
    """What the search found for one target."""

    expression: str
    program: tuple[int, ...] | None  # the first shortest program in token-id order, or None
    n_shortest: int  # how many distinct programs have that shortest length
    states: int  # symbolic states visited
    max_steps: int
    reason: str | None = None  # why no program exists, when ``program`` is None
    exhaustive: bool = False  # every reachable state was searched: no program of any length
    machine: str = "canonical"

    @property
    def reachable(self) -> bool:
        return self.program is not None

    @property
    def program_text(self) -> str:
        """``'MUL ADD ANS'`` (empty when unreachable)."""
        names = token_names()
        return " ".join(names[t] for t in self.program or ())


Frontier = dict[rules.State[Poly], tuple[int, tuple[int, ...]]]


class Exploration:
    """The symbolic states of one profile over ``n`` operands, breadth first, a layer at a time.

    Layer ``d`` holds the states first reached after ``d`` tools (a state reached earlier by a
    shorter program, or one where no tool is legal, is dropped), each with the number of
    shortest programs reaching it and the first of them. Which states exist never depends on
    the target, so one exploration answers every target: ``answers`` maps each answerable
    polynomial to its shortest answering program's layer, count and first program, and layers
    are only explored as far as some target needs.
    """

    def __init__(self, profile: Profile, n: int) -> None:
        self.profile, self.n = profile, n
        self.x = [Poly.operand(i) for i in range(n)]
        self.frontier: Frontier = {rules.start(profile): (1, ())}
        self.seen = set(self.frontier)
        self.seen_at = [len(self.seen)]  # states seen once layer d exists
        self.indexed = -1  # the last layer whose answers are in ``answers``
        self.answers: dict[Poly, tuple[int, int, tuple[int, ...]]] = {}
        self._answering = [t for t in profile.tools if t.answers]
        self._acting = [t for t in profile.tools if not t.answers]

    @property
    def depth(self) -> int:
        """The layer ``frontier`` holds."""
        return len(self.seen_at) - 1

    def index(self) -> None:
        """Add the answers the current layer gives (programs of ``depth + 1`` tools)."""
        if self.indexed == self.depth:
            return
        found: dict[Poly, tuple[int, tuple[int, ...]]] = {}
        for state, (count, prog) in self.frontier.items():
            for tool in self._answering:
                m = rules.move(self.profile, tool, state, self.n)
                if m is None:
                    continue
                (value,) = rules.read(self.profile, m, state, self.x)
                assert value is not None
                if value in self.answers:
                    continue
                _check_degree(value)
                _add_programs(found, value, count, (*prog, tool.token))
        for value, (count, program) in found.items():
            self.answers[value] = (self.depth, count, program)
        self.indexed = self.depth

    def expand(self) -> None:
        """Move on to the next layer."""
        nxt: Frontier = {}
        for state, (count, prog) in self.frontier.items():
            for tool in self._acting:
                m = rules.move(self.profile, tool, state, self.n)
                if m is None:
                    continue
                new = rules.apply(self.profile, m, state, self.x)
                if new in self.seen and new not in nxt:
                    continue  # reached earlier by a shorter program
                if rules.stuck(self.profile, new, self.n):
                    continue  # stuck: the episode would end unsolved
                _add_programs(nxt, new, count, (*prog, tool.token))
        self.seen |= set(nxt)
        self.frontier = nxt
        self.seen_at.append(len(self.seen))

    def layer(self, d: int) -> None:
        """Explore (and index) up to layer ``d``, or until no state is left."""
        while self.depth < d and self.frontier:
            self.index()
            self.expand()
        if self.depth == d:
            self.index()


def _add_programs(
    table: dict[Any, tuple[int, tuple[int, ...]]], key: Any, count: int, program: tuple[int, ...]
) -> None:
    """Count ``count`` more shortest programs reaching ``key``; keep the first in id order."""
    old = table.get(key)
    table[key] = (count, program) if old is None else (old[0] + count, min(old[1], program))


@lru_cache(maxsize=64)
def exploration(profile: Profile, n: int) -> Exploration:
    """The shared exploration of ``profile`` over ``n`` operands (grown on demand)."""
    return Exploration(profile, n)


def search(
    profile: Profile, target: Poly, n: int, max_steps: int | None = None, text: str = ""
) -> Solution:
    """Search programs of at most ``max_steps`` tools (the answer included; default: the
    profile's limit) that answer ``target`` over ``n`` operands, shortest first."""
    limit = profile.max_steps if max_steps is None else max_steps
    text = text or str(target)
    ex = exploration(profile, n)
    for d in range(limit):  # layer d answers with programs of d + 1 tools
        ex.layer(d)
        hit = ex.answers.get(target)
        if hit is not None and hit[0] <= d:
            depth, count, program = hit
            return Solution(text, program, count, ex.seen_at[depth], limit, machine=profile.name)
        ex.layer(d + 1)
        if ex.seen_at[d + 1] == ex.seen_at[d]:  # layer d + 1 is empty: every program ends
            # (stuck or out of operands) before reaching the target
            reason = (
                f"no program of any length computes {text} for every context (all "
                f"{ex.seen_at[d]} reachable symbolic machine states searched): "
                f"{profile.limits}"
            )
            return Solution(text, None, 0, ex.seen_at[d], limit, reason, True, profile.name)
    reason = (
        f"no program of at most {limit} tools computes {text} for every context "
        f"({ex.seen_at[limit]} symbolic machine states searched; a longer program may exist, "
        f"raise max_steps to search further): {profile.limits}"
    )
    return Solution(text, None, 0, ex.seen_at[limit], limit, reason, machine=profile.name)


def _check_degree(value: Poly) -> None:
    if any(e > MAX_DEGREE for m, _ in value.terms for e in m):
        raise ValueError(
            "a program reached a degree above 9 in one operand, where polynomial equality "
            "no longer proves equality on every context; lower max_steps"
        )


__all__ = ["MAX_DEGREE", "Exploration", "Solution", "exploration", "search"]
