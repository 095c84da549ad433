"""Training algorithms behind one interface; each lives in its own file.

An algorithm says how many contexts an update samples, how it expands them into episodes
(GRPO decodes each context several times) and how it updates the model on a rollout.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from nativeagent.algos.a2c import A2C, A2CLossWeights
from nativeagent.algos.common import NonFiniteError
from nativeagent.algos.grpo import GRPO, GRPOSettings
from nativeagent.algos.ppo import PPO, PPOSettings
from nativeagent.algos.tutorial import Tutorial
from nativeagent.rollout import Rollout
from nativeagent.tasks.taskset import Batch

ALGORITHMS = ("a2c", "ppo", "grpo", "tutorial")


class Algorithm(Protocol):
    """What the trainer needs from an algorithm."""

    #: Decode every token up to the limit even after all episodes ended (the tutorial's loss
    #: trains on them); otherwise decoding stops when the last episode ends.
    decodes_after_end: bool

    def contexts_per_update(self, batch_size: int) -> int:
        """Fresh contexts to sample for a batch of ``batch_size`` episodes."""
        ...

    def expand(self, batch: Batch) -> Batch:
        """The episodes to decode for the sampled contexts."""
        ...

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: Batch,
        ro: Rollout,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        """Update ``model`` on ``ro``; return metrics (``loss``, ``grad_norm``, ...)."""
        ...


__all__ = [
    "A2C",
    "ALGORITHMS",
    "GRPO",
    "PPO",
    "A2CLossWeights",
    "Algorithm",
    "GRPOSettings",
    "NonFiniteError",
    "PPOSettings",
    "Tutorial",
]
