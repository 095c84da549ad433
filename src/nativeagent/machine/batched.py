"""The batched tool machine in torch, compiled from the tool table: many episodes per step.

Each episode's *control state* (which registers hold a value, which cell is armed, the cursor
``p``, the number of operands ``n``) is one integer, and its values live on a *tape*: one row
per episode holding the registers, the answer, a scratch cell and the operands. For every
control state and token, the table's move (``rules.resolve``) is compiled once into a row of a
lookup table: the two tape columns it reads, its operator as coefficients, the column it
writes, the next control state and a few flags. A step is then a fixed handful of tensor
operations over the whole batch (look the row up, gather two values, combine them, scatter the
result, move on); no Python loop runs over the episodes, and nothing here knows what any tool
does. Illegal actions, stuck states (no legal tool) and answers all lead to the two terminal
states, so finished episodes stay frozen by the table itself.

Rewards: 1 for a correct answer, plus optional shaping (partial credit for answering a
subgoal, a process reward when an operator first produces one), never counted as success.

>>> import torch
>>> from nativeagent.machine.tools import EXTENDED
>>> from types import SimpleNamespace
>>> batch = SimpleNamespace(context=torch.tensor([[3, 4, 5]]), n_operands=torch.tensor([3]),
...     target=torch.tensor([27]), subgoals=torch.zeros(1, 1, dtype=torch.long),
...     subgoal_valid=torch.zeros(1, 1, dtype=torch.bool), stage=torch.tensor([0]))
>>> machine = ToolMachine(EXTENDED)
>>> machine.reset(batch)
>>> for name in ("LOAD", "STO", "ADD", "RCL", "MUL", "ANS"):
...     reward, done = machine.step(torch.tensor([EXTENDED.tool(name).token]))
>>> reward.tolist(), done.tolist(), machine.answer.tolist(), machine.steps.tolist()
([1.0], [True], [27], [6])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from nativeagent.machine import rules
from nativeagent.machine.base import Episodes
from nativeagent.machine.tools import Profile


@dataclass(frozen=True)
class Shaping:
    """Optional reward shaping; never counted as success."""

    partial: float = 0.0
    """Reward at ANS for answering a subgoal value instead of the target."""
    process: float = 0.0
    """Reward for an operator call that first produces a subgoal value."""


#: The two terminal control states: ended without an answer, and answered.
DONE, ANSWERED = 0, 1
FIRST_LIVE = 2
#: Columns of a compiled row: read columns, operator coefficients (value = l*(b + a*r) + c*r),
#: written column, next state, live (the step counts), continues (still running after it),
#: answers, and the index of an operator that is not of that bilinear form (0: none).
L, R, A, B, C, DEST, NEXT, LIVE, CONT, ANS, OP = range(11)


def bilinear(fn: Callable[[Any, Any], Any]) -> tuple[int, int, int] | None:
    """``(a, b, c)`` with ``fn(l, r) == a*l*r + b*l + c*r`` for all ints, or ``None``.

    >>> import operator
    >>> bilinear(operator.mul), bilinear(operator.sub), bilinear(max)
    ((1, 0, 0), (0, 1, -1), None)
    """
    try:
        d = fn(0, 0)
        b, c = fn(1, 0) - d, fn(0, 1) - d
        a = fn(1, 1) - b - c - d
        grid = itertools.product(range(-4, 5), repeat=2)
        if d != 0 or any(fn(lv, rv) != a * lv * rv + b * lv + c * rv for lv, rv in grid):
            return None
    except ArithmeticError:  # e.g. a division by zero: not of that form either
        return None
    return a, b, c


@dataclass(frozen=True)
class Layout:
    """Where things are: tape columns, and how a control state is numbered."""

    profile: Profile
    width: int  # operand columns

    @property
    def registers(self) -> tuple[str, ...]:
        return self.profile.registers

    @property
    def answer(self) -> int:
        return len(self.registers)

    @property
    def scratch(self) -> int:
        return len(self.registers) + 1

    @property
    def first_operand(self) -> int:
        return len(self.registers) + 2

    @property
    def columns(self) -> int:
        return self.first_operand + self.width

    @property
    def armings(self) -> tuple[str | None, ...]:
        return (None, *self.profile.cells)

    def column(self, source: rules.Source) -> int:
        """The tape column of a register or an operand."""
        if isinstance(source, int):
            return self.first_operand + source
        return self.registers.index(source)

    def state(self, filled: frozenset[str], armed: str | None, p: int, n: int) -> int:
        """The number of a live control state."""
        mask = sum(1 << i for i, r in enumerate(self.registers) if r in filled)
        base = mask * len(self.armings) + self.armings.index(armed)
        return FIRST_LIVE + (base * (self.width + 1) + p) * (self.width + 1) + n

    def live_states(self) -> list[tuple[int, frozenset[str], str | None, int, int]]:
        """Every live control state with its parts: (number, filled, armed, p, n)."""
        out = []
        for mask in range(1 << len(self.registers)):
            filled = frozenset(r for i, r in enumerate(self.registers) if mask >> i & 1)
            for armed in self.armings:
                for p in range(self.width + 1):
                    for n in range(self.width + 1):
                        out.append((self.state(filled, armed, p, n), filled, armed, p, n))
        return out

    @property
    def n_states(self) -> int:
        size = (1 << len(self.registers)) * len(self.armings) * (self.width + 1) ** 2
        return FIRST_LIVE + size


@dataclass(frozen=True)
class Compiled:
    """A profile's moves as tensors: ``rows`` ``(states * vocab, 11)``, ``legal``
    ``(states, vocab)``, and the operators that need the general path."""

    rows: torch.Tensor
    legal: torch.Tensor
    nonlinear: tuple[Callable[[Any, Any], Any], ...]

    def to(self, device: torch.device) -> Compiled:
        return Compiled(self.rows.to(device), self.legal.to(device), self.nonlinear)


@lru_cache(maxsize=32)
def compile_profile(profile: Profile, width: int) -> Compiled:
    """Compile every move of ``profile`` over contexts of up to ``width`` operands."""
    lay = Layout(profile, width)
    vocab = profile.vocab_size
    nonlinear: list[Callable[[Any, Any], Any]] = []
    coefficients: dict[int, tuple[int, int, int, int]] = {}  # per operator token: a, b, c, op
    for tool in profile.operators:
        assert tool.operator is not None
        abc = bilinear(tool.operator.apply)
        if abc is None:
            nonlinear.append(tool.operator.apply)
            abc, op = (0, 0, 0), len(nonlinear)
        else:
            op = 0
        coefficients[tool.token] = (*abc, op)

    states = lay.live_states()
    moves = [
        (number, filled, n, m)
        for number, filled, armed, p, n in states
        for tool in profile.tools
        if (m := rules.resolve(tool, filled, armed, p, n)) is not None
    ]
    has_legal = {number for number, *_ in moves}

    scratch = lay.scratch
    rows = torch.zeros(lay.n_states, vocab, 11, dtype=torch.long)
    rows[:, :, [L, R, DEST]] = scratch
    rows[DONE, :, NEXT], rows[ANSWERED, :, NEXT] = DONE, ANSWERED
    live = torch.tensor([number for number, *_ in states])
    rows[live, :, LIVE] = 1  # a live state's every token counts as a step; illegal: DONE
    legal = torch.zeros(lay.n_states, vocab, dtype=torch.bool)
    for number, filled, n, m in moves:
        row = rows[number, m.tool.token]
        legal[number, m.tool.token] = True
        row[L : R + 1] = torch.tensor([*(lay.column(s) for s in m.reads), scratch, scratch][:2])
        if m.answers:
            row[DEST], row[B], row[NEXT], row[ANS] = lay.answer, 1, ANSWERED, 1  # copy acc
            continue
        if m.writes is not None:
            row[DEST] = lay.column(m.writes)
            a, b, c, op = (0, 1, 0, 0) if len(m.reads) == 1 else coefficients[m.tool.token]
            row[A], row[B], row[C], row[OP] = a, b, c, op
        after = (filled - set(m.clears)) | ({m.writes} if m.writes else set())
        nxt = lay.state(frozenset(after), m.armed, m.p, n)
        if nxt in has_legal:
            row[NEXT], row[CONT] = nxt, 1
        # else stuck: no tool is legal there, so the episode ends unsolved (NEXT stays DONE)
    return Compiled(rows.reshape(-1, 11), legal, tuple(nonlinear))


class ToolMachine:
    """Batched machine of one tool profile; ``step`` returns per-episode reward and done flags.

    Actions are token ids below the profile's vocabulary size (every such id is accepted;
    anything but a legal tool ends the episode unsolved).
    """

    def __init__(
        self, profile: Profile, max_steps: int | None = None, shaping: Shaping = Shaping()
    ) -> None:
        limit = profile.max_steps if max_steps is None else max_steps
        if limit < 1:
            raise ValueError(f"max_steps must be >= 1, got {limit}")
        self.profile, self.max_steps, self.shaping = profile, limit, shaping
        self.vocab = profile.vocab_size

    def reset(self, batch: Episodes) -> None:
        """Start one empty-register episode per context of ``batch``."""
        self.batch = batch
        size, width = batch.context.shape
        device = batch.context.device
        self.layout = Layout(self.profile, width)
        self.compiled = compile_profile(self.profile, width).to(device)
        self.tape = torch.zeros(size, self.layout.columns, dtype=torch.long, device=device)
        self.tape[:, self.layout.first_operand :] = batch.context
        self.state = FIRST_LIVE + batch.n_operands.clamp(max=width)  # (B,) every register empty
        self._steps = torch.zeros(size, dtype=torch.long, device=device)
        self.hit = torch.zeros_like(batch.subgoal_valid)  # (B, S) subgoals already produced

    def reset_rows(self, batch: Episodes, rows: torch.Tensor) -> None:
        """Restart only the episodes where ``rows`` ``(B,)``; ``batch`` holds their new contexts."""
        self.batch = batch
        fresh = torch.zeros_like(self.tape[rows])
        fresh[:, self.layout.first_operand :] = batch.context[rows]
        self.tape[rows] = fresh
        self.state = torch.where(rows, FIRST_LIVE + batch.n_operands, self.state)
        self._steps = torch.where(rows, 0, self._steps)
        self.hit = self.hit & ~rows[:, None]

    @property
    def done(self) -> torch.Tensor:
        """``(B,)`` bool: the episode has ended."""
        return self.state <= ANSWERED

    @property
    def answered(self) -> torch.Tensor:
        """``(B,)`` bool: the episode ended with ANS."""
        return self.state == ANSWERED

    @property
    def answer(self) -> torch.Tensor:
        """``(B,)`` int64 answers (0 where not answered)."""
        return self.tape[:, self.layout.answer].clone()

    @property
    def steps(self) -> torch.Tensor:
        """``(B,)`` int64 steps taken by each episode."""
        return self._steps

    def legal(self) -> torch.Tensor:
        """``(B, vocab)`` bool mask of legal actions; all False once an episode is done."""
        return self.compiled.legal.index_select(0, self.state)

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply ``action`` ``(B,)``; illegal actions end their episode unsolved."""
        rule = self.compiled.rows.index_select(0, torch.add(action, self.state, alpha=self.vocab))
        lr = self.tape.gather(1, rule[:, L : R + 1])  # (B, 2) the values it reads
        left, right = lr[:, 0], lr[:, 1]
        value = torch.addcmul(
            rule[:, C] * right, left, torch.addcmul(rule[:, B], rule[:, A], right)
        )
        for k, fn in enumerate(self.compiled.nonlinear, start=1):
            value = torch.where(rule[:, OP] == k, fn(left, right), value)
        self.tape.scatter_(1, rule[:, DEST : DEST + 1], value[:, None])
        self._steps = self._steps + rule[:, LIVE]
        cut = (self._steps >= self.max_steps) & rule[:, CONT].bool()  # out of steps
        self.state = rule[:, NEXT].masked_fill(cut, DONE)
        answers = rule[:, ANS].bool()
        correct = answers & (left == self.batch.target)
        reward = correct.float()
        if self.shaping.partial or self.shaping.process:
            reward += self._shaping(rule, left, value, answers, correct)
        ended = (rule[:, LIVE] > rule[:, CONT]) | cut
        return reward, ended

    def _shaping(
        self,
        rule: torch.Tensor,
        left: torch.Tensor,
        value: torch.Tensor,
        answers: torch.Tensor,
        correct: torch.Tensor,
    ) -> torch.Tensor:
        """Partial credit at ANS for a subgoal value; process reward for a first-time subgoal."""
        batch, out = self.batch, torch.zeros_like(left, dtype=torch.float32)
        if self.shaping.partial:
            sub = (left[:, None] == batch.subgoals) & batch.subgoal_valid
            out += self.shaping.partial * (answers & ~correct & sub.any(1)).float()
        if self.shaping.process:
            computes = (rule[:, A] != 0) | (rule[:, C] != 0) | (rule[:, OP] != 0)  # an operator
            new = (value[:, None] == batch.subgoals) & batch.subgoal_valid & ~self.hit
            new &= computes[:, None]
            self.hit |= new
            out += self.shaping.process * new.any(1).float()
        return out


__all__ = ["ANSWERED", "DONE", "Compiled", "Layout", "Shaping", "ToolMachine", "compile_profile"]
