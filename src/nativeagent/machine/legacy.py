"""The tutorial's reward function, kept exactly as machine ``seed-legacy`` (docs/machine.md).

It is not a tool set: registers ``last`` and a ``mem`` marker, every token is a step and tokens
that are not tools change nothing; its rewarded target is one stage behind the stated one, and
its shaping is part of the reward. ``run_legacy`` runs one program in plain Python (the oracle),
``LegacyMachine`` runs many at once in torch with the same semantics.

>>> run_legacy([11, 14], [4, 2, 7], 0).reward
1.05
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nativeagent.machine.base import Episodes
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.tools import CANONICAL, LEGACY_MAX_STEPS

MUL, ADD, SUB, ANS, STO, RCL = (
    CANONICAL.tool(name).token for name in ("MUL", "ADD", "SUB", "ANS", "STO", "RCL")
)
VOCAB_SIZE = CANONICAL.vocab_size
NAMES = CANONICAL.vocabulary

_USE_D, _OK = "use d", "ok"


def legacy_rewarded_target(context: Sequence[int], stage: int) -> int:
    """The target the tutorial's reward actually checks: one stage behind the stated one."""
    a, b, c = context[:3]
    return [a * b, a * b + c, a * b + c - (context[3] if stage > 0 else 0)][stage]


def legacy_shaped(last: int | None, context: Sequence[int], stage: int) -> float:
    """The tutorial's partial credit for answering one of its subgoal values."""
    a, b, c = context[:3]
    g0 = a * b
    g1 = g0 + c
    if stage == 0:
        return 0.25 * (last == g0) + 0.5 * (last == g1)
    d = context[3]
    g2 = g1 - d
    if stage == 1:
        return 0.25 * (last == g0) + 0.5 * (last == g1) + 0.75 * (last == g2)
    g3 = d * context[4]
    g4 = g1 - g3
    return 0.2 * (last == g0) + 0.4 * (last == g1) + 0.6 * (last == g4) + 0.6 * (last == g3)


def run_legacy(
    program: Sequence[int], context: Sequence[int], stage: int, max_steps: int = LEGACY_MAX_STEPS
) -> Outcome:
    """Run ``program`` through the tutorial's reward function exactly.

    Every token counts as a step; tokens that are not tools change nothing. ``correct`` is
    against the tutorial's rewarded target, and ``reward`` is the tutorial's reward.
    """
    a, b, c = context[:3]
    d = context[3] if stage > 0 else None
    e = context[4] if stage > 1 else None
    last: int | None = None
    mem: str | None = None
    trace: list[str] = []
    for t, tok in enumerate(program[:max_steps]):
        if tok == MUL:
            last = a * b if last is None else last * (d if d is not None else 1)
        elif tok == ADD and last is not None:
            last += c
        elif tok == SUB and last is not None:
            if stage == 2 and mem == _USE_D:
                assert e is not None
                last -= e
            else:
                last -= d if d is not None else 0
        elif tok == STO:
            mem = _USE_D if stage >= 1 else _OK
        elif tok == RCL and mem is not None:
            if stage == 2 and mem == _USE_D:
                assert d is not None and e is not None
                last = d * e
            else:
                last = last if last else 0
        elif tok == ANS:
            correct = last == legacy_rewarded_target(context, stage)
            reward = float(correct) + 0.2 * legacy_shaped(last, context, stage)
            trace.append(f"ANS last={last}")
            return Outcome(last, correct, reward, t + 1, tuple(trace))
        trace.append(f"{NAMES[tok]} last={last}" + (f" mem={mem}" if tok == STO else ""))
    return Outcome(None, False, 0.0, min(len(program), max_steps), tuple(trace))


_NONE, _MARK_OK, _MARK_USE_D = 0, 1, 2


class LegacyMachine:
    """Batched ``seed-legacy`` machine; every token is legal, the reward is the tutorial's."""

    def __init__(self, max_steps: int = LEGACY_MAX_STEPS) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps
        self._limit = min(max_steps, torch.iinfo(torch.int64).max)  # steps count in int64

    #: Per-episode state; every one starts at zero / False (``mem`` 0 is "none").
    STATE = ("last", "has_last", "mem", "done", "answered", "answer", "steps")

    def reset(self, batch: Episodes) -> None:
        """Start one episode per context with ``last`` and ``mem`` empty."""
        size, device = len(batch), batch.stage.device
        for name in self.STATE:
            dtype = torch.bool if name in ("has_last", "done", "answered") else torch.long
            setattr(self, name, torch.zeros(size, dtype=dtype, device=device))
        self._use(batch)

    def reset_rows(self, batch: Episodes, rows: torch.Tensor) -> None:
        """Restart only the episodes where ``rows`` ``(B,)``; ``batch`` holds their new contexts."""
        for name in self.STATE:
            getattr(self, name)[rows] = 0
        self._use(batch)

    def _use(self, batch: Episodes) -> None:
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
        use_d = (s == 2) & (self.mem == _MARK_USE_D)

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
        self.mem = torch.where(sto, torch.where(s >= 1, _MARK_USE_D, _MARK_OK), self.mem)

        hit = self.has_last[:, None] & (self.last[:, None] == self.goals)  # (B, 5)
        shaped = (hit * self.goal_weights).sum(1)
        correct = self.has_last & (self.last == self.rewarded_target)
        reward = ans * (correct.float() + 0.2 * shaped)
        self.answer = torch.where(ans, self.last, self.answer)
        self.answered = self.answered | (ans & self.has_last)
        self.steps = self.steps + live
        ended = live & (ans | (self.steps >= self._limit))
        self.done = self.done | ended
        return reward, ended


__all__ = [
    "LEGACY_MAX_STEPS",
    "LegacyMachine",
    "legacy_rewarded_target",
    "legacy_shaped",
    "run_legacy",
]
