"""GRPO-style training: several rollouts per context, group-normalised outcome advantages.

Each context is decoded ``group_size`` times; an episode's advantage is its total reward
minus its group's mean, over the group's standard deviation, and applies to every step it
took. There is no critic: the value head is neither used nor trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.algos.common import MetricMeans, guarded_step, masked_mean
from nativeagent.algos.ppo import clipped_policy_loss
from nativeagent.rollout import Rollout, replay
from nativeagent.tasks.taskset import Batch


@dataclass(frozen=True)
class GRPOSettings:
    """GRPO's knobs (see ``config.GRPOConfig``) plus the shared ones."""

    group_size: int = 8
    epochs: int = 1
    clip_coef: float = 0.2
    entropy_coef: float = 0.01
    max_grad_norm: float = 1.0


def group_advantages(returns: torch.Tensor, group_size: int, eps: float = 1e-6) -> torch.Tensor:
    """``(R - mean_group) / (std_group + eps)`` for returns ``(B,)`` in consecutive groups.

    The standard deviation is the population one (divide by the group size); a group whose
    episodes all earned the same gets advantage 0.

    >>> adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0, 2.0]), 3)
    >>> [round(a, 4) for a in adv.tolist()]
    [1.4142, -0.7071, -0.7071, 0.0, 0.0, 0.0]
    """
    groups = returns.view(-1, group_size)  # (n_contexts, G)
    mean = groups.mean(1, keepdim=True)
    std = groups.std(1, unbiased=False, keepdim=True)
    return ((groups - mean) / (std + eps)).view(-1)


class GRPO:
    """Group-relative policy optimisation with a clipped surrogate and no value function."""

    decodes_after_end = False

    def __init__(self, s: GRPOSettings) -> None:
        self.s = s

    def contexts_per_update(self, batch_size: int) -> int:
        return max(1, batch_size // self.s.group_size)

    def expand(self, batch: Batch) -> Batch:
        """Repeat every context ``group_size`` times, consecutively."""
        rows = torch.arange(len(batch), device=batch.stage.device)
        return batch.index(rows.repeat_interleave(self.s.group_size))

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: Batch,
        ro: Rollout,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        s = self.s
        returns = (ro.reward * ro.alive).sum(1)  # (B,)
        adv = group_advantages(returns, s.group_size)[:, None].expand_as(ro.log_prob)
        old_lp = ro.log_prob.detach()
        metrics = MetricMeans()
        for epoch in range(s.epochs):
            if epoch == 0:
                lp, ent = ro.log_prob, ro.entropy  # the rollout's own graph: no replay needed
            else:
                lp, ent, _ = replay(model, batch, ro.actions, ro.legal, ro.observations, ro.cursors)
            pg, kl, clipfrac = clipped_policy_loss(lp, old_lp, adv, ro.alive, s.clip_coef)
            entropy = masked_mean(ent, ro.alive)
            loss = pg - s.entropy_coef * entropy
            grad_norm = guarded_step(model, optimizer, loss, s.max_grad_norm)
            metrics.add(
                {
                    "loss": loss.item(),
                    "pg_loss": pg.item(),
                    "entropy": entropy.item(),
                    "approx_kl": kl.item(),
                    "clipfrac": clipfrac.item(),
                    "grad_norm": grad_norm,
                    "group_reward_std": float(returns.view(-1, s.group_size).std(1).mean()),
                }
            )
        return metrics.means()
