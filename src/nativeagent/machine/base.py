"""What a batched machine needs from a batch of episodes, and what it offers the rollout.

Both are protocols, so the machine layer never imports the task layer: ``tasks.Batch`` has
every attribute ``Episodes`` asks for.
"""

from __future__ import annotations

from typing import Protocol

import torch


class Episodes(Protocol):
    """The episodes a machine runs: their operands, targets and subgoals."""

    context: torch.Tensor  # (B, W) int64 operand digits (padding beyond n_operands is ignored)
    n_operands: torch.Tensor  # (B,) int64
    target: torch.Tensor  # (B,) int64 the value a correct answer equals
    subgoals: torch.Tensor  # (B, S) int64 values of the target's sub-expressions (shaping)
    subgoal_valid: torch.Tensor  # (B, S) bool
    stage: torch.Tensor  # (B,) int64 built-in stage (the tutorial's reward needs it)

    def __len__(self) -> int: ...


class BatchedMachine(Protocol):
    """Many episodes stepped in lockstep; finished episodes stay frozen."""

    batch: Episodes  # the episodes being run
    max_steps: int

    @property
    def answer(self) -> torch.Tensor:
        """``(B,)`` int64, valid where ``answered``."""
        ...

    @property
    def answered(self) -> torch.Tensor:
        """``(B,)`` bool."""
        ...

    @property
    def done(self) -> torch.Tensor:
        """``(B,)`` bool."""
        ...

    @property
    def steps(self) -> torch.Tensor:
        """``(B,)`` int64 steps taken by each episode."""
        ...

    def reset(self, batch: Episodes) -> None:
        """Start one episode per entry of ``batch``."""
        ...

    def reset_rows(self, batch: Episodes, rows: torch.Tensor) -> None:
        """Restart the episodes where ``rows`` ``(B,)`` is True on ``batch``; keep the others."""
        ...

    def legal(self) -> torch.Tensor:
        """``(B, vocab)`` bool: the actions legal now (none for finished episodes)."""
        ...

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one token per episode ``(B,)``; return ``(reward (B,) float, done (B,) bool)``."""
        ...


class ObservableMachine(BatchedMachine, Protocol):
    """A batched machine that can show the agent its state (the tool profiles can)."""

    def observe(self) -> torch.Tensor:
        """``(B, F)`` float features of each episode's state now (``machine.observation``)."""
        ...

    def operand(self) -> torch.Tensor:
        """``(B,)`` int64 the cursor: the index of the next unread operand (``n``: none)."""
        ...

    def applied(self) -> torch.Tensor:
        """``(B,)`` int64 how many operators each episode has applied."""
        ...
