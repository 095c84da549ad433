"""Decoding episodes: policy step, optional legal-action mask, machine step, as (B, T) tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nativeagent.machine.base import BatchedMachine
from nativeagent.models import Policy
from nativeagent.tasks import Batch

_MASKED = -1e9  # a logit that gives probability exactly 0 without inf * 0 in the entropy


@dataclass
class Rollout:
    """One batch of episodes; step ``t`` of episode ``b`` counts only where ``alive[b, t]``."""

    actions: torch.Tensor  # (B, T) int64
    log_prob: torch.Tensor  # (B, T)
    entropy: torch.Tensor  # (B, T)
    value: torch.Tensor  # (B, T)
    reward: torch.Tensor  # (B, T)
    alive: torch.Tensor  # (B, T) bool: the step was taken in a running episode
    answer: torch.Tensor  # (B,) int64, valid where answered
    answered: torch.Tensor  # (B,) bool
    correct: torch.Tensor  # (B,) bool: answered the stated target


def rollout(
    model: Policy,
    machine: BatchedMachine,
    batch: Batch,
    n_tokens: int,
    generator: torch.Generator | None = None,
    greedy: bool = False,
    masked: bool = True,
) -> Rollout:
    """Decode up to ``n_tokens`` per episode, stepping ``machine`` after every token.

    ``masked`` (closed loop) restricts the policy to the machine's legal tools; unmasked (the
    tutorial's open loop) samples from the whole vocabulary. Sampling uses ``generator``;
    ``greedy`` takes the argmax instead.
    """
    machine.reset(batch)
    state, token = model.start(batch)
    cols: dict[str, list[torch.Tensor]] = {k: [] for k in ("a", "lp", "ent", "v", "r", "alive")}
    for _ in range(n_tokens):
        alive = ~machine.done
        logits, value, state = model.step(state, token)  # (B, V), (B,)
        if masked:
            legal = machine.legal() | ~alive[:, None]  # finished rows stay unmasked (ignored)
            logits = logits.masked_fill(~legal, _MASKED)
        log_probs = torch.log_softmax(logits, dim=-1)
        if greedy:
            token = log_probs.argmax(-1)
        else:
            token = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        reward, _ = machine.step(token)
        cols["a"].append(token)
        cols["lp"].append(log_probs.gather(1, token[:, None]).squeeze(1))
        cols["ent"].append(-(log_probs.exp() * log_probs).sum(-1))
        cols["v"].append(value)
        cols["r"].append(reward)
        cols["alive"].append(alive)
        if bool(machine.done.all()):
            break
    a, lp, ent, v, r, al = (torch.stack(cols[k], 1) for k in ("a", "lp", "ent", "v", "r", "alive"))
    correct = machine.answered & (machine.answer == batch.target)
    return Rollout(a, lp, ent, v, r, al, machine.answer, machine.answered, correct)
