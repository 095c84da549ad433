"""The tutorial's GRU actor-critic, stepped one token at a time.

Two ways to read the context: ``mean`` (the tutorial's mean of the context embeddings) or
``gru`` (a GRU encoder over the context tokens in order, which task mode needs: there the
context is an expression in postfix order, and order matters). With ``n_obs`` features of the
machine's state (``decode.observe``), each input is the token's embedding plus a linear map of
what the machine shows after that token; with ``signs`` (``task.show_signs``) each context
token's embedding also gets an embedding of its running sign (``Batch.prompt_sign``); with a
``window`` radius (``decode.window``, and ``operator_window``, ``decode.operator_window``), each
input also gets what the read head sees around the machine's cursors (``models.read_head``).
"""

from __future__ import annotations

import torch
from torch import nn

from nativeagent.models.read_head import ReadHead
from nativeagent.tasks.task import N_STAGES
from nativeagent.tasks.taskset import Batch
from nativeagent.tokens import CTX, VOCAB_SIZE

ENCODERS = ("mean", "gru")
#: The decoder's state: its hidden vector, and with a read head the prompt it reads (prompt,
#: running signs, length).
Reading = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class GRUActorCritic(nn.Module):
    """Token and task embeddings, a GRU decoder, a policy head over the vocabulary, a value head.

    The initial state is ``tanh(context summary + task embedding)``; decoding starts from
    ``[CTX]`` and then feeds back the agent's own last action. With ``n_tasks = 0`` there is no
    task embedding (task mode: the context says what to compute).
    """

    def __init__(
        self,
        d_model: int = 96,
        vocab_size: int = VOCAB_SIZE,
        n_tasks: int = N_STAGES,
        encoder: str = "mean",
        n_obs: int = 0,
        signs: bool = False,
        window: int = 0,
        operator_window: int = 0,
    ) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.stage_embed = nn.Embedding(n_tasks, d_model) if n_tasks else None
        self.cell = nn.GRUCell(d_model, d_model)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)
        self.encoder = nn.GRUCell(d_model, d_model) if encoder == "gru" else None
        # Made last, so that the other weights are drawn as without observations.
        self.observe_embed = nn.Linear(n_obs, d_model, bias=False) if n_obs else None
        self.sign_embed = nn.Embedding(3, d_model) if signs else None  # Batch.prompt_sign
        reads = window or operator_window
        self.read_head = ReadHead(window, vocab_size, d_model, operator_window) if reads else None

    def summarize(self, batch: Batch) -> torch.Tensor:
        """The context as one vector ``(B, D)``: mean of embeddings, or the encoder's last state."""
        prompt, length = batch.prompt, batch.prompt_len
        emb = self.embed(prompt)  # (B, L, D)
        if self.sign_embed is not None:
            emb = emb + self.sign_embed(batch.prompt_sign)
        cols = torch.arange(prompt.shape[1], device=prompt.device)
        valid = cols[None, :] < length[:, None]  # (B, L)
        if self.encoder is None:
            return (emb * valid[..., None]).sum(1) / length[:, None]
        h = emb.new_zeros(emb.shape[0], emb.shape[2])
        for j in range(prompt.shape[1]):  # over context positions, never over the batch
            h = torch.where(valid[:, j, None], self.encoder(emb[:, j], h), h)
        return h

    def start(self, batch: Batch) -> tuple[torch.Tensor | Reading, torch.Tensor]:
        """Initial state (the hidden vector ``(B, D)``; with a read head, also the prompt it
        reads) and first input token ``(B,)`` (``[CTX]``)."""
        h = self.summarize(batch)
        if self.stage_embed is not None:
            h = h + self.stage_embed(batch.task)
        first = torch.full_like(batch.task, CTX)
        if self.read_head is None:
            return torch.tanh(h), first
        return (torch.tanh(h), batch.prompt, batch.prompt_sign, batch.prompt_len), first

    @property
    def observes(self) -> bool:
        """Whether each step also takes the machine's state (``decode.observe``)."""
        return self.observe_embed is not None

    @property
    def reads_cursor(self) -> bool:
        """Whether each step also takes the machine's cursors (a read head)."""
        return self.read_head is not None

    def step(
        self,
        state: torch.Tensor | Reading,
        token: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | Reading]:
        """Feed one token ``(B,)`` (and the machine's state ``(B, F)`` when observing, its
        cursors ``(B, 2)`` with a read head); return logits ``(B, V)``, value ``(B,)`` and the
        new state."""
        x = self.embed(token)
        if self.observe_embed is not None:
            assert obs is not None, "this model observes the machine: step needs obs"
            x = x + self.observe_embed(obs)
        if self.read_head is None:
            assert isinstance(state, torch.Tensor)
            h = self.cell(x, state)
            return self.policy_head(h), self.value_head(h).squeeze(-1), h
        assert cursor is not None, "this model reads at the cursor: step needs cursor"
        h, prompt, sign, length = state
        h = self.cell(x + self.read_head(prompt, sign, length, cursor), h)
        return self.policy_head(h), self.value_head(h).squeeze(-1), (h, prompt, sign, length)
