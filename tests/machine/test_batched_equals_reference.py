"""The batched machine equals the reference machine on random programs, for every profile
(hypothesis), including a profile built in this file from new rows: the table is all either
machine needs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch
from helpers import episode_batch
from hypothesis import given, settings
from hypothesis import strategies as st

from nativeagent.machine import CANONICAL, EXTENDED, Profile, ToolMachine, rules
from nativeagent.machine.reference import run_program
from nativeagent.machine.tools import EOS, operator_tool, recall_tool, store_tool


def larger(left: Any, right: Any) -> Any:
    """max(left, right) for ints and tensors alike: neither ``l * r`` nor ``l + c*r``."""
    return (left > right) * left + (left <= right) * right


#: A profile that exists only here: a third memory cell and an operator of neither fast form,
#: so the batched machine takes its general path for it.
WIDE = Profile(
    "wide",
    cells=("mem", "mem2", "mem3"),
    tools=(
        *EXTENDED.tools,
        operator_tool(21, "MAX", "^", 3, larger),
        store_tool(22, "STO3", "mem3"),
        recall_tool(23, "RCL3", "mem3"),
    ),
    max_steps=12,
    summary="extended plus a third cell and a maximum (tests only)",
)
PROFILES = {p.name: p for p in (CANONICAL, EXTENDED, WIDE)}


@dataclass(frozen=True)
class Episode:
    context: tuple[int, ...]
    target: int
    program: tuple[int, ...]


@st.composite
def episodes(draw: st.DrawFn, profile: Profile, width: int) -> Episode:
    """Contexts of 1..width digits; programs that are mostly legal walks (each step picks one
    of the tools legal then, mostly one that neither answers nor gets stuck, so that many use
    memory and then answer), now and then with any token at all. The walk comes from a seeded
    ``random.Random``: hypothesis picks the seed (its own random values lean towards simple
    ones, which walks do not want)."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    n = rnd.randint(1, width)
    context = tuple(rnd.randrange(10) for _ in range(n))
    state, program = rules.start(profile), []
    for _ in range(rnd.randint(0, 13)):
        legal = rules.legal(profile, state, n)
        if not legal or rnd.random() < 0.04:  # now and then, any token
            program.append(rnd.randrange(profile.vocab_size))
            continue
        moves = {t: rules.move(profile, t, state, n) for t in legal}
        after = {t: rules.apply(profile, m, state, list(context)) for t, m in moves.items() if m}
        going = [t for t in legal if not t.answers and rules.legal(profile, after[t], n)]
        tool = rnd.choice(legal if not going or rnd.random() < 0.2 else going)  # rarely stuck
        program.append(tool.token)
        if tool.answers:
            break
        state = after[tool]
    else:  # the walk ran its length without answering: mostly answer now, if ANS is legal
        answering = [t for t in rules.legal(profile, state, n) if t.answers]
        if answering and rnd.random() < 0.8:
            program.append(answering[0].token)
    target = rnd.choice([rnd.randint(-20, 100), sum(context)])
    return Episode(context, target, tuple(program))


@st.composite
def batches(draw: st.DrawFn) -> tuple[Profile, int | None, list[Episode]]:
    profile = PROFILES[draw(st.sampled_from(sorted(PROFILES)))]
    width = draw(st.integers(1, 8))
    max_steps = draw(st.one_of(st.none(), st.none(), st.integers(1, 14)))
    return profile, max_steps, draw(st.lists(episodes(profile, width), min_size=1, max_size=40))


def run_batched(
    profile: Profile, max_steps: int | None, eps: list[Episode]
) -> dict[str, list[Any]]:
    """Step every episode at once, EOS-padded; check the protocol and the legal masks each step."""
    length = max(len(e.program) for e in eps) + 1
    batch = episode_batch([e.context for e in eps], [e.target for e in eps])
    machine = ToolMachine(profile, max_steps)
    machine.reset(batch)
    states = [rules.start(profile) for _ in eps]
    total = torch.zeros(len(eps))
    for t in range(length):
        actions = [e.program[t] if t < len(e.program) else EOS for e in eps]
        legal, was_done = machine.legal(), machine.done.clone()
        for i, e in enumerate(eps):
            want = (
                set()
                if was_done[i]
                else {x.token for x in rules.legal(profile, states[i], len(e.context))}
            )
            assert set(torch.nonzero(legal[i]).flatten().tolist()) == want, (profile.name, e, t)
        reward, done = machine.step(torch.tensor(actions))
        assert torch.equal(done, machine.done & ~was_done), (
            "done flags mark the episodes ending now"
        )
        assert not reward[was_done].any(), "a finished episode was rewarded"
        total += reward
        for i, e in enumerate(eps):
            tool = profile.by_token.get(actions[i])
            m = rules.move(profile, tool, states[i], len(e.context)) if tool else None
            if not was_done[i] and m is not None and not m.answers:
                states[i] = rules.apply(profile, m, states[i], list(e.context))
    answered = machine.answered.tolist()
    return {
        "answer": [
            a if ok else None for a, ok in zip(machine.answer.tolist(), answered, strict=True)
        ],
        "reward": total.tolist(),
        "steps": machine.steps.tolist(),
        "done": machine.done.tolist(),
    }


@settings(max_examples=150, deadline=None)
@given(batches())
def test_batched_equals_reference_on_random_programs(
    case: tuple[Profile, int | None, list[Episode]],
) -> None:
    profile, max_steps, eps = case
    got = run_batched(profile, max_steps, eps)
    length = max(len(e.program) for e in eps) + 1
    for i, e in enumerate(eps):
        padded = [*e.program, *[EOS] * (length - len(e.program))]
        out = run_program(profile, padded, e.context, e.target, max_steps)
        plain = run_program(profile, e.program, e.context, e.target, max_steps)
        assert (plain.answer, plain.correct) == (out.answer, out.correct)  # padding changes neither
        where = (profile.name, max_steps, e)
        assert got["answer"][i] == out.answer, where
        assert got["reward"][i] == out.reward, where
        assert got["steps"][i] == out.steps, where
        assert got["done"][i], where  # one EOS more than the longest program ends every episode


def test_a_new_operator_row_works_on_both_machines() -> None:
    # (a ^ b) * c with ^ the maximum: MAX MUL ANS, and MAX only in the table built above.
    program = [WIDE.tool(n).token for n in ("MAX", "MUL", "ANS")]
    out = run_program(WIDE, program, [3, 8, 2], target=16)
    assert (out.answer, out.correct, out.format_trace()) == (
        16,
        True,
        "MAX acc=8 · MUL acc=16 · ANS ✓",
    )
    got = run_batched(WIDE, None, [Episode((3, 8, 2), 16, tuple(program))])
    assert got["answer"] == [16] and got["reward"] == [1.0]


def test_a_third_cell_row_works_on_both_machines() -> None:
    names = ["MUL", "STO3", "MUL", "STO2", "LOAD", "RCL3", "SUB", "RCL2", "ADD", "ANS"]
    program = [WIDE.tool(n).token for n in names]
    # a*b -> mem3, c*d -> mem2, e; mem3 - e; mem2 + that: (1*2 - 5) + 3*4 = 9
    out = run_program(WIDE, program, [1, 2, 3, 4, 5], target=9)
    assert (out.answer, out.correct) == (9, True)
    assert "STO3 mem3=2" in out.trace and "RCL3" in out.trace
    got = run_batched(WIDE, None, [Episode((1, 2, 3, 4, 5), 9, tuple(program))])
    assert got["answer"] == [9] and got["reward"] == [1.0]
