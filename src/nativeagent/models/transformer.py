"""A small causal Transformer actor-critic with the GRU's interface (``start``, ``step``).

The sequence is the context tokens (the digits, or in task mode the expression in postfix
order; padding masked out), then ``[CTX]``, then the agent's own actions; the task embedding,
when there is one, is added at every position. ``start`` runs the context once and
keeps every layer's keys and values; each ``step`` then processes only the new token against
that cache, and reads the policy and value from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nativeagent.tasks.task import N_STAGES
from nativeagent.tasks.taskset import Batch
from nativeagent.tokens import CTX, VOCAB_SIZE

KV = tuple[torch.Tensor, torch.Tensor]  # keys, values (B, H, L, D/H)


class Block(nn.Module):
    """Pre-norm self-attention and MLP that can extend a key/value cache."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)
        )

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, past: KV | None = None
    ) -> tuple[torch.Tensor, KV]:
        """``x`` ``(B, l, D)`` new positions; ``allowed`` ``(B, 1, l, L)`` where they may look."""
        b, length, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (t.view(b, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, l, D/H)
        x = x + self.proj(y.transpose(1, 2).reshape(b, length, d))
        return x + self.mlp(self.norm2(x)), (k, v)


State = tuple[list[KV], torch.Tensor, torch.Tensor]  # caches, key padding (B, L), task (B,)


class TransformerActorCritic(nn.Module):
    """Causal Transformer over context and actions, with policy and value heads."""

    def __init__(
        self,
        d_model: int = 96,
        n_layers: int = 2,
        n_heads: int = 4,
        vocab_size: int = VOCAB_SIZE,
        n_tasks: int = N_STAGES,
        max_len: int = 80,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.stage_embed = nn.Embedding(n_tasks, d_model) if n_tasks else None
        self.pos_embed = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)

    def _inputs(self, tokens: torch.Tensor, start: int, task: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + self.pos_embed(pos)[None]
        return x if self.stage_embed is None else x + self.stage_embed(task)[:, None]

    def start(self, batch: Batch) -> tuple[State, torch.Tensor]:
        """Encode the context once (causally, padding ignored); the first input is ``[CTX]``."""
        width = batch.prompt.shape[1]
        cols = torch.arange(width, device=batch.prompt.device)
        padding = cols[None, :] >= batch.prompt_len[:, None]  # (B, L) True = ignore
        causal = torch.ones(width, width, dtype=torch.bool, device=cols.device)
        allowed = (causal.tril()[None] & ~padding[:, None, :])[:, None]  # (B, 1, L, L)
        x = self._inputs(batch.prompt, 0, batch.task)
        caches = []
        for block in self.blocks:
            x, kv = block(x, allowed)
            caches.append(kv)
        return (caches, padding, batch.task), torch.full_like(batch.task, CTX)

    def step(self, state: State, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Feed ``token`` ``(B,)``; logits ``(B, V)`` and value ``(B,)`` at its position."""
        caches, padding, task = state
        padding = torch.cat([padding, torch.zeros_like(padding[:, :1])], 1)  # (B, L)
        allowed = ~padding[:, None, None, :]  # (B, 1, 1, L): every earlier real position
        x = self._inputs(token[:, None], padding.shape[1] - 1, task)  # (B, 1, D)
        new = []
        for block, past in zip(self.blocks, caches, strict=True):
            x, kv = block(x, allowed, past)
            new.append(kv)
        last = self.norm(x[:, -1])
        return self.policy_head(last), self.value_head(last).squeeze(-1), (new, padding, task)
