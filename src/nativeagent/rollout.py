"""Decoding episodes: policy step, optional legal-action mask, machine step, as (B, T) tensors.

``rollout`` samples (or takes the argmax of) the policy while the machine runs; ``replay``
re-scores stored actions under the current weights, for algorithms that update several times
on one batch (PPO, GRPO).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.machine.base import BatchedMachine
from nativeagent.models import Policy
from nativeagent.tasks.taskset import Batch

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
    legal: torch.Tensor | None = None  # (B, T, V) bool masks used when decoding closed loop


def policy_step(
    model: Policy, state: Any, token: torch.Tensor, legal: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Feed ``token``; return log-probabilities ``(B, V)`` (masked to ``legal``), value, state."""
    logits, value, state = model.step(state, token)
    if legal is not None:
        logits = logits.masked_fill(~legal, _MASKED)
    return torch.log_softmax(logits, dim=-1), value, state


def _entropy(log_probs: torch.Tensor) -> torch.Tensor:
    return -(log_probs.exp() * log_probs).sum(-1)


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
    masks: list[torch.Tensor] = []
    for _ in range(n_tokens):
        alive = ~machine.done
        legal = None
        if masked:
            legal = machine.legal() | ~alive[:, None]  # finished rows stay unmasked (ignored)
            masks.append(legal)
        log_probs, value, state = policy_step(model, state, token, legal)  # (B, V), (B,)
        if greedy:
            token = log_probs.argmax(-1)
        else:
            token = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        reward, _ = machine.step(token)
        cols["a"].append(token)
        cols["lp"].append(log_probs.gather(1, token[:, None]).squeeze(1))
        cols["ent"].append(_entropy(log_probs))
        cols["v"].append(value)
        cols["r"].append(reward)
        cols["alive"].append(alive)
        if bool(machine.done.all()):
            break
    a, lp, ent, v, r, al = (torch.stack(cols[k], 1) for k in ("a", "lp", "ent", "v", "r", "alive"))
    correct = machine.answered & (machine.answer == batch.target)
    legal_all = torch.stack(masks, 1) if masks else None
    return Rollout(a, lp, ent, v, r, al, machine.answer, machine.answered, correct, legal_all)


def replay(
    model: Policy, batch: Batch, actions: torch.Tensor, legal: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probability, entropy and value ``(B, T)`` of stored ``actions`` under ``model`` now.

    The model is fed exactly what it saw while decoding (``[CTX]``, then its own actions) and
    the same legal masks are applied, so with unchanged weights this reproduces the rollout.
    """
    state, token = model.start(batch)
    lps, ents, values = [], [], []
    for t in range(actions.shape[1]):
        mask = legal[:, t] if legal is not None else None
        log_probs, value, state = policy_step(model, state, token, mask)
        token = actions[:, t]
        lps.append(log_probs.gather(1, token[:, None]).squeeze(1))
        ents.append(_entropy(log_probs))
        values.append(value)
    return torch.stack(lps, 1), torch.stack(ents, 1), torch.stack(values, 1)
