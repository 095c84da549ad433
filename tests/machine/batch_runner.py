"""Shared test helper: run (stage, context, program) episodes through a batched machine."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nativeagent.machine import BatchedMachine
from nativeagent.tasks import MAX_OPERANDS, make_batch
from nativeagent.tokens import EOS

#: One episode: its stage, the stage's context digits and the program's token ids.
Episode = tuple[int, Sequence[int], Sequence[int]]


def pad(program: Sequence[int], length: int) -> list[int]:
    """``program`` padded with ``[EOS]`` to ``length`` tokens (never truncated)."""
    return [*program, *[EOS] * (length - len(program))]


def run_batched(
    machine: BatchedMachine, episodes: Sequence[Episode], length: int | None = None
) -> torch.Tensor:
    """Step all episodes in one batch, programs ``[EOS]``-padded to ``length``; rewards ``(T, B)``.

    On every step it also checks the protocol: ``done`` returns exactly the episodes that ended
    now, and finished episodes stay frozen (no reward, no legal action, no further step).
    """
    size = len(episodes)
    contexts = torch.full((size, MAX_OPERANDS), EOS, dtype=torch.long)
    for i, (_, context, _) in enumerate(episodes):
        contexts[i, : len(context)] = torch.tensor(list(context), dtype=torch.long)
    stages = torch.tensor([stage for stage, _, _ in episodes], dtype=torch.long)
    if length is None:
        length = max(len(program) for _, _, program in episodes)
    rows = [pad(program, length) for _, _, program in episodes]
    actions = torch.tensor(rows, dtype=torch.long).reshape(size, length)  # (B, T)
    machine.reset(make_batch(contexts, stages))
    assert not machine.done.any() and not machine.answered.any() and not machine.steps.any()
    rewards = torch.zeros(length, size)
    for t in range(length):
        was_done, steps = machine.done.clone(), machine.steps.clone()
        reward, done = machine.step(actions[:, t])
        assert torch.equal(done, machine.done & ~was_done), f"step {t}: wrong done flags"
        assert not reward[was_done].any(), f"step {t}: a finished episode was rewarded"
        assert torch.equal(machine.steps, steps + (~was_done).long()), f"step {t}: steps counter"
        assert not machine.legal()[machine.done].any(), f"step {t}: finished episode has actions"
        rewards[t] = reward
    return rewards
