"""Greedy exact-match accuracy per stage on fresh episodes, with 95% Wilson intervals.

A stage of several expressions gives each of them its turn (stratified); tasks held out of
training form one more group, ``HELD_OUT``. Each group also reports program optimality
(``OPTIMALITY_NOTE`` says what it is, wherever it is shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nativeagent.build import build_machine, build_task_set
from nativeagent.config import Config
from nativeagent.models import Policy
from nativeagent.rollout import Rollout, rollout
from nativeagent.stats import wilson_interval
from nativeagent.tasks.taskset import HELD_OUT, Batch

#: What the optimality of an accuracy table is, as the tables of ``train``, ``eval`` and the
#: report explain it. The solver's program is the shortest that is right on every context; on
#: one context a shorter one can be right too (``MUL ADD ANS`` when ``d*e = 0``).
OPTIMALITY_NOTE = (
    "optimality: the agent's program length over the solver's shortest program (the shortest "
    "that is right on every context), averaged over solved episodes; 1 = always a shortest "
    "program, above 1 = longer programs, below 1 = shorter programs that are right only on "
    "some contexts (e.g. MUL ADD ANS for (a*b+c)-(d*e) when d*e = 0)"
)


@dataclass(frozen=True)
class StageAccuracy:
    """Greedy accuracy on one stage (or the held-out group) with its 95% Wilson interval."""

    stage: int
    correct: int
    episodes: int
    low: float
    high: float
    optimality: float | None = None  # mean program length / shortest, over solved episodes
    per_task: tuple[tuple[str, int, int], ...] = ()  # (expression, correct, episodes)
    mean_reward: float | None = None  # mean episode reward (what the tutorial printed)

    @property
    def accuracy(self) -> float:
        return self.correct / self.episodes

    @classmethod
    def from_result(
        cls, result: dict[str, Any], held_out: bool = False
    ) -> dict[int, StageAccuracy]:
        """The final table of a run's ``result.json``, per stage (and ``HELD_OUT``, when asked
        for and present).

        Raises ``KeyError``, ``IndexError``, ``TypeError`` or ``ValueError`` when it lacks a stage.
        """
        n = int(result["eval_episodes"])
        optimality = result.get("optimality", {})
        table = {
            s: cls(
                s,
                round(float(result["accuracy"][str(s)]) * n),
                n,
                float(result["interval"][str(s)][0]),
                float(result["interval"][str(s)][1]),
                optimality.get(str(s)),
            )
            for s in range(len(result["accuracy"]))
        }
        if held_out and "held_out" in result:
            h = result["held_out"]
            m = int(h["episodes"])
            low, high = (float(v) for v in h["interval"])
            acc = round(float(h["accuracy"]) * m)
            table[HELD_OUT] = cls(HELD_OUT, acc, m, low, high, h.get("optimality"))
        return table


def stage_rows(acc: dict[int, StageAccuracy], cfg: Config) -> list[dict[str, Any]]:
    """Rows of an accuracy table (``eval``, ``train``'s final table, ``eval --json``, the model
    card), one per stage, then held-out."""
    tasks = build_task_set(cfg)
    return [
        {
            "stage": "held-out" if s == HELD_OUT else s,
            "task": tasks.stage_name(s),
            "accuracy": a.accuracy,
            "low": a.low,
            "high": a.high,
            "episodes": a.episodes,
            "optimality": a.optimality,
        }
        for s, a in acc.items()
    ]


def decode_tokens(cfg: Config) -> int:
    """Tokens decoded per episode: the step limit closed loop, ``open_tokens`` open loop."""
    return cfg.max_steps if cfg.decode.mode == "closed" else cfg.decode.open_tokens


@torch.no_grad()
def greedy_rollout(model: Policy, cfg: Config, batch: Batch) -> Rollout:
    """Greedy (argmax) decoding of ``batch`` with the run's machine and decoding mode."""
    machine = build_machine(cfg, shaping=False)
    return rollout(
        model, machine, batch, decode_tokens(cfg), greedy=True, masked=cfg.decode.mode == "closed"
    )


def evaluate(
    model: Policy,
    cfg: Config,
    episodes: int,
    generator: torch.Generator,
    held_out: bool = False,
) -> dict[int, StageAccuracy]:
    """Greedy accuracy on the stated target, ``episodes`` fresh contexts per stage.

    With ``held_out`` (and held-out tasks in the configuration) the held-out tasks are one
    more group, under the key ``HELD_OUT``.
    """
    tasks = build_task_set(cfg)
    groups = tasks.groups if held_out else list(range(tasks.n_stages))
    # Tasks in turn within each group (stratified), so the mix of shapes adds no noise.
    task = torch.cat([tasks.in_turn(s, episodes) for s in groups]).to(generator.device)
    batch = tasks.sample_tasks(task, generator)
    ro = greedy_rollout(model, cfg, batch)
    ratio = ro.alive.sum(1) / tasks.shortest_lengths.to(task.device)[batch.task]  # (B,)
    reward = ro.reward.sum(1)  # (B,)
    out = {}
    for s in groups:
        rows = batch.stage == s
        k = int(ro.correct[rows].sum())
        solved = rows & ro.correct
        optimality = float(ratio[solved].mean()) if k else None
        per_task = tuple(
            (tasks.tasks[i].expression, int(ro.correct[batch.task == i].sum()), n)
            for i in tasks.stage_tasks(s)
            if (n := int((batch.task == i).sum()))
        )
        low, high = wilson_interval(k, episodes)
        mean_reward = float(reward[rows].mean())
        out[s] = StageAccuracy(s, k, episodes, low, high, optimality, per_task, mean_reward)
    return out
