"""The tutorial's GRU actor-critic (SPEC §5), stepped one token at a time."""

from __future__ import annotations

import torch
from torch import nn

from nativeagent.tasks import MAX_OPERANDS, N_STAGES, Batch
from nativeagent.tokens import CTX, VOCAB_SIZE


class GRUActorCritic(nn.Module):
    """Token and stage embeddings, a GRU decoder, a policy head over the vocabulary, a value head.

    The initial state is ``tanh(mean(context embeddings) + stage embedding)``; decoding starts
    from ``[CTX]`` and then feeds back the agent's own last action.
    """

    def __init__(self, d_model: int = 96, vocab_size: int = VOCAB_SIZE, n_stages: int = N_STAGES):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.stage_embed = nn.Embedding(n_stages, d_model)
        self.cell = nn.GRUCell(d_model, d_model)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)

    def start(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Initial hidden state ``(B, D)`` and first input token ``(B,)`` (``[CTX]``)."""
        valid = torch.arange(MAX_OPERANDS, device=batch.context.device) < batch.n_operands[:, None]
        emb = self.embed(batch.context) * valid[..., None]  # (B, 5, D)
        mean = emb.sum(1) / batch.n_operands[:, None]  # (B, D)
        h = torch.tanh(mean + self.stage_embed(batch.stage))
        return h, torch.full_like(batch.stage, CTX)

    def step(
        self, h: torch.Tensor, token: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Feed one token ``(B,)``; return logits ``(B, V)``, value ``(B,)`` and the new state."""
        h = self.cell(self.embed(token), h)
        return self.policy_head(h), self.value_head(h).squeeze(-1), h
