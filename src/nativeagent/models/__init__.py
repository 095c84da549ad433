"""Policies: every model offers ``start(batch)`` and ``step(state, token[, obs])``; the
Transformer also scores a whole decoded sequence at once (``ParallelScorer``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

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
        """Logits ``(B, V)``, value ``(B,)`` and the next state after feeding ``token``.

        A model whose ``observes`` is True also takes ``obs`` ``(B, F)``, the machine's state
        (``decode.observe``)."""
        ...


@runtime_checkable
class ParallelScorer(Protocol):
    """A policy that scores a whole decoded sequence in one pass (causal attention can)."""

    def score(
        self, batch: Batch, actions: torch.Tensor, obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` before each of ``actions`` ``(B, T)``,
        as stepping gives them (``obs`` ``(B, T, F)``: the states shown with each input)."""
        ...


def observes(model: object) -> bool:
    """Whether ``model`` takes the machine's state with every step (``decode.observe``)."""
    return bool(getattr(model, "observes", False))


MODELS = ("gru", "transformer")


def make_model(
    kind: str,
    d_model: int,
    n_layers: int = 2,
    n_heads: int = 4,
    n_tasks: int = N_STAGES,
    encoder: str = "mean",
    vocab_size: int = VOCAB_SIZE,
    n_obs: int = 0,
    positions: str = "absolute",
    signs: bool = False,
) -> torch.nn.Module:
    """Build a policy network by name (``n_layers``, ``n_heads`` and ``positions`` are the
    Transformer's, ``encoder`` the GRU's; ``n_tasks = 0``: no task embedding; ``vocab_size``:
    the machine's vocabulary, 18 canonical, 21 extended; ``n_obs``: features of the machine's
    state each step takes, 0 for none; ``signs``: read ``Batch.prompt_sign``)."""
    if kind == "gru":
        return GRUActorCritic(d_model, vocab_size, n_tasks, encoder, n_obs, signs)
    if kind == "transformer":
        return TransformerActorCritic(
            d_model,
            n_layers,
            n_heads,
            vocab_size,
            n_tasks,
            n_obs=n_obs,
            positions=positions,
            signs=signs,
        )
    raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "GRUActorCritic",
    "ParallelScorer",
    "Policy",
    "TransformerActorCritic",
    "make_model",
    "observes",
]
