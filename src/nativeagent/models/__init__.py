"""Policies: every model offers ``start(batch)`` and ``step(state, token[, obs, cursor])``; the
Transformer and the history-free MLP also score a whole decoded sequence at once
(``ParallelScorer``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from nativeagent.models.gru import GRUActorCritic
from nativeagent.models.mlp import MLPActorCritic
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
        (``decode.observe``); one whose ``reads_cursor`` is True takes ``cursor`` ``(B, 2)``,
        where the machine's cursor and operator cursor stand in the prompt
        (``Batch.cursors``)."""
        ...


@runtime_checkable
class ParallelScorer(Protocol):
    """A policy that scores a whole decoded sequence in one pass (causal attention can)."""

    def score(
        self,
        batch: Batch,
        actions: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` before each of ``actions`` ``(B, T)``,
        as stepping gives them (``obs`` ``(B, T, F)`` and ``cursors`` ``(B, T)``: the states
        and cursors shown with each input)."""
        ...


def observes(model: object) -> bool:
    """Whether ``model`` takes the machine's state with every step (``decode.observe``)."""
    return bool(getattr(model, "observes", False))


def reads_cursor(model: object) -> bool:
    """Whether ``model`` takes the machine's cursor with every step (a read head, coupled
    positions)."""
    return bool(getattr(model, "reads_cursor", False))


MODELS = ("gru", "transformer", "mlp")


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
    window: int = 0,
    relative_span: int = 4,
    operator_window: int = 0,
) -> torch.nn.Module:
    """Build a policy network by name (``n_heads``, ``positions`` and ``relative_span`` are the
    Transformer's, ``encoder`` the GRU's, ``n_layers`` the Transformer's and the MLP's;
    ``n_tasks = 0``: no task embedding; ``vocab_size``: the machine's vocabulary, 18 canonical,
    21 extended; ``n_obs``: features of the machine's state each step takes, 0 for none;
    ``signs``: read ``Batch.prompt_sign``; ``window`` and ``operator_window``: the read head's
    radius at the cursor and at the operator cursor, 0 for none)."""
    if kind == "gru":
        return GRUActorCritic(
            d_model, vocab_size, n_tasks, encoder, n_obs, signs, window, operator_window
        )
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
            window=window,
            relative_span=relative_span,
            operator_window=operator_window,
        )
    if kind == "mlp":
        return MLPActorCritic(d_model, vocab_size, n_obs, window, n_layers, operator_window)
    raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


__all__ = [
    "MODELS",
    "GRUActorCritic",
    "MLPActorCritic",
    "ParallelScorer",
    "Policy",
    "TransformerActorCritic",
    "make_model",
    "observes",
    "reads_cursor",
]
