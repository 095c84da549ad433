"""The canonical tool machine (docs/machine.md) rule by rule, through execute and the batched
machine."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest
import torch
from batch_runner import Episode, pad, run_batched
from helpers import canonical_legal

from nativeagent import execute
from nativeagent.machine import CANONICAL, Outcome, ToolMachine, make_machine
from nativeagent.tasks import STAGES, make_batch, sample_batch, stage_tensor
from nativeagent.tokens import (
    ADD,
    ANS,
    CTX,
    EOS,
    MUL,
    OPS,
    RCL,
    STO,
    SUB,
    TOOLS,
    VOCAB_SIZE,
    name,
    parse_token,
)

# Contexts with distinct digits, so a value shows which operands were read.
X0 = [7, 3, 2]  # target 7*3+2 = 23
X1 = [7, 3, 2, 5]  # target 23-5 = 18
X2 = [2, 3, 5, 7, 4]  # target (6+5)-(7*4) = -17
CONTEXTS = {0: X0, 1: X1, 2: X2}
NON_TOOLS = [*range(10), CTX, EOS]


def run(program: str, stage: int, max_steps: int | None = None) -> Outcome:
    """Run a space-separated program of token names on the stage's fixed context."""
    return execute(program.split(), CONTEXTS[stage], stage, max_steps=max_steps)


def assert_unsolved(out: Outcome, steps: int, ending: str) -> None:
    """Unsolved after ``steps``; ``ending`` is "TOKEN illegal", "stuck" or the last trace entry."""
    assert out.answer is None and not out.correct and out.reward == 0.0
    assert out.steps == steps
    if ending == "stuck":
        assert "stuck" in out.trace[-1], out.trace
    elif ending.endswith(" illegal"):  # the trace names the illegal token
        assert out.trace[-1].split()[0] == ending.split()[0], out.trace
        assert "illegal" in out.trace[-1], out.trace
    else:
        assert out.trace[-1] == ending


# --- the reference's legality table itself -------------------------------------------------


def test_canonical_legal_table() -> None:
    # (acc, mem, p, armed, n) -> legal tools
    assert canonical_legal(None, None, 0, False, 3) == {MUL, ADD, SUB}
    assert canonical_legal(None, None, 2, False, 3) == set()  # one operand left, acc empty
    assert canonical_legal(None, None, 3, False, 5) == {MUL, ADD, SUB}
    assert canonical_legal(5, None, 2, False, 3) == {MUL, ADD, SUB, STO, ANS}
    assert canonical_legal(5, None, 3, False, 3) == {STO, ANS}
    assert canonical_legal(5, 4, 3, False, 3) == {STO, ANS, RCL}
    assert canonical_legal(0, 0, 5, False, 5) == {STO, ANS, RCL}  # zero values are "set"
    assert canonical_legal(5, 4, 5, True, 5) == {MUL, ADD, SUB}
    assert canonical_legal(None, 4, 4, False, 5) == set()


# --- operators ------------------------------------------------------------------------------


@pytest.mark.parametrize(("op", "value"), [("MUL", 21), ("ADD", 10), ("SUB", 4)])
def test_op_with_empty_acc_reads_two_operands(op: str, value: int) -> None:
    # acc = x[0] op x[1] = 7 op 3; p = 2, so the next op reads x[2] = 2 (not x[1] = 3).
    out = run(f"{op} ADD ANS", 0)
    assert out.trace[:2] == (f"{op} acc={value}", f"ADD acc={value + 2}")
    assert out.answer == value + 2
    assert out.correct == (value + 2 == 23)


@pytest.mark.parametrize(("op", "value"), [("MUL", 42), ("ADD", 23), ("SUB", 19)])
def test_op_with_acc_set_reads_one_operand(op: str, value: int) -> None:
    # MUL: acc = 7*3 = 21, p = 2; op: acc = 21 op x[2] = 21 op 2; p = 3; ADD: + x[3] = 5.
    out = run(f"MUL {op} ADD ANS", 1)
    assert out.trace == ("MUL acc=21", f"{op} acc={value}", f"ADD acc={value + 5}", "ANS ✗")
    assert out.answer == value + 5 and out.steps == 4


def test_ops_walk_the_cursor_to_the_end() -> None:
    # 2*3 = 6, 6+5 = 11, 11-7 = 4, 4*4 = 16; then p = 5 = n and no op is legal.
    out = run("MUL ADD SUB MUL ANS", 2)
    assert out.trace == ("MUL acc=6", "ADD acc=11", "SUB acc=4", "MUL acc=16", "ANS ✗")
    assert out.answer == 16
    assert_unsolved(run("MUL ADD SUB MUL ADD", 2), 5, "ADD illegal")


@pytest.mark.parametrize(
    "prefix", ["MUL ADD", "MUL SUB", "ADD ADD", "MUL ADD SUB", "MUL ADD SUB MUL"]
)
@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
def test_op_illegal_when_operands_are_used_up(prefix: str, op: str) -> None:
    stage = {2: 0, 3: 1, 4: 2}[len(prefix.split())]  # prefixes that read all n operands
    assert_unsolved(run(f"{prefix} {op} ANS", stage), len(prefix.split()) + 1, f"{op} illegal")


@pytest.mark.parametrize(
    ("op", "value"),
    [("MUL", 210), ("ADD", 41), ("SUB", -29)],  # SUB is mem - acc = 6 - 35, not 35 - 6
)
def test_armed_op_computes_mem_op_acc(op: str, value: int) -> None:
    # MUL 6; STO mem=6; MUL acc = x[2]*x[3] = 35 (p = 4); RCL; op: acc = 6 op 35 (p stays 4);
    # ADD then still reads x[4] = 4.
    out = run(f"MUL STO MUL RCL {op} ADD ANS", 2)
    assert out.trace == (
        "MUL acc=6",
        "STO mem=6",
        "MUL acc=35",
        "RCL",
        f"{op} acc={value}",
        f"ADD acc={value + 4}",
        "ANS ✗",
    )
    assert out.answer == value + 4


def test_armed_op_disarms() -> None:
    # After RCL SUB the machine is disarmed: ANS, STO and another RCL are legal again.
    assert run("MUL STO MUL RCL SUB ANS", 2).answer == -29
    assert "STO mem=-29" in run("MUL STO MUL RCL SUB STO", 2).trace
    # RCL again: 6 - (-29) = 35.
    assert run("MUL STO MUL RCL SUB RCL SUB ANS", 2).answer == 35


def test_armed_op_needs_no_operand() -> None:
    # Stage 1: MUL 21; STO; MUL 2*5 = 10 reads the last two operands (p = 4 = n).
    # RCL ADD: 21 + 10 = 31 is legal with no operand left; a plain ADD then is not.
    out = run("MUL STO MUL RCL ADD ANS", 1)
    assert out.trace[-2:] == ("ADD acc=31", "ANS ✗") and out.answer == 31
    assert_unsolved(run("MUL STO MUL RCL ADD ADD", 1), 6, "ADD illegal")


# --- STO, RCL, ANS --------------------------------------------------------------------------


def test_sto_moves_acc_to_mem_and_empties_acc() -> None:
    assert run("MUL STO", 2).trace == ("MUL acc=6", "STO mem=6")
    assert_unsolved(run("MUL STO ANS", 2), 3, "ANS illegal")  # acc is empty
    assert_unsolved(run("MUL STO STO", 2), 3, "STO illegal")
    # With acc empty the next op reads two operands: x[2] + x[3] = 12; then 6 - 12 = -6.
    out = run("MUL STO ADD RCL SUB ANS", 2)
    assert out.trace[2:] == ("ADD acc=12", "RCL", "SUB acc=-6", "ANS ✗")
    assert out.answer == -6


def test_sto_overwrites_mem() -> None:
    # MUL 6; STO mem=6; MUL 35; RCL ADD 41; STO mem=41 (then stuck: acc empty, one operand).
    out = run("MUL STO MUL RCL ADD STO", 2)
    assert out.trace[-2] == "STO mem=41"
    assert_unsolved(out, 6, "stuck")


def test_rcl_needs_acc_and_mem() -> None:
    assert_unsolved(run("RCL", 2), 1, "RCL illegal")
    assert_unsolved(run("MUL RCL", 2), 2, "RCL illegal")  # no mem
    assert_unsolved(run("MUL STO RCL", 2), 3, "RCL illegal")  # no acc
    assert run("MUL STO MUL RCL", 2).trace == ("MUL acc=6", "STO mem=6", "MUL acc=35", "RCL")


def test_ans_needs_acc() -> None:
    assert_unsolved(run("ANS", 0), 1, "ANS illegal")
    assert_unsolved(run("MUL STO ANS", 1), 3, "ANS illegal")
    out = run("MUL ANS", 0)
    assert (out.answer, out.correct, out.reward, out.steps) == (21, False, 0.0, 2)


@pytest.mark.parametrize("tool", ["STO", "RCL", "ANS"])
def test_sto_rcl_ans_illegal_while_armed(tool: str) -> None:
    assert_unsolved(run(f"MUL STO MUL RCL {tool} ADD ANS", 2), 5, f"{tool} illegal")


@pytest.mark.parametrize("stage", [0, 1, 2])
@pytest.mark.parametrize("tool", ["STO", "RCL", "ANS"])
def test_sto_rcl_ans_illegal_at_start(stage: int, tool: str) -> None:
    assert_unsolved(run(f"{tool} MUL ADD ANS", stage), 1, f"{tool} illegal")


@pytest.mark.parametrize("token", NON_TOOLS)
@pytest.mark.parametrize("prefix", ["", "MUL", "MUL STO", "MUL STO MUL RCL", "MUL ADD"])
def test_digits_ctx_eos_are_never_legal(token: int, prefix: str) -> None:
    program = [*prefix.split(), token, ANS]
    out = execute(program, X2, 2)
    assert_unsolved(out, len(prefix.split()) + 1, f"{name(token)} illegal")


# --- how episodes end -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "program"),
    [(0, "MUL STO"), (1, "MUL ADD STO"), (1, "ADD SUB STO"), (2, "MUL ADD SUB STO")],
)
def test_stuck_state_ends_unsolved(stage: int, program: str) -> None:
    # After STO acc is empty and fewer than two operands are left: no tool is legal.
    n = len(program.split())
    out = run(program, stage)
    assert_unsolved(out, n, "stuck")
    assert out.trace[n - 1].startswith("STO mem=")
    # Whatever follows is never run.
    assert run(f"{program} ADD ANS", stage) == out


def test_stage0_mul_sto_trace() -> None:
    out = run("MUL STO", 0)
    assert out.trace[:2] == ("MUL acc=21", "STO mem=21")
    assert_unsolved(out, 2, "stuck")


# Stage 2: MUL 6; STO; MUL 35 (p=4); RCL ADD 41; RCL ADD 47; ADD 47 + x[4] = 51 (p=5).
EIGHT_NO_ANS = "MUL STO MUL RCL ADD RCL ADD ADD"


def test_ans_must_come_within_max_steps() -> None:
    assert run(f"{EIGHT_NO_ANS}", 2).answer is None
    late = run(f"{EIGHT_NO_ANS} ANS", 2)  # ANS is the 9th token: ignored
    assert_unsolved(late, 8, "ADD acc=51")
    assert len(late.trace) == 8
    assert run(f"{EIGHT_NO_ANS} ANS", 2, max_steps=9).answer == 51
    # ANS as the 8th token still counts (stage 1: 21 - (21 + 10) = -10).
    assert run("MUL STO MUL RCL ADD RCL SUB ANS", 1).answer == -10
    assert run("MUL STO MUL RCL ADD RCL SUB ANS", 1, max_steps=7).answer is None


def test_tokens_past_max_steps_are_ignored() -> None:
    loop = "MUL STO MUL" + " RCL ADD" * 5  # legal forever, never answers
    out = run(f"{loop} ANS STO 3", 2)
    assert_unsolved(out, 8, "RCL")
    assert out == run(" ".join(loop.split()[:8]), 2)
    # An illegal token beyond the limit is never reached either.
    assert run(f"{EIGHT_NO_ANS} EOS", 2) == run(EIGHT_NO_ANS, 2)
    assert run("MUL ADD ANS", 0, max_steps=2) == run("MUL ADD", 0)


def test_tokens_after_ans_are_ignored() -> None:
    out = run("MUL ADD ANS", 0)
    assert out == Outcome(23, True, 1.0, 3, ("MUL acc=21", "ADD acc=23", "ANS ✓"))
    for tail in ["EOS", "3 CTX", "STO RCL", "ANS ANS", "MUL MUL MUL MUL MUL"]:
        assert run(f"MUL ADD ANS {tail}", 0) == out


def test_empty_and_short_programs_are_unsolved() -> None:
    assert run("", 0) == Outcome(None, False, 0.0, 0, ())
    assert run("MUL ADD", 0) == Outcome(None, False, 0.0, 2, ("MUL acc=21", "ADD acc=23"))


def test_tools_do_not_depend_on_the_stage() -> None:
    # The same program on the same first digits gives the same values at every stage.
    for program in ["MUL ANS", "SUB ANS", "ADD MUL ANS", "MUL SUB ANS"]:
        answers = {
            s: execute(program.split(), [7, 3, 2, 5, 4][: s + 3], s).answer for s in range(3)
        }
        assert len(set(answers.values())) == 1, (program, answers)


def test_spec_explain_example_trace() -> None:
    out = execute(STAGES[2].shortest_program(), [4, 2, 7, 3, 5], 2)
    want = "MUL acc=8 · ADD acc=15 · STO mem=15 · MUL acc=15 · RCL · SUB acc=0 · ANS ✓"
    assert out.format_trace() == want
    assert (out.answer, out.correct, out.reward, out.steps) == (0, True, 1.0, 7)


# --- the batched machine on the same hand cases ---------------------------------------------

HAND_CASES: list[tuple[int, str, int | None, int]] = [
    # (stage, program, answer, steps) on CONTEXTS[stage]
    (0, "MUL ADD ANS", 23, 3),
    (0, "SUB ADD ANS", 6, 3),
    (1, "MUL SUB ADD ANS", 24, 4),
    (2, "MUL ADD SUB MUL ANS", 16, 5),
    (2, "MUL STO MUL RCL SUB ADD ANS", -25, 7),
    (2, "MUL STO MUL RCL MUL ANS", 210, 6),
    (2, "MUL STO ADD RCL SUB ANS", -6, 6),
    (1, "MUL STO MUL RCL ADD ANS", 31, 6),
    (1, "MUL STO MUL RCL ADD RCL SUB ANS", -10, 8),
    (2, f"{EIGHT_NO_ANS} ANS", None, 8),
    (0, "MUL STO ADD ANS", None, 2),
    (0, "ANS", None, 1),
    (2, "MUL STO MUL RCL ANS", None, 5),
    (2, "MUL ADD SUB MUL ADD", None, 5),
    (2, "MUL 3 ANS", None, 2),
    (2, "MUL ADD STO MUL RCL SUB ANS", -17, 7),
    (0, "MUL ADD ANS STO STO", 23, 3),
]


def test_hand_cases_execute() -> None:
    for stage, program, answer, steps in HAND_CASES:
        out = run(program, stage)
        assert (out.answer, out.steps) == (answer, steps), (stage, program, out)
        assert out.correct == (answer == STAGES[stage].target(CONTEXTS[stage]))


def test_hand_cases_batched() -> None:
    episodes = [(s, CONTEXTS[s], [parse_token(t) for t in p.split()]) for s, p, _, _ in HAND_CASES]
    machine = make_machine("canonical")
    reward = run_batched(machine, episodes, length=10).sum(0)
    for i, (stage, program, answer, steps) in enumerate(HAND_CASES):
        got = int(machine.answer[i]) if machine.answered[i] else None
        assert (got, int(machine.steps[i])) == (answer, steps), (stage, program)
        assert float(reward[i]) == float(answer == STAGES[stage].target(CONTEXTS[stage]))
    assert bool(machine.done.all())


def test_batched_steps_and_done_step_by_step() -> None:
    episodes: list[Episode] = [
        (0, X0, [MUL, ADD, ANS]),  # answers at step 3
        (2, X2, [MUL, RCL, ANS]),  # illegal at step 2
        (0, X0, [MUL, STO, ADD]),  # stuck after step 2
        (2, X2, [parse_token(t) for t in EIGHT_NO_ANS.split()] + [ANS]),  # limit at step 8
        (1, X1, [MUL]),  # runs out; the [EOS] pad at step 2 is illegal
    ]
    machine = make_machine("canonical")
    batch_done = []
    contexts = torch.full((5, 5), EOS)
    for i, (_, x, _) in enumerate(episodes):
        contexts[i, : len(x)] = torch.tensor(x)
    machine.reset(make_batch(contexts, torch.tensor([s for s, _, _ in episodes])))
    actions = torch.tensor([pad(p, 10) for _, _, p in episodes])
    for t in range(10):
        machine.step(actions[:, t])
        batch_done.append(machine.done.tolist())
    ended_at = [next(t + 1 for t in range(10) if batch_done[t][i]) for i in range(5)]
    assert ended_at == [3, 2, 2, 8, 2]
    assert machine.steps.tolist() == [3, 2, 2, 8, 2]
    assert machine.answered.tolist() == [True, False, False, False, False]
    assert [execute(pad(p, 10), x, s).steps for s, x, p in episodes] == [3, 2, 2, 8, 2]


def test_max_steps_of_the_batched_machine() -> None:
    program = [MUL, STO, MUL, RCL, ADD, RCL, SUB, ANS]
    for max_steps, answered in [(8, True), (7, False), (9, True)]:
        machine = ToolMachine(CANONICAL, max_steps=max_steps)
        run_batched(machine, [(1, X1, program)], length=10)
        assert bool(machine.answered[0]) == answered
        assert int(machine.steps[0]) == min(8, max_steps)
    with pytest.raises(ValueError, match="max_steps"):
        ToolMachine(CANONICAL, max_steps=0)


# --- legal() against the reference legality, state by state --------------------------------


@dataclass(frozen=True)
class State:
    """The documented state (docs/machine.md), tracked independently of both implementations."""

    acc: int | None = None
    mem: int | None = None
    p: int = 0
    armed: bool = False


def spec_step(s: State, tok: int, x: list[int]) -> State:
    """One legal tool on state ``s`` exactly as docs/machine.md's table says (ANS leaves it
    unchanged)."""

    def apply(left: int, right: int) -> int:
        return {MUL: left * right, ADD: left + right, SUB: left - right}[tok]

    if tok in OPS:
        if s.armed:
            assert s.acc is not None and s.mem is not None
            return replace(s, acc=apply(s.mem, s.acc), armed=False)
        if s.acc is None:
            return replace(s, acc=apply(x[s.p], x[s.p + 1]), p=s.p + 2)
        return replace(s, acc=apply(s.acc, x[s.p]), p=s.p + 1)
    if tok == STO:
        return replace(s, mem=s.acc, acc=None)
    if tok == RCL:
        return replace(s, armed=True)
    return s


def test_legal_mask_matches_reference_along_random_walks() -> None:
    rng = random.Random(11)
    gen = torch.Generator().manual_seed(11)
    size = 1000
    batch = sample_batch(torch.arange(size) % 3, gen)
    machine = ToolMachine(CANONICAL)
    machine.reset(batch)
    contexts = [batch.context[i, : int(batch.n_operands[i])].tolist() for i in range(size)]
    states = [State() for _ in range(size)]
    alive = [True] * size
    answers: list[int | None] = [None] * size
    seen = {"checked": 0, "armed": 0, "mem": 0, "stuck": 0}
    for t in range(9):
        mask = machine.legal()
        assert mask.shape == (size, VOCAB_SIZE) and mask.dtype == torch.bool
        actions = []
        for i in range(size):
            row = set(torch.nonzero(mask[i]).flatten().tolist())
            if not alive[i]:
                assert row == set()
                actions.append(EOS)
                continue
            s = states[i]
            assert row == canonical_legal(s.acc, s.mem, s.p, s.armed, len(contexts[i])), (i, s)
            seen["checked"] += 1
            seen["armed"] += s.armed
            seen["mem"] += s.mem is not None
            # Mostly legal tools other than ANS (deep walks), sometimes ANS or any token.
            pool = sorted(row - {ANS}) or [ANS]
            if rng.random() < 0.15:
                pool = [ANS] if ANS in row and rng.random() < 0.5 else list(range(VOCAB_SIZE))
            tok = rng.choice(pool)
            actions.append(tok)
            if tok not in row or tok == ANS:
                alive[i] = False
                answers[i] = s.acc if tok in row else None
            else:
                states[i] = spec_step(s, tok, contexts[i])
                s = states[i]
                if not canonical_legal(s.acc, s.mem, s.p, s.armed, len(contexts[i])):
                    alive[i] = False  # stuck
                    seen["stuck"] += 1
        machine.step(torch.tensor(actions))
        if t + 1 == 8:  # max_steps: every episode still running ends unsolved
            alive = [False] * size
        assert machine.done.tolist() == [not a for a in alive], t
    # The walks went deep and met every kind of state, not just the start.
    assert seen["checked"] > 2500 and seen["armed"] > 40, seen
    assert seen["mem"] > 300 and seen["stuck"] > 30, seen
    got = [int(a) if ok else None for a, ok in zip(machine.answer, machine.answered, strict=True)]
    assert got == answers
    assert sum(a is not None for a in answers) > 100
    assert bool(machine.done.all())


# --- the shortest programs on many contexts ------------------------------------------------


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_shortest_programs_solve_1000_contexts(stage: int) -> None:
    gen = torch.Generator().manual_seed(1000 + stage)
    batch = sample_batch(stage_tensor(stage, 1000), gen)
    program = list(STAGES[stage].shortest_program())
    n = STAGES[stage].n_operands
    contexts = [batch.context[i, :n].tolist() for i in range(len(batch))]
    for x in contexts:
        out = execute(program, x, stage)
        assert out.correct and out.answer == STAGES[stage].target(x), (x, out)
        assert out.steps == len(program)
    machine = make_machine("canonical")
    reward = run_batched(machine, [(stage, x, program) for x in contexts]).sum(0)
    assert bool(machine.answered.all())
    assert torch.equal(machine.answer, batch.target)
    assert bool((reward == 1.0).all())
    assert len({tuple(x) for x in contexts}) > 200  # the contexts really vary


def test_all_tools_are_covered() -> None:
    used = {t for _, p, _, _ in HAND_CASES for t in p.split()}
    assert {name(t) for t in TOOLS} <= used
