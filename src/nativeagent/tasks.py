"""The three curriculum stages: their contexts, stated targets and subgoals.

A stage's context is ``n`` uniform digits ``a b c [d [e]]``; batched contexts are padded to
``MAX_OPERANDS`` columns with ``[EOS]`` and carry their stage, so one batch may mix stages.

>>> STAGES[2].expression, STAGES[2].target([4, 2, 7, 3, 5]), STAGES[2].subgoals([4, 2, 7, 3, 5])
('(a*b+c)-(d*e)', 0, (8, 15, 15))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from nativeagent.tokens import ADD, ANS, EOS, MUL, RCL, STO, SUB

MAX_OPERANDS = 5
#: Most subgoals any stage has (stage 2: ``a*b``, ``a*b+c``, ``d*e``).
MAX_SUBGOALS = 3


@dataclass(frozen=True)
class Stage:
    """One task: an expression over the context digits, and the program that computes it."""

    index: int
    n_operands: int
    expression: str
    shortest_program: tuple[int, ...]
    _target: Callable[[Sequence[int]], int]
    _subgoals: Callable[[Sequence[int]], tuple[int, ...]]

    def target(self, context: Sequence[int]) -> int:
        """The stated target for one context."""
        return self._target(context)

    def subgoals(self, context: Sequence[int]) -> tuple[int, ...]:
        """Values of the target's proper sub-expressions, in the order a program meets them."""
        return self._subgoals(context)


STAGES: tuple[Stage, ...] = (
    Stage(0, 3, "a*b+c", (MUL, ADD, ANS), lambda x: x[0] * x[1] + x[2], lambda x: (x[0] * x[1],)),
    Stage(
        1,
        4,
        "(a*b+c)-d",
        (MUL, ADD, SUB, ANS),
        lambda x: x[0] * x[1] + x[2] - x[3],
        lambda x: (x[0] * x[1], x[0] * x[1] + x[2]),
    ),
    Stage(
        2,
        5,
        "(a*b+c)-(d*e)",
        (MUL, ADD, STO, MUL, RCL, SUB, ANS),
        lambda x: x[0] * x[1] + x[2] - x[3] * x[4],
        lambda x: (x[0] * x[1], x[0] * x[1] + x[2], x[3] * x[4]),
    ),
)
N_STAGES = len(STAGES)


def check_stage(stage: object) -> int:
    """Return ``stage`` as a valid stage index or raise ``ValueError`` naming the problem."""
    if isinstance(stage, bool) or not isinstance(stage, int):
        raise ValueError(f"stage must be an int 0..{N_STAGES - 1}, got {stage!r}")
    if not 0 <= stage < N_STAGES:
        raise ValueError(f"stage must be 0..{N_STAGES - 1}, got {stage}")
    return stage


@dataclass
class Batch:
    """A batch of episodes: padded contexts, their stages, targets and subgoals."""

    context: torch.Tensor  # (B, MAX_OPERANDS) int64, [EOS]-padded
    stage: torch.Tensor  # (B,) int64
    n_operands: torch.Tensor  # (B,) int64
    target: torch.Tensor  # (B,) int64
    subgoals: torch.Tensor  # (B, MAX_SUBGOALS) int64
    subgoal_valid: torch.Tensor  # (B, MAX_SUBGOALS) bool

    def __len__(self) -> int:
        return self.stage.shape[0]

    def index(self, rows: torch.Tensor) -> Batch:
        """The episodes ``rows`` (indices or a bool mask), in that order."""
        return Batch(*(getattr(self, f.name)[rows] for f in fields(self)))


def make_batch(context: torch.Tensor, stage: torch.Tensor) -> Batch:
    """Derive targets and subgoals of padded contexts ``(B, MAX_OPERANDS)`` for their stages."""
    n_ops = torch.tensor([s.n_operands for s in STAGES], device=stage.device)[stage]  # (B,)
    cols = torch.arange(MAX_OPERANDS, device=stage.device)
    valid = cols[None, :] < n_ops[:, None]  # (B, 5)
    context = torch.where(valid, context, EOS)
    x = torch.where(valid, context, 0)
    a, b, c, d, e = x.unbind(1)
    ab = a * b
    abc = ab + c
    de = d * e
    target = torch.where(stage == 0, abc, torch.where(stage == 1, abc - d, abc - de))
    subgoals = torch.stack([ab, abc, de], dim=1)  # (B, 3)
    n_sub = torch.tensor([len(s.subgoals([1] * s.n_operands)) for s in STAGES], device=stage.device)
    subgoal_valid = torch.arange(MAX_SUBGOALS, device=stage.device)[None, :] < n_sub[stage][:, None]
    return Batch(context, stage, n_ops, target, subgoals, subgoal_valid)


def sample_batch(stage: torch.Tensor, generator: torch.Generator) -> Batch:
    """Sample fresh uniform-digit contexts for each entry of ``stage`` ``(B,)``."""
    digits = torch.randint(
        0, 10, (stage.shape[0], MAX_OPERANDS), generator=generator, device=stage.device
    )
    return make_batch(digits, stage)


def stage_tensor(stage: int, size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """A ``(size,)`` tensor filled with one stage index."""
    return torch.full((size,), check_stage(stage), dtype=torch.long, device=device)


__all__ = [
    "MAX_OPERANDS",
    "MAX_SUBGOALS",
    "N_STAGES",
    "STAGES",
    "Batch",
    "Stage",
    "check_stage",
    "make_batch",
    "sample_batch",
    "stage_tensor",
]
