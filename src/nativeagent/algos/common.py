"""Pieces every algorithm shares: masked means and a guarded optimizer step (which raises
``NonFiniteError``, kept in ``nativeagent.errors`` so that the rollout can raise it too)."""

from __future__ import annotations

import math

import torch

from nativeagent.errors import NonFiniteError
from nativeagent.tasks.taskset import Batch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is True (0 when there are none)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def guarded_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float
) -> float:
    """Backpropagate, clip and step; raise ``NonFiniteError`` instead of a NaN/inf step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    value = float(loss.detach())
    if not (math.isfinite(value) and math.isfinite(grad_norm)):
        raise NonFiniteError("gradient" if math.isfinite(value) else "loss", value, grad_norm)
    optimizer.step()
    return grad_norm


class OneEpisodePerContext:
    """For algorithms that decode every sampled context once (A2C, PPO)."""

    decodes_after_end = False  # stop decoding once every episode has ended

    def contexts_per_update(self, batch_size: int) -> int:
        return batch_size

    def expand(self, batch: Batch) -> Batch:
        return batch


class MetricMeans:
    """Averages the metrics of several optimiser steps within one update."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {key: value / max(self.count, 1) for key, value in self.sums.items()}
