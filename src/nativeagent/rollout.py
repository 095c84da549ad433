"""Decoding episodes: policy step, optional legal-action mask, machine step, as (B, T) tensors.

``rollout`` samples (or takes the argmax of) the policy while the machine runs; ``replay``
re-scores stored actions under the current weights, for algorithms that update several times
on one batch (PPO, GRPO); a model that can score a whole sequence in one pass (the
Transformer) replays in one pass. A model that observes the machine (``decode.observe``) is fed
its state with every token, and one that reads at the machine's cursor (a read head, coupled
positions) where the cursor stands in the prompt.

Why decoding keeps the graph of each step instead of decoding without gradients and scoring the
sequence in one pass afterwards: on CPU that costs more (``benchmarks/transformer_scoring.py``,
generalization preset, 512 episodes, 1 thread: 157 ms with the step graph, forward and
backward, against 56 ms to decode without gradients plus 123 ms for the one pass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch

from nativeagent.errors import NonFiniteError
from nativeagent.machine.base import BatchedMachine, ObservableMachine
from nativeagent.models import ParallelScorer, Policy, observes, reads_cursor
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
    observations: torch.Tensor | None = None  # (B, T, F) the machine's state fed with each token
    cursors: torch.Tensor | None = None  # (B, T, 2) int64 the cursors' prompt positions, likewise


def _masked_log_probs(logits: torch.Tensor, legal: torch.Tensor | None) -> torch.Tensor:
    if legal is not None:
        logits = logits.masked_fill(~legal, _MASKED)
    return torch.log_softmax(logits, dim=-1)


def model_step(
    model: Policy,
    state: Any,
    token: torch.Tensor,
    obs: torch.Tensor | None = None,
    cursor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Feed ``token`` (and the machine's state ``obs``, for a model that observes, and its
    ``cursor``, for one that reads at it); return logits ``(B, V)``, value and the model's
    next state."""
    if cursor is not None:
        return cast(Any, model).step(state, token, obs, cursor)
    if obs is not None:
        return cast(Any, model).step(state, token, obs)
    return model.step(state, token)


def policy_step(
    model: Policy,
    state: Any,
    token: torch.Tensor,
    legal: torch.Tensor | None,
    obs: torch.Tensor | None = None,
    cursor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """``model_step``, with log-probabilities ``(B, V)`` masked to ``legal``."""
    logits, value, state = model_step(model, state, token, obs, cursor)
    return _masked_log_probs(logits, legal), value, state


def _cursors(batch: Batch, machine: ObservableMachine) -> torch.Tensor:
    """``(B, 2)``: where the machine's cursor and operator cursor stand in each prompt."""
    return batch.cursors(machine.operand(), machine.applied())


def _sample(log_probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row drawn from ``log_probs``; ``NonFiniteError`` when the policy's output is
    NaN or infinite (weights grown too large), which ``torch.multinomial`` refuses."""
    try:
        return torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
    except RuntimeError:
        if bool((log_probs.isnan() | (log_probs == math.inf)).any()):
            raise NonFiniteError("policy output") from None
        raise


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
    decode_all: bool = False,
) -> Rollout:
    """Decode up to ``n_tokens`` per episode, stepping ``machine`` after every token.

    ``masked`` (closed loop) restricts the policy to the machine's legal tools; unmasked (the
    tutorial's open loop) samples from the whole vocabulary. Sampling uses ``generator``;
    ``greedy`` takes the argmax instead. Decoding stops when every episode has ended, unless
    ``decode_all`` (the tutorial's loss trains on all ``n_tokens``).
    """
    watch, read = observes(model), reads_cursor(model)
    machine.reset(batch)
    state, token = model.start(batch)
    cols: dict[str, list[torch.Tensor]] = {k: [] for k in ("a", "lp", "ent", "v", "r", "alive")}
    masks: list[torch.Tensor] = []
    seen: list[torch.Tensor] = []
    where: list[torch.Tensor] = []
    for _ in range(n_tokens):
        alive = ~machine.done
        legal = None
        if masked:
            legal = machine.legal() | ~alive[:, None]  # finished rows stay unmasked (ignored)
            masks.append(legal)
        obs = cast(ObservableMachine, machine).observe() if watch else None
        if obs is not None:
            seen.append(obs)
        cursor = _cursors(batch, cast(ObservableMachine, machine)) if read else None
        if cursor is not None:
            where.append(cursor)
        log_probs, value, state = policy_step(model, state, token, legal, obs, cursor)
        token = log_probs.argmax(-1) if greedy else _sample(log_probs, generator)
        reward, _ = machine.step(token)
        cols["a"].append(token)
        cols["lp"].append(log_probs.gather(1, token[:, None]).squeeze(1))
        cols["ent"].append(_entropy(log_probs))
        cols["v"].append(value)
        cols["r"].append(reward)
        cols["alive"].append(alive)
        if not decode_all and bool(machine.done.all()):
            break
    a, lp, ent, v, r, al = (torch.stack(cols[k], 1) for k in ("a", "lp", "ent", "v", "r", "alive"))
    correct = machine.answered & (machine.answer == batch.target)
    legal_all = torch.stack(masks, 1) if masks else None
    obs_all = torch.stack(seen, 1) if seen else None
    cursors = torch.stack(where, 1) if where else None
    answer, answered = machine.answer, machine.answered
    return Rollout(a, lp, ent, v, r, al, answer, answered, correct, legal_all, obs_all, cursors)


def replay(
    model: Policy,
    batch: Batch,
    actions: torch.Tensor,
    legal: torch.Tensor | None,
    observations: torch.Tensor | None = None,
    cursors: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probability, entropy and value ``(B, T)`` of stored ``actions`` under ``model`` now.

    The model is fed exactly what it saw while decoding (``[CTX]``, then its own actions, and
    the machine's states and cursors when it reads them) and the same legal masks are applied,
    so with unchanged weights this reproduces the rollout (up to float rounding, for a model
    that scores the whole sequence in one pass).
    """
    if isinstance(model, ParallelScorer):
        logits, values = model.score(batch, actions, observations, cursors)
        log_probs = _masked_log_probs(logits, legal)  # (B, T, V)
        lp = log_probs.gather(2, actions[..., None]).squeeze(2)
        return lp, _entropy(log_probs), values
    state, token = model.start(batch)
    lps, ents, values_t = [], [], []
    for t in range(actions.shape[1]):
        mask = legal[:, t] if legal is not None else None
        obs = observations[:, t] if observations is not None else None
        cursor = cursors[:, t] if cursors is not None else None
        log_probs, value, state = policy_step(model, state, token, mask, obs, cursor)
        token = actions[:, t]
        lps.append(log_probs.gather(1, token[:, None]).squeeze(1))
        ents.append(_entropy(log_probs))
        values_t.append(value)
    return torch.stack(lps, 1), torch.stack(ents, 1), torch.stack(values_t, 1)
