"""The canonical tool machine (SPEC §2), batched in torch with no Python loop over episodes.

State per episode: accumulator ``acc``, memory ``mem`` (each with a set flag), operand cursor
``p`` and the ``armed`` flag set by RCL. Rewards: 1 for a correct answer, plus optional shaping
(partial credit for answering a subgoal, a process reward when a tool first produces one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nativeagent.machine.reference import CANONICAL_MAX_STEPS
from nativeagent.tasks import Batch
from nativeagent.tokens import ADD, ANS, MUL, RCL, STO, SUB, VOCAB_SIZE


@dataclass(frozen=True)
class Shaping:
    """Optional reward shaping; never counted as success."""

    partial: float = 0.0
    """Reward at ANS for answering a subgoal value instead of the target."""
    process: float = 0.0
    """Reward for a tool call that first produces a subgoal value."""


class CanonicalMachine:
    """Batched canonical machine; ``step`` returns per-episode reward and done flags."""

    def __init__(self, max_steps: int = CANONICAL_MAX_STEPS, shaping: Shaping = Shaping()) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps
        self.shaping = shaping

    #: Per-episode state; every one starts at zero / False.
    STATE = ("acc", "mem", "p", "has_acc", "has_mem", "armed", "done", "answered", "answer")
    STATE += ("steps", "hit")

    def reset(self, batch: Batch) -> None:
        """Start one empty-register episode per context of ``batch``."""
        self.batch = batch
        size, device = len(batch), batch.stage.device
        for name in self.STATE:
            dtype = torch.long if name in ("acc", "mem", "p", "answer", "steps") else torch.bool
            setattr(self, name, torch.zeros(size, dtype=dtype, device=device))
        self.hit = torch.zeros_like(batch.subgoal_valid)  # (B, 3) subgoals already produced
        self._legal = self._compute_legal()

    def reset_rows(self, batch: Batch, rows: torch.Tensor) -> None:
        """Restart only the episodes where ``rows`` ``(B,)``; ``batch`` holds their new contexts."""
        self.batch = batch
        for name in self.STATE:
            getattr(self, name)[rows] = 0
        self._legal = self._compute_legal()

    def legal(self) -> torch.Tensor:
        """``(B, VOCAB_SIZE)`` bool mask of legal actions; all False once an episode is done."""
        return self._legal

    def _compute_legal(self) -> torch.Tensor:
        n = self.batch.n_operands
        live = ~self.done
        op = live & (self.armed | torch.where(self.has_acc, self.p < n, self.p + 1 < n))
        ans = live & self.has_acc & ~self.armed
        rcl = ans & self.has_mem
        legal = torch.zeros(len(self.batch), VOCAB_SIZE, dtype=torch.bool, device=n.device)
        legal[:, MUL : SUB + 1] = op[:, None]
        legal[:, ANS] = ans
        legal[:, STO] = ans
        legal[:, RCL] = rcl
        return legal

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply ``action`` ``(B,)``; illegal actions end their episode unsolved."""
        ctx, live = self.batch.context, ~self.done
        ok = self._legal.gather(1, action[:, None]).squeeze(1)  # (B,) False where done
        is_op = (action >= MUL) & (action <= SUB)
        do_op, do_sto = ok & is_op, ok & (action == STO)
        do_rcl, do_ans = ok & (action == RCL), ok & (action == ANS)

        p = self.p.clamp(max=ctx.shape[1] - 1)
        x_p = ctx.gather(1, p[:, None]).squeeze(1)
        x_q = ctx.gather(1, (p + 1).clamp(max=ctx.shape[1] - 1)[:, None]).squeeze(1)
        left = torch.where(self.armed, self.mem, torch.where(self.has_acc, self.acc, x_p))
        right = torch.where(self.armed, self.acc, torch.where(self.has_acc, x_p, x_q))
        value = torch.where(
            action == MUL, left * right, torch.where(action == ADD, left + right, left - right)
        )

        reward = torch.zeros(action.shape, dtype=torch.float32, device=action.device)
        correct = do_ans & (self.acc == self.batch.target)
        reward += correct.float()
        if self.shaping.partial:
            sub = (self.acc[:, None] == self.batch.subgoals) & self.batch.subgoal_valid
            reward += self.shaping.partial * (do_ans & ~correct & sub.any(1)).float()
        if self.shaping.process:
            new = (value[:, None] == self.batch.subgoals) & self.batch.subgoal_valid & ~self.hit
            new &= do_op[:, None]
            self.hit |= new
            reward += self.shaping.process * new.any(1).float()

        self.p = self.p + (do_op & ~self.armed) * torch.where(self.has_acc, 1, 2)
        self.mem = torch.where(do_sto, self.acc, self.mem)
        self.has_mem = self.has_mem | do_sto
        self.acc = torch.where(do_op, value, self.acc)
        self.has_acc = (self.has_acc | do_op) & ~do_sto
        self.armed = (self.armed & ~do_op) | do_rcl
        self.answer = torch.where(do_ans, self.acc, self.answer)
        self.answered = self.answered | do_ans
        self.steps = self.steps + live

        ended = live & (~ok | do_ans | (self.steps >= self.max_steps))
        self.done = self.done | ended
        self._legal = self._compute_legal()
        stuck = live & ~self.done & ~self._legal.any(1)
        self.done = self.done | stuck
        self._legal &= ~stuck[:, None]
        return reward, ended | stuck
