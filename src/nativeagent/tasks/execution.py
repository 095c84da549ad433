"""``execute``: run one program on one context of a task, on any machine (the reference machines).

>>> outcome = execute(["MUL", "ADD", "ANS"], [4, 2, 7], stage=0)
>>> outcome.answer, outcome.correct, outcome.steps, outcome.format_trace()
(15, True, 3, 'MUL acc=8 · ADD acc=15 · ANS ✓')
>>> execute(["SUB", "MUL", "ANS"], [9, 2, 3], "(a-b)*c").format_trace()
'SUB acc=7 · MUL acc=21 · ANS ✓'
>>> program = ["LOAD", "STO", "ADD", "RCL", "MUL", "ANS"]
>>> execute(program, [3, 4, 5], "a*(b+c)", machine="extended").answer
27
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nativeagent.machine.legacy import LEGACY_MAX_STEPS, run_legacy
from nativeagent.machine.machines import check_max_steps
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.reference import run_program
from nativeagent.machine.tools import LEGACY, check_machine, profile
from nativeagent.tasks.task import STAGES, Task, check_stage
from nativeagent.tokens import parse_token


def check_context(context: object, task: Task, what: str) -> list[int]:
    """``context`` as a list of ``task``'s digits, or ``ValueError`` naming ``what`` needs."""
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
    (on a tool profile, ``canonical`` or ``extended``; the tutorial's ``seed-legacy`` knows the
    built-in stages alone). ``max_steps`` defaults to the machine's own limit.
    """
    check_machine(machine)
    if isinstance(stage, (str, Task)):
        if machine == LEGACY:
            raise ValueError(f"machine {machine!r} runs only the built-in stages 0..2")
        task = Task.parse(stage) if isinstance(stage, str) else stage
        what = f"task {task.expression}"
    else:
        stage = check_stage(stage)
        task, what = STAGES[stage], f"stage {stage}"
    x = check_context(context, task, what)
    if isinstance(program, torch.Tensor):
        program = program.tolist()
    if isinstance(program, (str, bytes)) or not isinstance(program, Sequence):
        raise ValueError(f"program must be a sequence of tokens, got {type(program).__name__}")
    tools = profile(machine)
    tokens = [parse_token(t, tools.vocab_size) for t in program]
    check_max_steps(max_steps)
    if machine == LEGACY:
        assert isinstance(stage, int)
        return run_legacy(tokens, x, stage, max_steps or LEGACY_MAX_STEPS)
    return run_program(tools, tokens, x, task.target(x), max_steps)


__all__ = ["check_context", "execute"]
