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
``signs`` adds an embedding of each prompt operand's running sign (``task.show_signs``);
``window`` (and ``operator_window``) adds what the read head sees around the machine's cursors
(``models.read_head``).

``positions = "coupled"`` is position coupling (Cho et al. 2024): prompt token ``j`` has
position ``j``, and each decoding step takes the position of the machine's cursor in the prompt
when it is fed (``Batch.cursors``), so a step and the prompt tokens it reads stand at small fixed
distances whatever the prompt's length. Positions enter attention only as distances: each
layer adds a learned bias per head and distance to the attention logits (Shaw et al. 2018),
clipped at ``relative_span``, so a distance never seen in training shares the learned bias of
the farthest one. RoPE would rotate by distances never trained on, and ALiBi's penalty cannot
tell the token two after the cursor from the one two before it; a learned, clipped bias is
exact at every length and tells the two apart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nativeagent.models.read_head import ReadHead
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
        """``x`` ``(B, l, D)`` new positions; ``allowed`` ``(B, 1 or H, l, L)`` where they may
        look (bool), or what each head adds to its attention logits (float, ``-inf``: nowhere)."""
        b, length, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (t.view(b, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, l, D/H)
        x = x + self.proj(y.transpose(1, 2).reshape(b, length, d))
        return x + self.mlp(self.norm2(x)), (k, v)


#: The prompt a read head reads: tokens (B, L), running signs (B, L), length (B,).
Reading = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
#: caches, key padding (B, L), task (B,), position offset (B,), coupled key positions (B, L)
#: (else None), the prompt the read head reads (else None)
State = tuple[
    list[KV], torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, Reading | None
]
#: ``randomized``: absolute, but training shifts every episode's positions by a random offset
#: (``Batch.position_offset``, below ``RANDOM_OFFSETS``), so that all ids up to ``max_len`` are
#: trained and only their order can be relied on (Ruoss et al. 2023, for length generalization).
#: ``coupled``: decoding steps take the cursor's prompt position, and positions enter attention
#: as clipped distances (see the module's docstring).
POSITIONS = ("absolute", "none", "randomized", "coupled")
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
        window: int = 0,
        relative_span: int = 4,
        operator_window: int = 0,
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; choose one of {POSITIONS}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.stage_embed = nn.Embedding(n_tasks, d_model) if n_tasks else None
        absolute = positions not in ("none", "coupled")
        self.pos_embed = nn.Embedding(max_len, d_model) if absolute else None
        self.randomized = positions == "randomized"
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)
        # Made last, so that the other weights are drawn as without observations.
        self.observe_embed = nn.Linear(n_obs, d_model, bias=False) if n_obs else None
        self.sign_embed = nn.Embedding(3, d_model) if signs else None  # Batch.prompt_sign
        reads = window or operator_window
        self.read_head = ReadHead(window, vocab_size, d_model, operator_window) if reads else None
        self.coupled, self.relative_span = positions == "coupled", relative_span
        if self.coupled:  # per layer, a bias per distance -span..span and head
            distances = 2 * relative_span + 1
            self.relative = nn.ModuleList(nn.Embedding(distances, n_heads) for _ in self.blocks)
            for table in self.relative:
                nn.init.zeros_(table.weight)
            self.decoded_embed = nn.Parameter(torch.zeros(d_model))  # a decoded step, not prompt

    @property
    def observes(self) -> bool:
        """Whether each step also takes the machine's state (``decode.observe``)."""
        return self.observe_embed is not None

    @property
    def reads_cursor(self) -> bool:
        """Whether each step also takes the machine's cursors (coupled positions, read head)."""
        return self.coupled or self.read_head is not None

    def _masks(
        self, allowed: torch.Tensor, queries: torch.Tensor | None, keys: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """Each layer's attention mask: ``allowed`` ``(B, 1, l, L)`` itself, or with coupled
        positions (``queries`` ``(B, l)``, ``keys`` ``(B, L)``) each head's learned bias for
        the clipped distance ``key - query``, ``-inf`` where a position may not look."""
        if not self.coupled:
            return [allowed] * len(self.blocks)
        assert queries is not None and keys is not None
        span = self.relative_span
        distance = (keys[:, None, :] - queries[:, :, None]).clamp(-span, span) + span  # (B, l, L)
        blocked = ~allowed
        return [
            table(distance).permute(0, 3, 1, 2).masked_fill(blocked, float("-inf"))
            for table in self.relative
        ]

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

    def _run(self, x: torch.Tensor, masks: list[torch.Tensor]) -> tuple[torch.Tensor, list[KV]]:
        caches = []
        for block, mask in zip(self.blocks, masks, strict=True):
            x, kv = block(x, mask)
            caches.append(kv)
        return x, caches

    def _reading(self, batch: Batch) -> Reading | None:
        """What the read head needs of the prompt, when there is one."""
        if self.read_head is None:
            return None
        return batch.prompt, batch.prompt_sign, batch.prompt_len

    def start(self, batch: Batch) -> tuple[State, torch.Tensor]:
        """Encode the context once (causally, padding ignored); the first input is ``[CTX]``."""
        padding, allowed = _causal_mask(batch, 0)
        positions = _prompt_positions(batch) if self.coupled else None
        masks = self._masks(allowed, positions, positions)
        _, caches = self._run(self._prompt_inputs(batch), masks)
        offset, reading = batch.position_offset, self._reading(batch)
        state = (caches, padding, batch.task, offset, positions, reading)
        return state, torch.full_like(batch.task, CTX)

    def _prompt_inputs(self, batch: Batch) -> torch.Tensor:
        """Embeddings of the prompt: no observations there (zeros), running signs if shown."""
        obs = None
        if self.observe_embed is not None:
            size = self.observe_embed.in_features
            obs = self.observe_embed.weight.new_zeros(*batch.prompt.shape, size)
        x = self._inputs(batch.prompt, 0, batch.task, obs, batch.position_offset)
        return x if self.sign_embed is None else x + self.sign_embed(batch.prompt_sign)

    def _decoded(
        self, x: torch.Tensor, cursor: torch.Tensor | None, reading: Reading | None
    ) -> torch.Tensor:
        """Decoded inputs ``x`` ``(B, l, D)`` with what coupled positions and the read head add
        at each step's cursors ``(B, l, 2)``."""
        if self.coupled:
            x = x + self.decoded_embed
        if self.read_head is not None:
            assert cursor is not None and reading is not None
            x = x + self.read_head(*reading, cursor)
        return x

    def step(
        self,
        state: State,
        token: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Feed ``token`` ``(B,)`` (and the machine's state ``(B, F)`` when observing, its
        cursors ``(B, 2)`` when reading at them); logits ``(B, V)`` and value ``(B,)`` there."""
        caches, padding, task, offset, positions, reading = state
        padding = torch.cat([padding, torch.zeros_like(padding[:, :1])], 1)  # (B, L)
        allowed = ~padding[:, None, None, :]  # (B, 1, 1, L): every earlier real position
        seen = None if obs is None else obs[:, None]
        x = self._inputs(token[:, None], padding.shape[1] - 1, task, seen, offset)  # (B, 1, D)
        if self.reads_cursor:
            assert cursor is not None, "this model reads at the cursor: step needs cursor"
            x = self._decoded(x, cursor[:, None], reading)
        here = None
        if positions is not None:
            assert cursor is not None
            here = cursor[:, None, 0]  # (B, 1) the step's position: the cursor's
            positions = torch.cat([positions, here], 1)
        masks = self._masks(allowed, here, positions)
        new = []
        for block, past, mask in zip(self.blocks, caches, masks, strict=True):
            x, kv = block(x, mask, past)
            new.append(kv)
        last = self.norm(x[:, -1])
        next_state = (new, padding, task, offset, positions, reading)
        return self.policy_head(last), self.value_head(last).squeeze(-1), next_state

    def score(
        self,
        batch: Batch,
        actions: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` before each of ``actions`` ``(B, T)``, in
        one causal pass over the prompt and what ``step`` was fed (``[CTX]``, then every action
        but the last); ``obs`` ``(B, T, F)`` and ``cursors`` ``(B, T, 2)``: what the machine
        showed with each input."""
        inputs = torch.cat([torch.full_like(actions[:, :1], CTX), actions[:, :-1]], 1)
        width = batch.prompt.shape[1]
        _, allowed = _causal_mask(batch, inputs.shape[1])
        decoded = self._inputs(inputs, width, batch.task, obs, batch.position_offset)
        positions = None
        if self.reads_cursor:
            assert cursors is not None, "this model reads at the cursor: score needs cursors"
            decoded = self._decoded(decoded, cursors, self._reading(batch))
            if self.coupled:
                positions = torch.cat([_prompt_positions(batch), cursors[..., 0]], 1)
        masks = self._masks(allowed, positions, positions)
        x, _ = self._run(torch.cat([self._prompt_inputs(batch), decoded], 1), masks)
        out = self.norm(x[:, width:])
        return self.policy_head(out), self.value_head(out).squeeze(-1)


def _prompt_positions(batch: Batch) -> torch.Tensor:
    """``(B, L)`` the position of every prompt token: its index."""
    columns = torch.arange(batch.prompt.shape[1], device=batch.prompt.device)
    return columns.expand(batch.prompt.shape[0], -1)
