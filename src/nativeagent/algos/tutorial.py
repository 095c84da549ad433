"""The tutorial's own actor-critic loss, kept to reproduce it (``algo.name = "tutorial"``).

What it does, as the tutorial's ``run_batch`` does: the episode's return is compared with one
baseline, the *sum* of the values over every decoded token, and every decoded token gets the
same advantage and gradient, including the tokens after ``ANS`` (which change nothing). The
correct per-step version is :mod:`nativeagent.algos.a2c`; ``examples/tutorial.ipynb`` measures
the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.algos.common import OneEpisodePerContext, guarded_step
from nativeagent.rollout import Rollout
from nativeagent.tasks.taskset import Batch


@dataclass(frozen=True)
class TutorialLossWeights:
    """Weights of the tutorial's loss terms (it used 0.5 and 0.01)."""

    value_coef: float = 0.5
    entropy_coef: float = 0.01


def tutorial_loss(ro: Rollout, w: TutorialLossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The tutorial's loss over all ``T`` decoded tokens, alive or not, and its parts."""
    ret = ro.reward.sum(1)  # (B,) the episode's reward
    baseline = ro.value.sum(1)  # (B,) sum of the values over every decoded token
    adv = ret - baseline.detach()
    pg_loss = -(ro.log_prob.sum(1) * adv).mean()
    v_loss = ((baseline - ret) ** 2).mean()
    entropy = ro.entropy.mean()
    loss = pg_loss + w.value_coef * v_loss - w.entropy_coef * entropy
    parts = {
        "loss": loss.item(),
        "pg_loss": pg_loss.item(),
        "v_loss": v_loss.item(),
        "entropy": entropy.item(),
    }
    return loss, parts


class Tutorial(OneEpisodePerContext):
    """One gradient step per batch on the tutorial's loss; decodes every token to the limit."""

    decodes_after_end = True

    def __init__(self, weights: TutorialLossWeights, max_grad_norm: float) -> None:
        self.weights, self.max_grad_norm = weights, max_grad_norm

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: Batch,
        ro: Rollout,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        loss, parts = tutorial_loss(ro, self.weights)
        parts["grad_norm"] = guarded_step(model, optimizer, loss, self.max_grad_norm)
        return parts
