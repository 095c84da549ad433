"""The tutorial's reward function (SPEC §4), batched in torch, kept as machine ``seed-legacy``.

Registers ``last`` and a ``mem`` marker; every token is a step and non-tools change nothing.
Its rewarded target is one stage behind the stated one, and its shaping is part of the reward.
"""

from __future__ import annotations

import torch

from nativeagent.machine.reference import LEGACY_MAX_STEPS
from nativeagent.tasks import Batch
from nativeagent.tokens import ADD, ANS, MUL, RCL, STO, SUB, VOCAB_SIZE

_NONE, _OK, _USE_D = 0, 1, 2


class LegacyMachine:
    """Batched ``seed-legacy`` machine; every token is legal, the reward is the tutorial's."""

    def __init__(self, max_steps: int = LEGACY_MAX_STEPS) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps

    #: Per-episode state; every one starts at zero / False (``mem`` 0 is "none").
    STATE = ("last", "has_last", "mem", "done", "answered", "answer", "steps")

    def reset(self, batch: Batch) -> None:
        """Start one episode per context with ``last`` and ``mem`` empty."""
        size, device = len(batch), batch.stage.device
        for name in self.STATE:
            dtype = torch.bool if name in ("has_last", "done", "answered") else torch.long
            setattr(self, name, torch.zeros(size, dtype=dtype, device=device))
        self._use(batch)

    def reset_rows(self, batch: Batch, rows: torch.Tensor) -> None:
        """Restart only the episodes where ``rows`` ``(B,)``; ``batch`` holds their new contexts."""
        for name in self.STATE:
            getattr(self, name)[rows] = 0
        self._use(batch)

    def _use(self, batch: Batch) -> None:
        """Targets and goal values the reward checks, derived from the contexts."""
        self.batch = batch
        device = batch.stage.device
        x = torch.where(batch.context < 10, batch.context, 0)
        a, b, c, d, e = x.unbind(1)
        s = batch.stage
        g0 = a * b
        g1 = g0 + c
        self.rewarded_target = torch.where(s == 0, g0, torch.where(s == 1, g1, g1 - d))
        self.goals = torch.stack([g0, g1, g1 - d, d * e, g1 - d * e], dim=1)  # (B, 5)
        weights = torch.tensor(
            [[0.25, 0.5, 0.0, 0.0, 0.0], [0.25, 0.5, 0.75, 0.0, 0.0], [0.2, 0.4, 0.0, 0.6, 0.6]],
            device=device,
        )
        self.goal_weights = weights[s]  # (B, 5)
        self.x = (a, b, c, d, e)

    def legal(self) -> torch.Tensor:
        """Every token may be emitted while the episode runs (the tutorial had no masks)."""
        return (~self.done)[:, None].expand(-1, VOCAB_SIZE)

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one token per episode exactly as the tutorial's reward function does."""
        a, b, c, d, e = self.x
        s, live, last, has = self.batch.stage, ~self.done, self.last, self.has_last
        use_d = (s == 2) & (self.mem == _USE_D)

        mul = live & (action == MUL)
        add = live & (action == ADD) & has
        sub = live & (action == SUB) & has
        sto = live & (action == STO)
        rcl = live & (action == RCL) & (self.mem != _NONE)
        ans = live & (action == ANS)

        last = torch.where(mul, torch.where(has, last * torch.where(s > 0, d, 1), a * b), last)
        last = torch.where(add, last + c, last)
        last = torch.where(sub, last - torch.where(use_d, e, torch.where(s > 0, d, 0)), last)
        recalled = torch.where(use_d, d * e, torch.where(has & (last != 0), last, 0))
        last = torch.where(rcl, recalled, last)
        self.last, self.has_last = last, has | mul | rcl
        self.mem = torch.where(sto, torch.where(s >= 1, _USE_D, _OK), self.mem)

        hit = self.has_last[:, None] & (self.last[:, None] == self.goals)  # (B, 5)
        shaped = (hit * self.goal_weights).sum(1)
        correct = self.has_last & (self.last == self.rewarded_target)
        reward = ans * (correct.float() + 0.2 * shaped)
        self.answer = torch.where(ans, self.last, self.answer)
        self.answered = self.answered | (ans & self.has_last)
        self.steps = self.steps + live
        ended = live & (ans | (self.steps >= self.max_steps))
        self.done = self.done | ended
        return reward, ended
