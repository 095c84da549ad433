"""Show what a trained agent does: greedy programs with a register trace per context."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nativeagent.config import Config
from nativeagent.evaluate import greedy_rollout
from nativeagent.machine import execute
from nativeagent.models import Policy
from nativeagent.tasks import STAGES, sample_batch, stage_tensor


@dataclass(frozen=True)
class Explanation:
    """One episode: its context, stated target, the greedy program and what the machine did."""

    stage: int
    context: tuple[int, ...]
    target: int
    program: tuple[int, ...]
    answer: int | None
    correct: bool
    trace: str

    def __str__(self) -> str:
        ctx = " ".join(map(str, self.context))
        line = f"ctx=[{ctx}] target={self.target} | {self.trace}"
        if not self.trace.endswith(("✓", "✗")):
            line += " ✓" if self.correct else " ✗"
        return line


def explain(
    model: Policy, cfg: Config, stage: int, n: int, generator: torch.Generator
) -> list[Explanation]:
    """Decode ``n`` fresh contexts of ``stage`` greedily and trace each program on the machine."""
    batch = sample_batch(stage_tensor(stage, n, generator.device), generator)
    ro = greedy_rollout(model, cfg, batch)
    out = []
    for i in range(n):
        program = tuple(
            int(a) for a, alive in zip(ro.actions[i], ro.alive[i], strict=True) if alive
        )
        context = tuple(int(x) for x in batch.context[i, : STAGES[stage].n_operands])
        outcome = execute(program, context, stage, cfg.machine.name, cfg.machine.max_steps)
        trace = outcome.format_trace() or "(no tokens)"
        target = STAGES[stage].target(context)
        correct = outcome.answer == target
        out.append(Explanation(stage, context, target, program, outcome.answer, correct, trace))
    return out
