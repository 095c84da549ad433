"""Policies: every model offers ``start(batch)`` and ``step(state, token)``."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from nativeagent.models.gru import GRUActorCritic
from nativeagent.models.transformer import TransformerActorCritic
from nativeagent.tasks.task import N_STAGES
from nativeagent.tasks.taskset import Batch
from nativeagent.tokens import VOCAB_SIZE


class Policy(Protocol):
    """An actor-critic decoded one token at a time; ``state`` is whatever the model carries."""

    def start(self, batch: Batch) -> tuple[Any, torch.Tensor]:
        """Initial state and first input token ``(B,)``."""
        ...

    def step(self, state: Any, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Logits ``(B, V)``, value ``(B,)`` and the next state after feeding ``token``."""
        ...


MODELS = ("gru", "transformer")


def make_model(
    kind: str,
    d_model: int,
    n_layers: int = 2,
    n_heads: int = 4,
    n_tasks: int = N_STAGES,
    encoder: str = "mean",
    vocab_size: int = VOCAB_SIZE,
) -> torch.nn.Module:
    """Build a policy network by name (``n_layers`` and ``n_heads`` are the Transformer's,
    ``encoder`` the GRU's; ``n_tasks = 0``: no task embedding; ``vocab_size``: the machine's
    vocabulary, 18 canonical, 21 extended)."""
    if kind == "gru":
        return GRUActorCritic(d_model, vocab_size, n_tasks=n_tasks, encoder=encoder)
    if kind == "transformer":
        return TransformerActorCritic(d_model, n_layers, n_heads, vocab_size, n_tasks=n_tasks)
    raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "GRUActorCritic",
    "Policy",
    "TransformerActorCritic",
    "make_model",
]
