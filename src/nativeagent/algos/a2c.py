"""Advantage actor-critic done right: per-step returns and advantages, nothing after the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.algos.common import OneEpisodePerContext, guarded_step, masked_mean
from nativeagent.rollout import Rollout
from nativeagent.tasks.taskset import Batch


@dataclass(frozen=True)
class A2CLossWeights:
    """Weights of the A2C loss terms and the advantage estimator's discounts."""

    value_coef: float = 0.5
    entropy_coef: float = 0.01
    gamma: float = 1.0
    gae_lambda: float = 1.0
    normalize_advantages: bool = False


def advantages_and_returns(
    reward: torch.Tensor, value: torch.Tensor, alive: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(γ, λ) over ``(B, T)`` tensors; steps where ``alive`` is False get zero.

    An episode ends at its last alive step, so nothing bootstraps past it. With λ = 1 the
    return is the plain discounted sum of the episode's rewards from that step on.
    """
    value = value.detach() * alive
    reward = reward * alive
    adv = torch.zeros_like(value)
    next_adv = torch.zeros_like(value[:, 0])
    next_value = torch.zeros_like(value[:, 0])
    for t in range(reward.shape[1] - 1, -1, -1):
        delta = reward[:, t] + gamma * next_value - value[:, t]
        next_adv = (delta + gamma * lam * next_adv) * alive[:, t]
        adv[:, t] = next_adv
        next_value = value[:, t]
    return adv, (adv + value) * alive


def normalize(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Standardise advantages over the alive steps (zero elsewhere)."""
    mean = masked_mean(adv, mask)
    std = masked_mean((adv - mean) ** 2, mask).sqrt()
    return (adv - mean) / (std + 1e-8) * mask


def a2c_loss(ro: Rollout, w: A2CLossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The A2C loss averaged over alive steps, and its parts for logging."""
    mask = ro.alive
    adv, ret = advantages_and_returns(ro.reward, ro.value, ro.alive, w.gamma, w.gae_lambda)
    if w.normalize_advantages:
        adv = normalize(adv, mask)
    pg_loss = -masked_mean(ro.log_prob * adv, mask)
    v_loss = masked_mean((ro.value - ret) ** 2, mask)
    entropy = masked_mean(ro.entropy, mask)
    return weighted_loss(pg_loss, v_loss, entropy, w)


def weighted_loss(
    pg_loss: torch.Tensor, v_loss: torch.Tensor, entropy: torch.Tensor, w: A2CLossWeights
) -> tuple[torch.Tensor, dict[str, float]]:
    """Policy loss + weighted value loss - weighted entropy bonus, and the parts for logging."""
    loss = pg_loss + w.value_coef * v_loss - w.entropy_coef * entropy
    parts = {
        "loss": loss.item(),
        "pg_loss": pg_loss.item(),
        "v_loss": v_loss.item(),
        "entropy": entropy.item(),
    }
    return loss, parts


class A2C(OneEpisodePerContext):
    """One gradient step per batch on the A2C loss."""

    def __init__(self, weights: A2CLossWeights, max_grad_norm: float) -> None:
        self.weights, self.max_grad_norm = weights, max_grad_norm

    def loss(self, ro: Rollout) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to step on, and its parts for logging."""
        return a2c_loss(ro, self.weights)

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: Batch,
        ro: Rollout,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        loss, parts = self.loss(ro)
        parts["grad_norm"] = guarded_step(model, optimizer, loss, self.max_grad_norm)
        return parts
