"""Plain-Python reference implementations of both machines, one program at a time.

These are written for reading, not speed, and are the oracle that the batched machines are
tested against (and both are tested against independent vectors).
"""

from __future__ import annotations

from collections.abc import Sequence

from nativeagent.machine.outcome import Outcome
from nativeagent.tasks import Task
from nativeagent.tokens import ADD, ANS, MUL, OPS, RCL, STO, SUB, name

CANONICAL_MAX_STEPS = 8
LEGACY_MAX_STEPS = 7


def _apply(op: int, left: int, right: int) -> int:
    if op == MUL:
        return left * right
    if op == ADD:
        return left + right
    return left - right


def canonical_legal(acc: int | None, mem: int | None, p: int, armed: bool, n: int) -> set[int]:
    """The tools legal in a canonical-machine state (SPEC §2)."""
    legal: set[int] = set()
    if armed or (acc is None and p + 1 < n) or (acc is not None and p < n):
        legal |= set(OPS)
    if acc is not None and not armed:
        legal |= {STO, ANS}
        if mem is not None:
            legal.add(RCL)
    return legal


def run_canonical(
    program: Sequence[int], context: Sequence[int], task: Task, max_steps: int = CANONICAL_MAX_STEPS
) -> Outcome:
    """Run ``program`` on the canonical tool machine; correct means the task's stated target."""
    x, n = list(context), len(context)
    target = task.target(x)
    acc: int | None = None
    mem: int | None = None
    p, armed = 0, False
    trace: list[str] = []
    for t, tok in enumerate(program[:max_steps]):
        if tok not in canonical_legal(acc, mem, p, armed, n):
            trace.append(f"{name(tok)} ✗ illegal")
            return Outcome(None, False, 0.0, t + 1, tuple(trace))
        if tok in OPS:
            if armed:
                assert acc is not None and mem is not None
                acc, armed = _apply(tok, mem, acc), False
            elif acc is None:
                acc, p = _apply(tok, x[p], x[p + 1]), p + 2
            else:
                acc, p = _apply(tok, acc, x[p]), p + 1
            trace.append(f"{name(tok)} acc={acc}")
        elif tok == STO:
            mem, acc = acc, None
            trace.append(f"STO mem={mem}")
        elif tok == RCL:
            armed = True
            trace.append("RCL")
        else:  # ANS
            correct = acc == target
            trace.append("ANS ✓" if correct else "ANS ✗")
            return Outcome(acc, correct, float(correct), t + 1, tuple(trace))
        if not canonical_legal(acc, mem, p, armed, n):
            trace.append("stuck: no legal tool")
            return Outcome(None, False, 0.0, t + 1, tuple(trace))
    return Outcome(None, False, 0.0, min(len(program), max_steps), tuple(trace))


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
    """Run ``program`` through the tutorial's reward function exactly (SPEC §4).

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
        trace.append(f"{name(tok)} last={last}" + (f" mem={mem}" if tok == STO else ""))
    return Outcome(None, False, 0.0, min(len(program), max_steps), tuple(trace))
