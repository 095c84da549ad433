"""Which stage each training episode comes from: mastery gating with replay, or fixed blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch

from nativeagent.tasks.task import N_STAGES


class Schedule(Protocol):
    """The curriculum settings (``config.CurriculumConfig`` has them)."""

    kind: str
    mastery: float
    replay: float
    blocks: Sequence[int]
    focus: float


class Curriculum:
    """Stage schedule with a state that can be saved.

    ``mastery``: train on the current stage, promoting when its greedy accuracy reaches the
    threshold, while a ``replay`` fraction of each batch revisits earlier stages. ``blocks``:
    the tutorial's fixed list of stages, each for an equal share of ``max_updates``. ``mixed``:
    no curriculum; every episode's stage is drawn uniformly.
    """

    def __init__(
        self, cfg: Schedule, max_updates: int, n_stages: int = N_STAGES, n_tasks: int = 0
    ) -> None:
        self.cfg = cfg
        self.max_updates = max_updates
        self.n_stages = n_stages
        self.stage = cfg.blocks[0] if cfg.kind == "blocks" else 0
        #: Running failure rate of every task in training (``focus``); 1 until first seen.
        self.failure = torch.ones(n_tasks)

    def record(self, task: torch.Tensor, correct: torch.Tensor, rate: float = 0.1) -> None:
        """Update the tasks' running failure rates from one batch's episodes ``(B,)``."""
        n = self.failure.shape[0]
        seen = torch.bincount(task.cpu(), minlength=n).float()  # (T,)
        wins = torch.bincount(task.cpu(), correct.cpu().float(), minlength=n)
        batch_failure = 1 - wins / seen.clamp(min=1)
        self.failure = torch.where(
            seen > 0, (1 - rate) * self.failure + rate * batch_failure, self.failure
        )

    def stages(self, update: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Stage of every episode ``(B,)`` for update ``update`` (counted from 0)."""
        device = generator.device
        if self.cfg.kind == "blocks":
            per_block = max(1, -(-self.max_updates // len(self.cfg.blocks)))
            self.stage = self.cfg.blocks[min(update // per_block, len(self.cfg.blocks) - 1)]
            return torch.full((batch_size,), self.stage, dtype=torch.long, device=device)
        if self.cfg.kind == "mixed":
            self.stage = self.n_stages - 1  # logged as the stage being learned: all of them
            return torch.randint(
                0, self.n_stages, (batch_size,), generator=generator, device=device
            )
        stages = torch.full((batch_size,), self.stage, dtype=torch.long, device=device)
        n_replay = round(self.cfg.replay * batch_size) if self.stage > 0 else 0
        if n_replay:
            stages[:n_replay] = torch.randint(
                0, self.stage, (n_replay,), generator=generator, device=device
            )
        return stages

    def observe(self, accuracy: Mapping[int, float]) -> bool:
        """Take a greedy evaluation; promote on mastery. Returns True when it promoted."""
        last = self.n_stages - 1
        promote = self.cfg.kind == "mastery" and self.stage < last
        if promote and accuracy[self.stage] >= self.cfg.mastery:
            self.stage += 1
            return True
        return False

    def solved(self, accuracy: Mapping[int, float]) -> bool:
        """Every stage at or above the mastery threshold."""
        return all(accuracy[s] >= self.cfg.mastery for s in range(self.n_stages))

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position and the tasks' failure rates."""
        return {"stage": self.stage, "failure": self.failure.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a position saved by ``state_dict``; ``ValueError`` for one that is not this
        curriculum's (a stage it lacks, failure rates of other tasks)."""
        stage = state["stage"]
        if not isinstance(stage, int) or isinstance(stage, bool) or not 0 <= stage < self.n_stages:
            raise ValueError(f"curriculum stage {stage!r:.40} is not one of 0..{self.n_stages - 1}")
        failure = state.get("failure", self.failure)  # checkpoints before ``focus`` have none
        if not isinstance(failure, torch.Tensor) or failure.shape != self.failure.shape:
            raise ValueError(f"curriculum failure rates are not a tensor of {len(self.failure)}")
        if not failure.is_floating_point() or not bool(((failure >= 0) & (failure <= 1)).all()):
            raise ValueError("curriculum failure rates are not all between 0 and 1")
        self.stage, self.failure = stage, failure.clone()
