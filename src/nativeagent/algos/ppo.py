"""PPO: clipped surrogate objective, GAE, several epochs of minibatches, optional value clipping.

Minibatches are whole episodes; each is re-scored with ``rollout.replay`` under the current
weights, so the masks and inputs are exactly those seen while decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.algos.a2c import advantages_and_returns, normalize
from nativeagent.algos.common import MetricMeans, OneEpisodePerContext, guarded_step, masked_mean
from nativeagent.rollout import Rollout, replay
from nativeagent.tasks.taskset import Batch


@dataclass(frozen=True)
class PPOSettings:
    """PPO's knobs (see ``config.PPOConfig``) plus the shared loss weights."""

    epochs: int = 4
    minibatches: int = 4
    clip_coef: float = 0.2
    clip_value: bool = False
    value_clip_coef: float = 0.2
    normalize_advantages: bool = True
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    gamma: float = 1.0
    gae_lambda: float = 0.95
    max_grad_norm: float = 1.0


def clipped_policy_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    clip: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, ``mean(max(-A r, -A clip(r, 1-ε, 1+ε)))`` over ``mask``.

    Returns the loss, the approximate KL ``mean((r - 1) - log r)`` and the clip fraction.
    """
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1 - clip, 1 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1) - log_ratio, mask)
        clipfrac = masked_mean(((ratio - 1).abs() > clip).float(), mask)
    return loss, approx_kl, clipfrac


def value_loss(
    value: torch.Tensor,
    old_value: torch.Tensor,
    ret: torch.Tensor,
    mask: torch.Tensor,
    clip: float | None,
) -> torch.Tensor:
    """Squared error to the returns; with ``clip``, the pessimistic max of plain and clipped."""
    plain = (value - ret) ** 2
    if clip is None:
        return masked_mean(plain, mask)
    clipped = old_value + (value - old_value).clamp(-clip, clip)
    return masked_mean(torch.maximum(plain, (clipped - ret) ** 2), mask)


class PPO(OneEpisodePerContext):
    """Several epochs of clipped updates on each batch of episodes."""

    def __init__(self, s: PPOSettings) -> None:
        self.s = s

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: Batch,
        ro: Rollout,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        s = self.s
        adv, ret = advantages_and_returns(ro.reward, ro.value, ro.alive, s.gamma, s.gae_lambda)
        old_lp, old_v = ro.log_prob.detach(), ro.value.detach()
        metrics = MetricMeans()
        for _ in range(s.epochs):
            order = torch.randperm(len(batch), generator=generator, device=generator.device)
            for rows in order.chunk(s.minibatches):
                mask = ro.alive[rows]
                legal = ro.legal[rows] if ro.legal is not None else None
                seen = ro.observations[rows] if ro.observations is not None else None
                where = ro.cursors[rows] if ro.cursors is not None else None
                part = batch.index(rows)
                lp, ent, v = replay(model, part, ro.actions[rows], legal, seen, where)
                a = normalize(adv[rows], mask) if s.normalize_advantages else adv[rows]
                pg, kl, clipfrac = clipped_policy_loss(lp, old_lp[rows], a, mask, s.clip_coef)
                clip = s.value_clip_coef if s.clip_value else None
                v_loss = value_loss(v, old_v[rows], ret[rows], mask, clip)
                entropy = masked_mean(ent, mask)
                loss = pg + s.value_coef * v_loss - s.entropy_coef * entropy
                grad_norm = guarded_step(model, optimizer, loss, s.max_grad_norm)
                metrics.add(
                    {
                        "loss": loss.item(),
                        "pg_loss": pg.item(),
                        "v_loss": v_loss.item(),
                        "entropy": entropy.item(),
                        "approx_kl": kl.item(),
                        "clipfrac": clipfrac.item(),
                        "grad_norm": grad_norm,
                    }
                )
        return metrics.means()
