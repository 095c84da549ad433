"""Tool machines: the canonical one and the tutorial's ``seed-legacy``, batched and single."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nativeagent.machine.base import BatchedMachine
from nativeagent.machine.canonical import CanonicalMachine, Shaping
from nativeagent.machine.legacy import LegacyMachine
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.reference import (
    CANONICAL_MAX_STEPS,
    LEGACY_MAX_STEPS,
    run_canonical,
    run_legacy,
)
from nativeagent.tasks import STAGES, Task, check_stage
from nativeagent.tokens import parse_token

MACHINES = ("canonical", "seed-legacy")


def check_machine(machine: object) -> str:
    """Return ``machine`` if it names a machine, else raise ``ValueError`` listing the names."""
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r}; choose one of {', '.join(MACHINES)}")
    return str(machine)


def make_machine(
    machine: str, max_steps: int | None = None, shaping: Shaping | None = None
) -> BatchedMachine:
    """A batched machine by name; ``shaping`` applies to the canonical machine only."""
    _check_max_steps(max_steps)
    if check_machine(machine) == "canonical":
        steps = CANONICAL_MAX_STEPS if max_steps is None else max_steps
        return CanonicalMachine(steps, shaping or Shaping())
    return LegacyMachine(LEGACY_MAX_STEPS if max_steps is None else max_steps)


def _check_max_steps(max_steps: object) -> None:
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
    ):
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")


def _check_context(context: object, task: Task, what: str) -> list[int]:
    if isinstance(context, torch.Tensor):
        context = context.tolist()
    if isinstance(context, (str, bytes)) or not isinstance(context, Sequence):
        raise ValueError(f"context must be a sequence of digits, got {type(context).__name__}")
    want = task.n_operands
    if len(context) != want:
        raise ValueError(f"{what} needs a context of {want} digits, got {len(context)}")
    for digit in context:
        if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit <= 9:
            raise ValueError(f"context digits must be ints 0..9, got {digit!r}")
    return list(context)


def execute(
    program: Sequence[int | str],
    context: Sequence[int],
    stage: int | str | Task,
    machine: str = "canonical",
    max_steps: int | None = None,
) -> Outcome:
    """Run one program (token ids, or names like ``"MUL"``) on one context.

    ``stage`` is a built-in stage (0, 1, 2) or any task: an expression such as ``"(a-b)*c"``
    (canonical machine only; the tutorial's ``seed-legacy`` knows the built-in stages alone).

    >>> outcome = execute(["MUL", "ADD", "ANS"], [4, 2, 7], stage=0)
    >>> outcome.answer, outcome.correct, outcome.steps, outcome.format_trace()
    (15, True, 3, 'MUL acc=8 · ADD acc=15 · ANS ✓')
    >>> execute(["SUB", "MUL", "ANS"], [9, 2, 3], "(a-b)*c").format_trace()
    'SUB acc=7 · MUL acc=21 · ANS ✓'
    """
    check_machine(machine)
    if isinstance(stage, (str, Task)):
        if machine != "canonical":
            raise ValueError(f"machine {machine!r} runs only the built-in stages 0..2")
        task = Task.parse(stage) if isinstance(stage, str) else stage
        what = f"task {task.expression}"
    else:
        stage = check_stage(stage)
        task, what = STAGES[stage], f"stage {stage}"
    x = _check_context(context, task, what)
    if isinstance(program, torch.Tensor):
        program = program.tolist()
    if isinstance(program, (str, bytes)) or not isinstance(program, Sequence):
        raise ValueError(f"program must be a sequence of tokens, got {type(program).__name__}")
    tokens = [parse_token(t) for t in program]
    _check_max_steps(max_steps)
    if machine == "canonical":
        return run_canonical(tokens, x, task, max_steps or CANONICAL_MAX_STEPS)
    assert isinstance(stage, int)
    return run_legacy(tokens, x, stage, max_steps or LEGACY_MAX_STEPS)


__all__ = [
    "MACHINES",
    "BatchedMachine",
    "CanonicalMachine",
    "LegacyMachine",
    "Outcome",
    "Shaping",
    "check_machine",
    "execute",
    "make_machine",
]
