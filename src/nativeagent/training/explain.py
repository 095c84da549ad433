"""Show what a trained agent does: greedy programs with a register trace per context."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nativeagent.build import build_task_set
from nativeagent.config import Config
from nativeagent.models import Policy
from nativeagent.rollout import Rollout
from nativeagent.tasks.execution import execute
from nativeagent.tasks.taskset import Batch, TaskSet
from nativeagent.training.evaluate import greedy_rollout


@dataclass(frozen=True)
class Explanation:
    """One episode: its context, stated target, the greedy program and what the machine did."""

    stage: int  # curriculum stage (-1: held out)
    context: tuple[int, ...]
    target: int
    program: tuple[int, ...]
    answer: int | None
    correct: bool
    trace: str
    expression: str = ""
    show_expression: bool = False  # prefix the line with the expression (stages of several)

    def __str__(self) -> str:
        ctx = " ".join(map(str, self.context))
        line = f"{self.expression} " if self.show_expression else ""
        line += f"ctx=[{ctx}] target={self.target} | {self.trace}"
        if not self.trace.endswith(("✓", "✗")):
            line += " ✓" if self.correct else " ✗"
        return line


def explanations(
    tasks: TaskSet, batch: Batch, ro: Rollout, machine: str, max_steps: int
) -> list[Explanation]:
    """The decoded episodes ``ro`` of ``batch`` (tasks of ``tasks``), each traced on the
    reference ``machine``."""
    out = []
    for i in range(len(batch)):
        program = tuple(
            int(a) for a, alive in zip(ro.actions[i], ro.alive[i], strict=True) if alive
        )
        stage, task = int(batch.stage[i]), tasks.tasks[int(batch.task[i])]
        context = tuple(int(x) for x in batch.context[i, : task.n_operands])
        # The built-in stage index keeps seed-legacy traces; other tasks run on their profile.
        which = stage if tasks.is_builtin else task
        outcome = execute(program, context, which, machine, max_steps)
        trace = outcome.format_trace() or "(no tokens)"
        target = task.target(context)
        correct = outcome.answer == target
        several = len(tasks.stage_tasks(stage)) > 1
        out.append(
            Explanation(
                stage,
                context,
                target,
                program,
                outcome.answer,
                correct,
                trace,
                task.expression,
                several,
            )
        )
    return out


def explain(
    model: Policy, cfg: Config, stage: int, n: int, generator: torch.Generator
) -> list[Explanation]:
    """Decode ``n`` fresh contexts of ``stage`` (-1: held-out tasks) greedily and trace each
    program on the machine."""
    tasks = build_task_set(cfg)
    stages = torch.full((n,), stage, dtype=torch.long, device=generator.device)
    batch = tasks.sample(stages, generator)
    ro = greedy_rollout(model, cfg, batch)
    return explanations(tasks, batch, ro, cfg.machine.name, cfg.max_steps)
