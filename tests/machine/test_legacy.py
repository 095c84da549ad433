"""The tutorial's reward function kept as ``seed-legacy`` (docs/machine.md), quirks included, by
hand."""

from __future__ import annotations

import random

import pytest
import torch
from batch_runner import Episode, pad, run_batched

from nativeagent import execute
from nativeagent.machine import LegacyMachine, make_machine
from nativeagent.tasks import STAGES, sample_batch
from nativeagent.tokens import ANS, EOS, MUL, TOOLS, VOCAB_SIZE, parse_token

# (stage, context, program, answer, correct, reward, steps); rewards as the tutorial computes
# them: [last == rewarded target] + 0.2 * shaped.
CASES: list[tuple[int, list[int], str, int | None, bool, float, int]] = [
    # Stage 0, a b c = 4 2 7: g0 = a*b = 8, g1 = g0+c = 15; the rewarded target is a*b = 8.
    (0, [4, 2, 7], "MUL ANS", 8, True, 1 + 0.2 * 0.25, 2),  # last = g0: 1.05
    (0, [4, 2, 7], "MUL ADD ANS", 15, False, 0.2 * 0.5, 3),  # the stated target: only 0.1
    (0, [4, 2, 0], "MUL ADD ANS", 8, True, 1 + 0.2 * (0.25 + 0.5), 3),  # c = 0: 8 = g0 = g1
    (0, [4, 2, 7], "ADD MUL ANS", 8, True, 1 + 0.2 * 0.25, 3),  # ADD before MUL does nothing
    (0, [4, 2, 7], "SUB ADD MUL ANS", 8, True, 1 + 0.2 * 0.25, 4),  # so does SUB
    (0, [4, 2, 7], "MUL MUL ANS", 8, True, 1 + 0.2 * 0.25, 3),  # stage 0: last * 1
    (0, [4, 2, 7], "MUL SUB ANS", 8, True, 1 + 0.2 * 0.25, 3),  # stage 0: last - 0
    (0, [4, 2, 7], "MUL ADD SUB ANS", 15, False, 0.2 * 0.5, 4),
    (0, [4, 2, 7], "STO RCL ANS", 0, False, 0.0, 3),  # RCL with last None: last = 0
    (0, [0, 5, 3], "STO RCL ANS", 0, True, 1 + 0.2 * 0.25, 3),  # ... which is a*b = 0 here
    (0, [4, 2, 7], "RCL ANS", None, False, 0.0, 2),  # RCL with mem None does nothing
    (0, [4, 2, 7], "MUL STO RCL ANS", 8, True, 1 + 0.2 * 0.25, 4),  # last truthy: kept
    (0, [4, 2, 7], "STO SUB ADD ANS", None, False, 0.0, 4),  # "ok" marker: SUB, ADD no-ops
    (0, [4, 2, 7], "ANS", None, False, 0.0, 1),  # last None: never correct
    (0, [4, 2, 7], "ANS MUL ANS", None, False, 0.0, 1),  # the first ANS ends the episode
    (0, [4, 2, 7], "3 CTX EOS MUL ANS", 8, True, 1 + 0.2 * 0.25, 5),  # non-tools are steps
    (0, [4, 2, 7], "MUL MUL MUL MUL MUL MUL ANS", 8, True, 1 + 0.2 * 0.25, 7),  # ANS 7th: paid
    (0, [4, 2, 7], "1 2 3 4 5 6 MUL ANS", None, False, 0.0, 7),  # ANS 8th: past the limit
    (0, [4, 2, 7], "MUL ADD", None, False, 0.0, 2),  # no ANS: 0
    # Stage 1, a b c d = 4 2 7 3: g0 = 8, g1 = 15, g2 = 12; rewarded a*b+c = 15, stated 12.
    (1, [4, 2, 7, 3], "MUL ADD ANS", 15, True, 1 + 0.2 * 0.5, 3),
    (1, [4, 2, 7, 3], "MUL ADD SUB ANS", 12, False, 0.2 * 0.75, 4),  # stated target, g2 only
    (1, [4, 2, 7, 3], "MUL ANS", 8, False, 0.2 * 0.25, 2),
    (1, [4, 2, 7, 3], "MUL MUL ANS", 24, False, 0.0, 3),  # stage > 0: last * d = 8*3
    (1, [4, 2, 7, 3], "MUL STO SUB ANS", 5, False, 0.0, 4),  # "use d" but stage 1: 8 - d
    (1, [4, 2, 7, 3], "MUL STO RCL ANS", 8, False, 0.2 * 0.25, 4),  # stage 1: RCL keeps last
    (1, [4, 2, 7, 3], "STO RCL ADD ANS", 7, False, 0.0, 4),  # RCL: last = 0; + c = 7
    # Stage 2, a b c d e = 2 3 5 7 4: g0 = 6, g1 = 11, rewarded g1-d = 4, g3 = d*e = 28,
    # g4 = g1-g3 = -17 (the stated target).
    (2, [2, 3, 5, 7, 4], "MUL ADD SUB ANS", 4, True, 1.0, 4),  # a*b+c-d is what pays
    (2, [2, 3, 5, 7, 4], "MUL ADD ANS", 11, False, 0.2 * 0.4, 3),
    (2, [2, 3, 5, 7, 4], "MUL ANS", 6, False, 0.2 * 0.2, 2),
    (2, [2, 3, 5, 7, 4], "MUL ADD STO SUB ANS", 7, False, 0.0, 5),  # after STO: 11 - e
    (2, [2, 3, 5, 7, 4], "MUL ADD STO RCL ANS", 28, False, 0.2 * 0.6, 5),  # RCL: last = d*e
    (2, [2, 3, 5, 7, 4], "STO RCL ANS", 28, False, 0.2 * 0.6, 3),
    # The canonical solution: 6, 11, STO, 11*d = 77, RCL d*e = 28, SUB e: 24. Nothing pays.
    (2, [2, 3, 5, 7, 4], "MUL ADD STO MUL RCL SUB ANS", 24, False, 0.0, 7),
    # a b c d e = 2 3 5 1 1: g1 - d = 10 = g1 - d*e = g4: correct plus the g4 bonus, 1.12.
    (2, [2, 3, 5, 1, 1], "MUL ADD SUB ANS", 10, True, 1 + 0.2 * 0.6, 4),
]


def names(program: str) -> list[int]:
    return [parse_token(t) for t in program.split()]


@pytest.mark.parametrize(
    ("stage", "context", "program", "answer", "correct", "reward", "steps"), CASES
)
def test_hand_worked_case(
    stage: int,
    context: list[int],
    program: str,
    answer: int | None,
    correct: bool,
    reward: float,
    steps: int,
) -> None:
    out = execute(program.split(), context, stage, machine="seed-legacy")
    assert (out.answer, out.correct, out.steps) == (answer, correct, steps)
    assert out.reward == reward  # exactly the tutorial's float


def test_the_hand_cases_hold_the_quoted_values() -> None:
    # Guard against a typo in the table: the values docs/machine.md quotes.
    assert CASES[0][5] == 1.05
    assert CASES[1][5] == 0.1
    assert CASES[-1][5] == pytest.approx(1.12)


def test_sto_marker() -> None:
    # STO stores a marker, not a value: "ok" at stage 0, "use d" from stage 1 on.
    assert "mem=ok" in execute(["STO"], [4, 2, 7], 0, machine="seed-legacy").trace[0]
    assert "mem=use d" in execute(["STO"], [4, 2, 7, 3], 1, machine="seed-legacy").trace[0]
    assert "mem=use d" in execute(["STO"], [4, 2, 7, 3, 5], 2, machine="seed-legacy").trace[0]
    # Only the stage-2 "use d" marker changes SUB and RCL (hand cases above); STO twice is STO.
    once = execute(names("MUL ADD STO RCL ANS"), [2, 3, 5, 7, 4], 2, machine="seed-legacy")
    twice = execute(names("MUL ADD STO STO RCL ANS"), [2, 3, 5, 7, 4], 2, machine="seed-legacy")
    assert once.answer == twice.answer == 28


def test_tokens_after_ans_and_past_the_limit_are_ignored() -> None:
    base = execute(names("MUL ANS"), [4, 2, 7], 0, machine="seed-legacy")
    for tail in ["ADD", "ANS", "STO RCL SUB", "EOS 9"]:
        out = execute(names(f"MUL ANS {tail}"), [4, 2, 7], 0, machine="seed-legacy")
        assert out == base
    seven = names("MUL ADD SUB MUL ADD SUB MUL")
    assert execute([*seven, ANS], [4, 2, 7], 0, machine="seed-legacy") == execute(
        seven, [4, 2, 7], 0, machine="seed-legacy"
    )
    # An explicit max_steps moves the limit.
    late = names("1 2 3 4 5 6 MUL ANS")
    assert execute(late, [4, 2, 7], 0, machine="seed-legacy", max_steps=8).reward == 1.05


def legacy_answers(context: list[int], stage: int, depth: int) -> set[int | None]:
    """Every value seed-legacy can answer within ``depth`` tools before ANS (search by state)."""
    frontier = {((), False)}  # (program, STO seen): with ``last`` that is the whole state
    seen: dict[tuple[int | None, bool], tuple[int, ...]] = {}
    for _ in range(depth + 1):
        grown = set()
        for program, stored in frontier:
            last = execute([*program, ANS], context, stage, machine="seed-legacy").answer
            if (last, stored) in seen:
                continue
            seen[last, stored] = program
            for tok in TOOLS:
                if tok != ANS:
                    grown.add(((*program, tok), stored or tok == parse_token("STO")))
        frontier = grown
    return {last for last, _ in seen}


def test_stated_stage2_target_is_not_what_pays() -> None:
    # a b c d e = 2 3 5 7 4: the stated target 11 - 28 = -17 is reached by accident, by
    # subtracting d e = 4 times: 11-7-7-7-7 = -17. It is not the rewarded target (4) and only
    # earns the g4 bonus 0.2*0.6.
    out = execute(names("MUL ADD SUB SUB SUB SUB ANS"), [2, 3, 5, 7, 4], 2, machine="seed-legacy")
    assert out.answer == STAGES[2].target([2, 3, 5, 7, 4]) == -17
    assert not out.correct and out.reward == 0.2 * 0.6
    # a b c d e = 2 3 5 7 9: no program of at most 6 tools before ANS gives 11 - 63 = -52.
    context = [2, 3, 5, 7, 9]
    reachable = legacy_answers(context, 2, depth=6)  # the 7-step limit leaves 6 before ANS
    assert {6, 11, 4, 63, 56} <= reachable  # g0, g1, g1-d, d*e, d*e-d: the search works
    assert STAGES[2].target(context) == -52
    assert -52 not in reachable


def random_programs(rng: random.Random, count: int) -> list[Episode]:
    episodes: list[Episode] = []
    for _ in range(count):
        stage = rng.randrange(3)
        context = [rng.randrange(10) for _ in range(STAGES[stage].n_operands)]
        vocab = list(TOOLS) if rng.random() < 0.5 else list(range(VOCAB_SIZE))
        program = [rng.choice(vocab) for _ in range(rng.randrange(11))]
        episodes.append((stage, context, program))
    return episodes


def test_batched_equals_execute_on_hand_cases() -> None:
    episodes = [(s, x, names(p)) for s, x, p, *_ in CASES]
    machine = make_machine("seed-legacy")
    reward = run_batched(machine, episodes).sum(0)
    for i, (stage, x, program, answer, _, want, _) in enumerate(CASES):
        assert float(reward[i]) == pytest.approx(want, abs=1e-5), (stage, x, program)
        got = int(machine.answer[i]) if machine.answered[i] else None
        assert got == answer, (stage, x, program)


def test_batched_equals_execute_on_random_programs() -> None:
    episodes = random_programs(random.Random(5), 3000)
    length = 10
    machine = LegacyMachine()
    reward = run_batched(machine, episodes, length).sum(0).tolist()
    paid = 0
    for i, (stage, x, program) in enumerate(episodes):
        out = execute(pad(program, length), x, stage, machine="seed-legacy")
        assert execute(program, x, stage, machine="seed-legacy").reward == out.reward  # EOS pad
        got = int(machine.answer[i]) if machine.answered[i] else None
        assert got == out.answer, (stage, x, program)
        assert int(machine.steps[i]) == out.steps, (stage, x, program)
        assert reward[i] == pytest.approx(out.reward, abs=1e-5), (stage, x, program)
        paid += out.reward > 0
    assert paid > 200  # rewards were really compared, not only zeros


def test_every_token_is_legal_until_done() -> None:
    machine = LegacyMachine()
    batch = sample_batch(torch.tensor([0, 1, 2]), torch.Generator().manual_seed(0))
    machine.reset(batch)
    assert bool(machine.legal().all()) and machine.legal().shape == (3, VOCAB_SIZE)
    machine.step(torch.tensor([ANS, MUL, EOS]))
    assert machine.legal().tolist() == [[False] * VOCAB_SIZE] + [[True] * VOCAB_SIZE] * 2
    with pytest.raises(ValueError, match="max_steps"):
        LegacyMachine(max_steps=0)
