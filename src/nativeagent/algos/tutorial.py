"""The tutorial's own actor-critic loss, kept to reproduce it (``algo.name = "tutorial"``).

What it does, as the tutorial's ``run_batch`` does: the episode's return is compared with one
baseline, the *sum* of the values over every decoded token, and every decoded token gets the
same advantage and gradient, including the tokens after ``ANS`` (which change nothing). The
correct per-step version is ``nativeagent.algos.a2c``; ``examples/tutorial.ipynb`` measures
the difference.
"""

from __future__ import annotations

import torch

from nativeagent.algos.a2c import A2C, A2CLossWeights, weighted_loss
from nativeagent.rollout import Rollout


def tutorial_loss(ro: Rollout, w: A2CLossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The tutorial's loss over all ``T`` decoded tokens, alive or not, and its parts (of
    ``w`` it uses the value and entropy weights; it has no discount, GAE or normalisation)."""
    ret = ro.reward.sum(1)  # (B,) the episode's reward
    baseline = ro.value.sum(1)  # (B,) sum of the values over every decoded token
    adv = ret - baseline.detach()
    pg_loss = -(ro.log_prob.sum(1) * adv).mean()
    v_loss = ((baseline - ret) ** 2).mean()
    entropy = ro.entropy.mean()
    return weighted_loss(pg_loss, v_loss, entropy, w)


class Tutorial(A2C):
    """A2C's one step per batch, on the tutorial's loss; decodes every token to the limit."""

    decodes_after_end = True

    def loss(self, ro: Rollout) -> tuple[torch.Tensor, dict[str, float]]:
        return tutorial_loss(ro, self.weights)
