"""Policies: every model offers ``start(batch)`` and ``step(state, token)``."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from nativeagent.config import Config
from nativeagent.models.gru import GRUActorCritic
from nativeagent.models.transformer import TransformerActorCritic
from nativeagent.taskgen import build_task_set
from nativeagent.tasks import N_STAGES, Batch


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
) -> torch.nn.Module:
    """Build a policy network by name (``n_layers`` and ``n_heads`` are the Transformer's,
    ``encoder`` the GRU's; ``n_tasks = 0``: no task embedding)."""
    if kind == "gru":
        return GRUActorCritic(d_model, n_tasks=n_tasks, encoder=encoder)
    if kind == "transformer":
        return TransformerActorCritic(d_model, n_layers, n_heads, n_tasks=n_tasks)
    raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


def build_policy(cfg: Config) -> torch.nn.Module:
    """The policy a configuration asks for, sized for its task set (fresh weights)."""
    m = cfg.model
    n_tasks = 0 if cfg.task.show_expression else len(build_task_set(cfg).tasks)
    return make_model(m.kind, m.d_model, m.n_layers, m.n_heads, n_tasks, m.encoder)


__all__ = [
    "MODELS",
    "GRUActorCritic",
    "Policy",
    "TransformerActorCritic",
    "build_policy",
    "make_model",
]
