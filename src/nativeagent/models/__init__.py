"""Policies: every model offers ``start(batch)`` and ``step(state, token)``."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from nativeagent.models.gru import GRUActorCritic
from nativeagent.tasks import Batch


class Policy(Protocol):
    """An actor-critic decoded one token at a time; ``state`` is whatever the model carries."""

    def start(self, batch: Batch) -> tuple[Any, torch.Tensor]:
        """Initial state and first input token ``(B,)``."""
        ...

    def step(self, state: Any, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Logits ``(B, V)``, value ``(B,)`` and the next state after feeding ``token``."""
        ...


MODELS = ("gru",)


def make_model(kind: str, d_model: int) -> torch.nn.Module:
    """Build a policy network by name."""
    if kind == "gru":
        return GRUActorCritic(d_model)
    raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


__all__ = ["MODELS", "GRUActorCritic", "Policy", "make_model"]
