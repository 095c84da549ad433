"""Greedy exact-match accuracy per stage on fresh episodes, with 95% Wilson intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.config import Config
from nativeagent.machine import make_machine
from nativeagent.models import Policy
from nativeagent.rollout import Rollout, rollout
from nativeagent.tasks import N_STAGES, Batch, sample_batch


@dataclass(frozen=True)
class StageAccuracy:
    """Greedy accuracy on one stage with its 95% Wilson score interval."""

    stage: int
    correct: int
    episodes: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.episodes

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> dict[int, StageAccuracy]:
        """The final table of a run's ``result.json``, per stage.

        Raises ``KeyError``, ``IndexError``, ``TypeError`` or ``ValueError`` when it lacks a stage.
        """
        n = int(result["eval_episodes"])
        return {
            s: cls(
                s,
                round(float(result["accuracy"][str(s)]) * n),
                n,
                float(result["interval"][str(s)][0]),
                float(result["interval"][str(s)][1]),
            )
            for s in range(N_STAGES)
        }


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion.

    >>> tuple(round(v, 4) for v in wilson_interval(1000, 1000))
    (0.9962, 1.0)
    """
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def decode_tokens(cfg: Config) -> int:
    """Tokens decoded per episode: the step limit closed loop, ``open_tokens`` open loop."""
    return cfg.machine.max_steps if cfg.decode.mode == "closed" else cfg.decode.open_tokens


@torch.no_grad()
def greedy_rollout(model: Policy, cfg: Config, batch: Batch) -> Rollout:
    """Greedy (argmax) decoding of ``batch`` with the run's machine and decoding mode."""
    machine = make_machine(cfg.machine.name, cfg.machine.max_steps)
    return rollout(
        model, machine, batch, decode_tokens(cfg), greedy=True, masked=cfg.decode.mode == "closed"
    )


def evaluate(
    model: Policy, cfg: Config, episodes: int, generator: torch.Generator
) -> dict[int, StageAccuracy]:
    """Greedy accuracy on the stated target, ``episodes`` fresh contexts per stage."""
    device = generator.device
    stages = torch.arange(N_STAGES, device=device).repeat_interleave(episodes)
    ro = greedy_rollout(model, cfg, sample_batch(stages, generator))
    out = {}
    for s in range(N_STAGES):
        k = int(ro.correct[stages == s].sum())
        out[s] = StageAccuracy(s, k, episodes, *wilson_interval(k, episodes))
    return out
