"""How the tool table acts: the one interpreter of its guards and effects.

``move`` resolves a tool in a *control state* (which registers hold a value, which cell is
armed, the cursor, the number of operands) to a ``Move`` whose sources are concrete (a register,
or operand ``x[i]``); ``apply`` carries a move out on values of any kind that the operators
accept. The reference machine runs it on ints, the solver on polynomials, and the batched
machine compiles every move of every control state into lookup tables.

>>> from nativeagent.machine.tools import CANONICAL as P
>>> first = move(P, P.tool("MUL"), start(P), 3)
>>> state = apply(P, first, start(P), [4, 2, 7])
>>> state.values, state.p, [t.name for t in legal(P, state, 3)]
((8, None), 2, ['MUL', 'ADD', 'SUB', 'ANS', 'STO'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar

from nativeagent.machine.tools import ARMED, NEXT, SECOND, Guard, Profile, Tool

V = TypeVar("V")

#: A source resolved: a register's name, or the index of an operand.
Source = str | int


@dataclass(frozen=True)
class State(Generic[V]):
    """A machine state: one value per register (``None``: empty), the cursor, the armed cell."""

    values: tuple[V | None, ...]
    p: int = 0
    armed: str | None = None

    def filled(self, registers: tuple[str, ...]) -> frozenset[str]:
        """The registers that hold a value."""
        return _filled(registers, tuple(v is not None for v in self.values))


@dataclass(frozen=True)
class Move:
    """What one legal tool does in one control state, every source resolved."""

    tool: Tool
    reads: tuple[Source, ...]
    writes: str | None
    clears: tuple[str, ...]
    p: int  # the cursor afterwards
    armed: str | None  # the armed cell afterwards
    answers: bool


def start(profile: Profile) -> State[Any]:
    """Every register empty, cursor at the first operand, nothing armed."""
    return State((None,) * len(profile.registers))


def holds(guard: Guard, filled: frozenset[str], armed: str | None, p: int, n: int) -> bool:
    """Whether ``guard`` holds in a control state."""
    return (
        guard.armed == (armed is not None)
        and p + guard.unread <= n
        and filled.issuperset(guard.set)
        and filled.isdisjoint(guard.empty)
    )


@lru_cache(maxsize=1024)
def _filled(registers: tuple[str, ...], held: tuple[bool, ...]) -> frozenset[str]:
    return frozenset(r for r, h in zip(registers, held, strict=True) if h)


@lru_cache(maxsize=1 << 16)
def resolve(tool: Tool, filled: frozenset[str], armed: str | None, p: int, n: int) -> Move | None:
    """The move ``tool`` makes in a control state, or ``None`` when it is illegal there (it
    depends on the control state alone, so it is cached)."""
    for case in tool.cases:
        if holds(case.when, filled, armed, p, n):
            e = case.then
            where: dict[str, Source] = {NEXT: p, SECOND: p + 1}
            if armed is not None:
                where[ARMED] = armed
            reads = tuple(where.get(s, s) for s in e.reads)
            return Move(tool, reads, e.writes, e.clears, p + e.advance, e.arms, e.answers)
    return None


def move(profile: Profile, tool: Tool, state: State[Any], n: int) -> Move | None:
    """The move ``tool`` makes in ``state`` over ``n`` operands (``None``: illegal)."""
    return resolve(tool, state.filled(profile.registers), state.armed, state.p, n)


def legal(profile: Profile, state: State[Any], n: int) -> list[Tool]:
    """The tools legal in ``state``, in table order."""
    filled = state.filled(profile.registers)
    return [t for t in profile.tools if resolve(t, filled, state.armed, state.p, n) is not None]


def stuck(profile: Profile, state: State[Any], n: int) -> bool:
    """No tool is legal in ``state``: the episode ends there, unsolved."""
    filled = state.filled(profile.registers)
    return all(resolve(t, filled, state.armed, state.p, n) is None for t in profile.tools)


def read(profile: Profile, m: Move, state: State[V], x: Sequence[V]) -> list[V | None]:
    """The values move ``m`` reads in ``state`` (an answering move reads its answer)."""
    values = dict(zip(profile.registers, state.values, strict=True))
    return [x[s] if isinstance(s, int) else values[s] for s in m.reads]


def apply(
    profile: Profile,
    m: Move,
    state: State[V],
    x: Sequence[V],
    combine: Callable[[Tool, V, V], V] | None = None,
) -> State[V]:
    """Carry out move ``m`` on ``state`` with operand values ``x`` (an answering move changes
    nothing: it ends the episode). An operator combines two values with its ``apply``, or with
    ``combine(tool, left, right)`` when given (values that are expression trees, say)."""
    names = profile.registers
    values = dict(zip(names, state.values, strict=True))
    read_ = read(profile, m, state, x)
    if m.writes is not None:
        if len(read_) == 1:
            values[m.writes] = read_[0]
        else:
            assert m.tool.operator is not None
            how = m.tool.operator.apply if combine is None else partial(combine, m.tool)
            values[m.writes] = how(read_[0], read_[1])
    for r in m.clears:
        values[r] = None
    return State(tuple(values[r] for r in names), m.p, m.armed)


__all__ = [
    "Move",
    "Source",
    "State",
    "apply",
    "holds",
    "legal",
    "move",
    "read",
    "resolve",
    "start",
    "stuck",
]
