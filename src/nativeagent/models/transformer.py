"""A small causal Transformer actor-critic with the GRU's interface (``start``, ``step``).

The sequence is the context tokens (the digits, or in task mode the expression in postfix
order; padding masked out), then ``[CTX]``, then the agent's own actions; the task embedding,
when there is one, is added at every position. ``start`` runs the context once and
keeps every layer's keys and values; each ``step`` then processes only the new token against
that cache, and reads the policy and value from it. ``score`` runs a whole decoded sequence in
one causal pass instead, for the gradient at update time: the same numbers as stepping, up to
float rounding, at a fraction of the cost.

Options: ``n_obs`` features of the machine's state (``decode.observe``) added, through a linear
map, to the input after each tool; ``positions = "none"`` drops the learned absolute position
embedding (causal attention alone tells positions apart), for longer sequences than trained;
``signs`` adds an embedding of each prompt operand's running sign (``task.show_signs``).
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


#: caches, key padding (B, L), task (B,), position offset (B,)
State = tuple[list[KV], torch.Tensor, torch.Tensor, torch.Tensor]
#: ``randomized``: absolute, but training shifts every episode's positions by a random offset
#: (``Batch.position_offset``, below ``RANDOM_OFFSETS``), so that all ids up to ``max_len`` are
#: trained and only their order can be relied on (Ruoss et al. 2023, for length generalization).
POSITIONS = ("absolute", "none", "randomized")
RANDOM_OFFSETS = 48


def _causal_mask(batch: Batch, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Over the prompt then ``steps`` decoded positions: the prompt's padding ``(B, W)`` (True:
    ignore) and where each position may look, ``(B, 1, L, L)`` (itself and earlier real
    positions)."""
    width = batch.prompt.shape[1]
    cols = torch.arange(width + steps, device=batch.prompt.device)
    padding = (cols[None, :] >= batch.prompt_len[:, None]) & (cols[None, :] < width)
    causal = torch.ones(width + steps, width + steps, dtype=torch.bool, device=cols.device)
    return padding[:, :width], (causal.tril()[None] & ~padding[:, None, :])[:, None]


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
        n_obs: int = 0,
        positions: str = "absolute",
        signs: bool = False,
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; choose one of {POSITIONS}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.stage_embed = nn.Embedding(n_tasks, d_model) if n_tasks else None
        self.pos_embed = nn.Embedding(max_len, d_model) if positions != "none" else None
        self.randomized = positions == "randomized"
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)
        # Made last, so that the other weights are drawn as without observations.
        self.observe_embed = nn.Linear(n_obs, d_model, bias=False) if n_obs else None
        self.sign_embed = nn.Embedding(3, d_model) if signs else None  # Batch.prompt_sign

    @property
    def observes(self) -> bool:
        """Whether each step also takes the machine's state (``decode.observe``)."""
        return self.observe_embed is not None

    def _inputs(
        self,
        tokens: torch.Tensor,
        start: int,
        task: torch.Tensor,
        obs: torch.Tensor | None,
        offset: torch.Tensor,
    ) -> torch.Tensor:
        """Embeddings ``(B, l, D)`` of ``tokens`` ``(B, l)`` at positions ``start``… (plus each
        episode's ``offset`` ``(B,)``, randomized positions only), with the task embedding and
        the observations ``(B, l, F)`` of the positions that have them."""
        x = self.embed(tokens)
        if self.pos_embed is not None:
            pos = torch.arange(start, start + tokens.shape[1], device=tokens.device)
            if self.randomized:
                x = x + self.pos_embed(offset[:, None] + pos[None])
            else:
                x = x + self.pos_embed(pos)[None]
        if self.stage_embed is not None:
            x = x + self.stage_embed(task)[:, None]
        if self.observe_embed is not None:
            assert obs is not None, "this model observes the machine: give it obs"
            x = x + self.observe_embed(obs)
        return x

    def _run(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, list[KV]]:
        caches = []
        for block in self.blocks:
            x, kv = block(x, allowed)
            caches.append(kv)
        return x, caches

    def start(self, batch: Batch) -> tuple[State, torch.Tensor]:
        """Encode the context once (causally, padding ignored); the first input is ``[CTX]``."""
        padding, allowed = _causal_mask(batch, 0)
        _, caches = self._run(self._prompt_inputs(batch), allowed)
        return (caches, padding, batch.task, batch.position_offset), torch.full_like(
            batch.task, CTX
        )

    def _prompt_inputs(self, batch: Batch) -> torch.Tensor:
        """Embeddings of the prompt: no observations there (zeros), running signs if shown."""
        obs = None
        if self.observe_embed is not None:
            size = self.observe_embed.in_features
            obs = self.observe_embed.weight.new_zeros(*batch.prompt.shape, size)
        x = self._inputs(batch.prompt, 0, batch.task, obs, batch.position_offset)
        return x if self.sign_embed is None else x + self.sign_embed(batch.prompt_sign)

    def step(
        self, state: State, token: torch.Tensor, obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Feed ``token`` ``(B,)`` (and the machine's state ``(B, F)`` when observing); logits
        ``(B, V)`` and value ``(B,)`` at its position."""
        caches, padding, task, offset = state
        padding = torch.cat([padding, torch.zeros_like(padding[:, :1])], 1)  # (B, L)
        allowed = ~padding[:, None, None, :]  # (B, 1, 1, L): every earlier real position
        seen = None if obs is None else obs[:, None]
        x = self._inputs(token[:, None], padding.shape[1] - 1, task, seen, offset)  # (B, 1, D)
        new = []
        for block, past in zip(self.blocks, caches, strict=True):
            x, kv = block(x, allowed, past)
            new.append(kv)
        last = self.norm(x[:, -1])
        next_state = (new, padding, task, offset)
        return self.policy_head(last), self.value_head(last).squeeze(-1), next_state

    def score(
        self, batch: Batch, actions: torch.Tensor, obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` before each of ``actions`` ``(B, T)``, in
        one causal pass over the prompt and what ``step`` was fed (``[CTX]``, then every action
        but the last); ``obs`` ``(B, T, F)``: what the machine showed with each input."""
        inputs = torch.cat([torch.full_like(actions[:, :1], CTX), actions[:, :-1]], 1)
        width = batch.prompt.shape[1]
        _, allowed = _causal_mask(batch, inputs.shape[1])
        decoded = self._inputs(inputs, width, batch.task, obs, batch.position_offset)
        x, _ = self._run(torch.cat([self._prompt_inputs(batch), decoded], 1), allowed)
        out = self.norm(x[:, width:])
        return self.policy_head(out), self.value_head(out).squeeze(-1)
