"""What a batched machine offers the rollout: reset, legal-action masks, step."""

from __future__ import annotations

from typing import Protocol

import torch

from nativeagent.tasks import Batch


class BatchedMachine(Protocol):
    """Many episodes stepped in lockstep; finished episodes stay frozen."""

    batch: Batch  # the episodes being run
    answer: torch.Tensor  # (B,) int64, valid where ``answered``
    answered: torch.Tensor  # (B,) bool
    done: torch.Tensor  # (B,) bool
    steps: torch.Tensor  # (B,) int64, steps taken by each episode

    def reset(self, batch: Batch) -> None:
        """Start one episode per entry of ``batch``."""
        ...

    def reset_rows(self, batch: Batch, rows: torch.Tensor) -> None:
        """Restart the episodes where ``rows`` ``(B,)`` is True on ``batch``; keep the others."""
        ...

    def legal(self) -> torch.Tensor:
        """``(B, VOCAB_SIZE)`` bool: the actions legal now (none for finished episodes)."""
        ...

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one token per episode ``(B,)``; return ``(reward (B,) float, done (B,) bool)``."""
        ...
