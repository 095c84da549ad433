"""The read head: the prompt in a window around the machine's cursor, as one input vector.

After each tool the machine says where its cursor stands in the prompt (``Batch.cursors``: the
prompt position of the next unread operand, or the prompt's end). The read head looks at the
``2 * radius + 1`` prompt tokens around it, each with its running sign (``task.show_signs``;
none otherwise), positions outside the prompt reading ``[EOS]`` and every digit reading as one
*operand* token, and sums one learned vector per (offset, token) and one per (offset, sign).
"The operator two tokens after the cursor" is then the same input at every prompt length, so
what a policy learned from it on short expressions applies to longer ones. Optionally a second
window does the same around the *operator cursor*, the next operator of the postfix that the
program has not applied yet.

>>> import torch
>>> prompt = torch.tensor([[4, 2, 11, 7, 12]])  # 4 2 [MUL] 7 [ADD]: a*b+c
>>> tokens, signs = window(prompt, torch.zeros_like(prompt), torch.tensor([5]),
...                        torch.tensor([3]), radius=2)
>>> tokens.tolist()  # the cursor on c (position 3): [MUL] before it, [ADD] after
[[2, 11, 7, 12, 17]]
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nativeagent.tokens import EOS

#: Running signs a prompt position can carry (``tasks.taskset``: none, plus, minus).
N_SIGNS = 3
#: Every digit reads as the token of digit 0, *an operand*: a program never depends on the
#: digits, so the head does not tell them apart (nothing to unlearn at unseen combinations).
N_DIGITS, OPERAND = 10, 0


def window(
    prompt: torch.Tensor,
    sign: torch.Tensor,
    length: torch.Tensor,
    cursor: torch.Tensor,
    radius: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prompt tokens and running signs at ``cursor - radius .. cursor + radius``.

    ``prompt`` and ``sign`` ``(B, L)``, ``length`` ``(B,)``, ``cursor`` ``(B,)`` or ``(B, T)``;
    returns two ``(*cursor.shape, 2 * radius + 1)`` tensors, ``[EOS]`` and no sign outside the
    prompt.
    """
    offsets = torch.arange(-radius, radius + 1, device=cursor.device)
    where = cursor[..., None] + offsets  # (B, [T,] K)
    inside = (where >= 0) & (where < length.view(-1, *[1] * (where.dim() - 1)))
    flat = where.clamp(0, prompt.shape[1] - 1).reshape(where.shape[0], -1)
    tokens = prompt.gather(1, flat).view_as(where)
    signs = sign.gather(1, flat).view_as(where)
    return torch.where(inside, tokens, EOS), torch.where(inside, signs, 0)


class Window(nn.Module):
    """The window around one cursor as one ``d_model`` vector: a sum of learned vectors, one
    per (offset, token) and one per (offset, running sign)."""

    def __init__(self, radius: int, vocab_size: int, d_model: int) -> None:
        super().__init__()
        self.radius, self.vocab_size = radius, vocab_size
        size = 2 * radius + 1
        self.tokens = nn.Embedding(size * vocab_size, d_model)
        self.signs = nn.Embedding(size * N_SIGNS, d_model)
        for table in (self.tokens, self.signs):  # a sum of 2 * size vectors of about unit size
            nn.init.normal_(table.weight, std=1 / math.sqrt(2 * size))

    def forward(
        self, prompt: torch.Tensor, sign: torch.Tensor, length: torch.Tensor, cursor: torch.Tensor
    ) -> torch.Tensor:
        """``(*cursor.shape, D)``: what the head reads at each cursor."""
        tokens, signs = window(prompt, sign, length, cursor, self.radius)
        tokens = torch.where(tokens < N_DIGITS, OPERAND, tokens)  # a digit reads as an operand
        slot = torch.arange(tokens.shape[-1], device=tokens.device)
        read = self.tokens(slot * self.vocab_size + tokens) + self.signs(slot * N_SIGNS + signs)
        return read.sum(-2)


class ReadHead(nn.Module):
    """What a policy reads of the prompt after each tool: a window of ``radius`` around the
    cursor, and one of ``operator_radius`` around the operator cursor (0: none), summed."""

    def __init__(
        self, radius: int, vocab_size: int, d_model: int, operator_radius: int = 0
    ) -> None:
        super().__init__()
        self.operand = Window(radius, vocab_size, d_model) if radius else None
        self.operator = Window(operator_radius, vocab_size, d_model) if operator_radius else None

    def forward(
        self, prompt: torch.Tensor, sign: torch.Tensor, length: torch.Tensor, cursors: torch.Tensor
    ) -> torch.Tensor:
        """``(*cursors.shape[:-1], D)`` from ``cursors`` ``(B, [T,] 2)`` (``Batch.cursors``)."""
        parts = [
            head(prompt, sign, length, cursors[..., i])
            for i, head in enumerate((self.operand, self.operator))
            if head is not None
        ]
        return torch.stack(parts).sum(0)


__all__ = ["N_SIGNS", "ReadHead", "Window", "window"]
