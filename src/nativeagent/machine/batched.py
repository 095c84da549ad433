"""The batched tool machine in torch, compiled from the tool table: many episodes per step.

Each episode's *control state* (which registers hold a value, which cell is armed, the cursor
``p``, the number of operands ``n``) is one integer, and its values live on a *tape*: one row
per episode holding the registers, the answer, a scratch cell and the operands. For every
control state and token, the table's move (``rules.resolve``) is compiled once into a row of a
lookup table: the two tape columns it reads, how it combines them, the column it writes, and
the next control state. A step is then a fixed handful of tensor operations over the whole
batch (look the row up, gather two values, combine them, scatter the result, move on); no
Python loop runs over the episodes, and nothing here knows what any tool does. Illegal
actions, stuck states (no legal tool) and answers all lead to the two terminal states, so
finished episodes stay frozen by the table itself.

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

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from nativeagent.machine import observation, rules
from nativeagent.machine.base import Episodes
from nativeagent.machine.tools import EOS, PRODUCT, SUM, Profile, linear_form


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
INT64_MAX = torch.iinfo(torch.int64).max
#: Columns of a compiled row: the two tape columns read (``l``, ``r``), how the value is made
#: (``KIND`` 0: ``l + c*r``, which copies ``l`` with ``c = 0``; 1: ``l * r``; ``k + 1``: the
#: profile's ``k``-th operator that is neither, through its own function; ``tools.linear_form``),
#: ``c``, the column written, the next control state, and two bit masks over the memory cells
#: (cell ``i`` is bit ``i``): the cells the move stores a value into (``SETS``) and the cell an
#: operator takes its left operand from (``TAKES``); they keep track of which cells hold a value
#: no operator has used yet (``ToolMachine.unused``).
L, R, KIND, C, DEST, NEXT, SETS, TAKES = range(8)
COLUMNS = 8


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
    """A profile's moves as tensors: ``rows`` ``(states * vocab, COLUMNS)``, the legal tokens of
    each state packed eight to an int64 (``packed_legal`` ``(states, ceil(vocab / 8))``: copying
    a state's mask is then one or a few words, not a byte per token), the operators that take
    the general path, what an agent observes of each state (``observations`` ``(states, F)``,
    ``machine.observation``; zeros in the terminal states) and where its cursor stands
    (``operand`` ``(states,)``: the next unread operand, ``n`` once all are read; 0 in the
    terminal states)."""

    rows: torch.Tensor
    packed_legal: torch.Tensor
    vocab: int
    general: tuple[Callable[[Any, Any], Any], ...]
    observations: torch.Tensor
    operand: torch.Tensor

    @classmethod
    def pack(
        cls,
        rows: torch.Tensor,
        legal: torch.Tensor,
        general: Any,
        observations: torch.Tensor,
        operand: torch.Tensor,
    ) -> Compiled:
        """From ``legal`` ``(states, vocab)`` bool."""
        states, vocab = legal.shape
        padded = torch.zeros(states, -(-vocab // 8) * 8, dtype=torch.bool)
        padded[:, :vocab] = legal
        return cls(rows, padded.view(torch.int64), vocab, tuple(general), observations, operand)

    def legal(self, state: torch.Tensor) -> torch.Tensor:
        """``(B, vocab)`` bool: the legal tokens of each state of ``state`` ``(B,)``."""
        return self.packed_legal.index_select(0, state).view(torch.bool)[:, : self.vocab]

    def to(self, device: torch.device) -> Compiled:
        rows, packed = self.rows.to(device), self.packed_legal.to(device)
        seen, operand = self.observations.to(device), self.operand.to(device)
        return Compiled(rows, packed, self.vocab, self.general, seen, operand)


@lru_cache(maxsize=32)
def compiled_on(profile: Profile, width: int, device: torch.device) -> Compiled:
    """``compile_profile``'s tables, on ``device`` (copied there once)."""
    return compile_profile(profile, width).to(device)


@lru_cache(maxsize=32)
def compile_profile(profile: Profile, width: int) -> Compiled:
    """Compile every move of ``profile`` over contexts of up to ``width`` operands."""
    lay = Layout(profile, width)
    general: list[Callable[[Any, Any], Any]] = []
    forms: dict[int, tuple[int, int]] = {}  # operator token -> (KIND, c)
    for tool in profile.operators:
        assert tool.operator is not None
        form = linear_form(tool.operator.apply)
        if form is None:
            general.append(tool.operator.apply)
            form = (PRODUCT + len(general), 0)
        forms[tool.token] = form

    states = lay.live_states()
    moves = [
        (number, filled, n, m)
        for number, filled, armed, p, n in states
        for tool in profile.tools
        if (m := rules.resolve(tool, filled, armed, p, n)) is not None
    ]
    has_legal = {number for number, *_ in moves}

    # Every row starts as "read and write scratch, then end": a terminal state stays itself,
    # and any token that is not a legal move in a live state ends the episode unsolved.
    rows = torch.zeros(lay.n_states, profile.vocab_size, COLUMNS, dtype=torch.long)
    rows[:, :, [L, R, DEST]] = lay.scratch
    rows[ANSWERED, :, NEXT] = ANSWERED
    legal = torch.zeros(lay.n_states, profile.vocab_size, dtype=torch.bool)
    for number, filled, n, m in moves:
        row = rows[number, m.tool.token]
        legal[number, m.tool.token] = True
        row[L : R + 1] = torch.tensor([*(lay.column(s) for s in m.reads), lay.scratch][:2])
        if len(m.reads) == 2:
            row[KIND], row[C] = torch.tensor(forms[m.tool.token])
        row[SETS] = _cell_bits(profile, [m.writes])
        row[TAKES] = _cell_bits(profile, m.reads)
        if m.answers:
            row[DEST], row[NEXT] = lay.answer, ANSWERED  # the answer: a copy of acc
            continue
        if m.writes is not None:
            row[DEST] = lay.column(m.writes)
        after = (filled - set(m.clears)) | ({m.writes} if m.writes else set())
        nxt = lay.state(frozenset(after), m.armed, m.p, n)
        if nxt in has_legal:
            row[NEXT] = nxt
        # else stuck: no tool is legal there, so the episode ends unsolved (NEXT stays DONE)
    seen = torch.zeros(lay.n_states, observation.size(profile))
    operand = torch.zeros(lay.n_states, dtype=torch.long)
    for number, filled, armed, p, n in states:
        seen[number] = torch.tensor(observation.features(profile, filled, armed, p, n))
        operand[number] = p
    return Compiled.pack(rows.reshape(-1, COLUMNS), legal, general, seen, operand)


def _cell_bits(profile: Profile, sources: Any) -> int:
    """The bit mask of the memory cells among ``sources`` (cell ``i`` is bit ``i``)."""
    return sum(1 << i for i, cell in enumerate(profile.cells) if cell in sources)


class ToolMachine:
    """Batched machine of one tool profile; ``step`` returns per-episode reward and done flags.

    Actions are int64 token ids: anything but a legal tool ends the episode unsolved, an id
    outside the profile's vocabulary too. With ``observe_unused``, ``observe`` also shows which
    memory cells hold a value that no operator has used yet.
    """

    def __init__(
        self,
        profile: Profile,
        max_steps: int | None = None,
        shaping: Shaping = Shaping(),
        observe_unused: bool = False,
    ) -> None:
        limit = profile.max_steps if max_steps is None else max_steps
        if limit < 1:
            raise ValueError(f"max_steps must be >= 1, got {limit}")
        self.profile, self.max_steps, self.shaping = profile, limit, shaping
        self.observe_unused = observe_unused
        self.vocab = profile.vocab_size
        self._limit = min(limit, INT64_MAX)  # steps count in int64: a longer limit is never hit

    def reset(self, batch: Episodes) -> None:
        """Start one empty-register episode per context of ``batch``."""
        self.batch = batch
        size, width = batch.context.shape
        device = batch.context.device
        self.layout = Layout(self.profile, width)
        self.compiled = compiled_on(self.profile, width, device)
        self.tape = torch.zeros(size, self.layout.columns, dtype=torch.long, device=device)
        self.tape[:, self.layout.first_operand :] = batch.context
        self.state = FIRST_LIVE + batch.n_operands.clamp(max=width)  # (B,) every register empty
        self._steps = torch.zeros(size, dtype=torch.long, device=device)
        self.hit = torch.zeros_like(batch.subgoal_valid)  # (B, S) subgoals already produced
        self._unused = torch.zeros(size, dtype=torch.long, device=device)  # (B,) cell bits
        self._applied = torch.zeros(size, dtype=torch.long, device=device)  # (B,) operators

    def reset_rows(self, batch: Episodes, rows: torch.Tensor) -> None:
        """Restart only the episodes where ``rows`` ``(B,)``; ``batch`` holds their new contexts."""
        self.batch = batch
        fresh = torch.zeros_like(self.tape[rows])
        fresh[:, self.layout.first_operand :] = batch.context[rows]
        self.tape[rows] = fresh
        self.state = torch.where(rows, FIRST_LIVE + batch.n_operands, self.state)
        self._steps = torch.where(rows, 0, self._steps)
        self.hit = self.hit & ~rows[:, None]
        self._unused = torch.where(rows, 0, self._unused)
        self._applied = torch.where(rows, 0, self._applied)

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
        return self.compiled.legal(self.state)

    def observe(self) -> torch.Tensor:
        """``(B, F)`` float: what the agent observes of each episode's state now (zeros once
        it is done; features in ``machine.observation``, the cells' ``unused`` last when the
        machine shows them)."""
        seen = self.compiled.observations.index_select(0, self.state)
        if not self.observe_unused:
            return seen
        return torch.cat([seen, self.unused().float() * ~self.done[:, None]], 1)

    def unused(self) -> torch.Tensor:
        """``(B, cells)`` bool: the memory cell holds a value that no operator has used yet
        (stored, and not yet taken as an operator's left operand after ``RCL``)."""
        bits = 1 << torch.arange(len(self.profile.cells), device=self._unused.device)
        return (self._unused[:, None] & bits) != 0

    def operand(self) -> torch.Tensor:
        """``(B,)`` int64: where each episode's cursor stands, the index of the next unread
        operand (``n`` once every operand is read; 0 once the episode is done)."""
        return self.compiled.operand.index_select(0, self.state)

    def applied(self) -> torch.Tensor:
        """``(B,)`` int64: how many operators each episode has applied so far."""
        return self._applied

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply ``action`` ``(B,)``; illegal actions end their episode unsolved."""
        live = self.state >= FIRST_LIVE  # (B,) the step counts
        # An id outside the vocabulary reads as [EOS], never legal: it must not index another
        # state's rows (or none).
        action = torch.where((action >= 0) & (action < self.vocab), action, EOS)
        rule = self.compiled.rows.index_select(0, torch.add(action, self.state, alpha=self.vocab))
        lr = self.tape.gather(1, rule[:, L : R + 1])  # (B, 2) the values it reads
        left, right = lr[:, 0], lr[:, 1]
        kind = rule[:, KIND]
        value = torch.where(kind == PRODUCT, left * right, torch.addcmul(left, rule[:, C], right))
        for k, fn in enumerate(self.compiled.general, start=PRODUCT + 1):
            value = torch.where(kind == k, fn(left, right), value)
        self.tape.scatter_(1, rule[:, DEST : DEST + 1], value[:, None])
        self._unused = (self._unused & ~rule[:, TAKES]) | rule[:, SETS]
        self._applied = self._applied + _operates(rule)
        self._steps = self._steps + live
        nxt = rule[:, NEXT]
        out_of_steps = (self._steps >= self._limit) & (nxt >= FIRST_LIVE)
        self.state = torch.where(out_of_steps, DONE, nxt)
        answers = rule[:, DEST] == self.layout.answer  # only a legal ANS writes the answer
        correct = answers & (value == self.batch.target)  # an answer's value is acc
        reward = correct.float()
        if self.shaping.partial or self.shaping.process:
            reward += self._shaping(rule, value, answers, correct)
        return reward, live & (self.state < FIRST_LIVE)

    def _shaping(
        self, rule: torch.Tensor, value: torch.Tensor, answers: torch.Tensor, correct: torch.Tensor
    ) -> torch.Tensor:
        """Partial credit at ANS for a subgoal value; process reward for a first-time subgoal."""
        batch, out = self.batch, torch.zeros_like(value, dtype=torch.float32)
        if self.shaping.partial:
            sub = (value[:, None] == batch.subgoals) & batch.subgoal_valid
            out += self.shaping.partial * (answers & ~correct & sub.any(1)).float()
        if self.shaping.process:
            new = (value[:, None] == batch.subgoals) & batch.subgoal_valid & ~self.hit
            new &= _operates(rule)[:, None]
            self.hit |= new
            out += self.shaping.process * new.any(1).float()
        return out


def _operates(rule: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool: the rows ``rule`` apply an operator: a product, another operator, or a sum
    with ``c != 0`` (a sum with ``c = 0`` is a copy: STO, LOAD, ANS; and so is every row that
    is no legal move)."""
    return (rule[:, KIND] != SUM) | (rule[:, C] != 0)


__all__ = [
    "ANSWERED",
    "DONE",
    "Compiled",
    "Layout",
    "Shaping",
    "ToolMachine",
    "compile_profile",
    "linear_form",
]
