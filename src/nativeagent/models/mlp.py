"""A history-free actor-critic: each decision depends only on the machine's state now and on
what the read head sees around its cursor.

No memory of earlier steps, no view of the prompt beyond the window, no task embedding. The
policy is then the same function at every step of every expression, whatever its length; this
is the argument Cai, Shin and Song (2017) give for why recursive programs generalize. What it
needs to know must be in its observation: the machine's state (``decode.observe``, and whether
a memory cell's value is still to be used, ``decode.observe_unused``) and the windows
(``decode.window``, ``decode.operator_window``).
"""

from __future__ import annotations

import torch
from torch import nn

from nativeagent.models.read_head import ReadHead
from nativeagent.tasks.taskset import Batch
from nativeagent.tokens import CTX

#: The prompt the read head reads: tokens (B, L), running signs (B, L), length (B,).
Reading = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class MLPActorCritic(nn.Module):
    """Read head and state features summed into one hidden layer, ``n_layers - 1`` more, then a
    policy head over the vocabulary and a value head."""

    observes = True
    reads_cursor = True

    def __init__(
        self,
        d_model: int,
        vocab_size: int,
        n_obs: int,
        window: int,
        n_layers: int = 2,
        operator_window: int = 0,
    ) -> None:
        super().__init__()
        if n_obs < 1 or window + operator_window < 1:
            raise ValueError("the history-free policy needs the machine's state and a window")
        self.read_head = ReadHead(window, vocab_size, d_model, operator_window)
        self.observe_embed = nn.Linear(n_obs, d_model)
        layers: list[nn.Module] = [nn.Tanh()]
        for _ in range(n_layers - 1):
            layers += [nn.Linear(d_model, d_model), nn.Tanh()]
        self.hidden = nn.Sequential(*layers)
        self.policy_head = nn.Linear(d_model, vocab_size)
        self.value_head = nn.Linear(d_model, 1)

    def start(self, batch: Batch) -> tuple[Reading, torch.Tensor]:
        """The prompt the read head will read; the first input ``[CTX]`` (never looked at)."""
        return (batch.prompt, batch.prompt_sign, batch.prompt_len), torch.full_like(batch.task, CTX)

    def _heads(
        self, reading: Reading, obs: torch.Tensor, cursor: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(self.read_head(*reading, cursor) + self.observe_embed(obs))
        return self.policy_head(h), self.value_head(h).squeeze(-1)

    def step(
        self,
        state: Reading,
        token: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, Reading]:
        """Logits ``(B, V)`` and value ``(B,)`` from the machine's state ``(B, F)`` and its
        cursors ``(B, 2)``; ``token``, the last action, is not looked at."""
        assert obs is not None and cursor is not None, "this policy needs obs and cursor"
        logits, value = self._heads(state, obs, cursor)
        return logits, value, state

    def score(
        self,
        batch: Batch,
        actions: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` at every step at once (each depends on
        that step's observation alone)."""
        assert obs is not None and cursors is not None, "this policy needs obs and cursors"
        return self._heads((batch.prompt, batch.prompt_sign, batch.prompt_len), obs, cursors)


__all__ = ["MLPActorCritic"]
