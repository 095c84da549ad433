"""The ``extended`` profile (docs/machine.md): LOAD, STO2 and RCL2, token by token, legal and
illegal, on the reference machine (``execute``) and on the batched one."""

from __future__ import annotations

import pytest
import torch
from helpers import episode_batch

from nativeagent import execute
from nativeagent.machine import EXTENDED, ToolMachine
from nativeagent.tokens import parse_token

LOAD, STO2, RCL2 = (EXTENDED.tool(n).token for n in ("LOAD", "STO2", "RCL2"))
MUL, ADD, SUB, ANS, STO, RCL = (
    EXTENDED.tool(n).token for n in ("MUL", "ADD", "SUB", "ANS", "STO", "RCL")
)


def run(
    program: list[str], context: list[int], task: str = ""
) -> tuple[int | None, bool, int, str]:
    """``execute`` on ``extended``; without a task, the sum of the context is the target."""
    task = task or "+".join("abcdefgh"[: len(context)])
    out = execute(program, context, task, machine="extended")
    return out.answer, out.correct, out.steps, out.format_trace()


def after(program: list[str], context: list[int], target: int = 0) -> tuple[ToolMachine, float]:
    """The batched machine (a batch of one episode) after ``program``, and the reward paid."""
    batch = episode_batch([context], [target])
    machine = ToolMachine(EXTENDED)
    machine.reset(batch)
    total = 0.0
    for name in program:
        if bool(machine.done[0]):
            break
        reward, _ = machine.step(torch.tensor([parse_token(name, EXTENDED.vocab_size)]))
        total += float(reward[0])
    return machine, total


def batched(program: list[str], context: list[int], target: int) -> tuple[int | None, bool, int]:
    """The same program on the batched machine: answer, whether it was rewarded, steps."""
    machine, total = after(program, context, target)
    answer = int(machine.answer[0]) if bool(machine.answered[0]) else None
    return answer, total == 1.0, int(machine.steps[0])


def legal_names(program: list[str], context: list[int]) -> set[str]:
    """The tools legal after ``program`` on the batched machine."""
    mask = after(program, context)[0].legal()[0]
    return {EXTENDED.vocabulary[int(t)] for t in torch.nonzero(mask).flatten()}


def test_ids_names_vocabulary_and_step_limit() -> None:
    assert (LOAD, STO2, RCL2) == (18, 19, 20)
    assert EXTENDED.vocab_size == 21 and EXTENDED.max_steps == 12
    assert EXTENDED.vocabulary[18] == "LOAD" and EXTENDED.registers == ("acc", "mem", "mem2")
    assert [t.name for t in EXTENDED.tools[:6]] == ["MUL", "ADD", "SUB", "ANS", "STO", "RCL"]


def test_the_documented_programs() -> None:
    # a*(b+c) on 3 4 5 = 27: LOAD STO ADD RCL MUL ANS, or the same with cell 2.
    want = "LOAD acc=3 · STO mem=3 · ADD acc=9 · RCL · MUL acc=27 · ANS ✓"
    assert run(["LOAD", "STO", "ADD", "RCL", "MUL", "ANS"], [3, 4, 5], "a*(b+c)") == (
        27,
        True,
        6,
        want,
    )
    second = run(["LOAD", "STO2", "ADD", "RCL2", "MUL", "ANS"], [3, 4, 5], "a*(b+c)")
    assert second == (
        27,
        True,
        6,
        "LOAD acc=3 · STO2 mem2=3 · ADD acc=9 · RCL2 · MUL acc=27 · ANS ✓",
    )
    assert run(["SUB", "ADD", "ADD", "ANS"], [9, 4, 1, 2], "a-(b-c)+d")[:2] == (8, True)
    for program in (
        ["LOAD", "STO", "ADD", "RCL", "MUL", "ANS"],
        ["LOAD", "STO2", "ADD", "RCL2", "MUL", "ANS"],
    ):
        assert batched(program, [3, 4, 5], 27) == (27, True, 6)


def test_load() -> None:
    # Legal with acc empty, not armed and an operand unread: acc = x[p], p += 1.
    assert run(["LOAD", "ANS"], [7, 2], "a+b")[3] == "LOAD acc=7 · ANS ✗"
    assert run(["LOAD", "ADD", "ANS"], [7, 2], "a+b")[:2] == (9, True)  # then acc op x[p]
    assert "LOAD" in legal_names([], [7, 2])
    # Illegal with acc set, while armed, and with every operand read.
    assert run(["MUL", "LOAD"], [7, 2, 1])[3] == "MUL acc=14 · LOAD ✗ illegal"
    assert run(["LOAD", "STO", "LOAD", "RCL", "LOAD"], [1, 2, 3])[3].endswith("LOAD ✗ illegal")
    assert (
        run(["MUL", "STO", "LOAD"], [7, 2], "a*b")[3]
        == "MUL acc=14 · STO mem=14 · stuck: no legal tool"
    )
    assert "LOAD" not in legal_names(["MUL"], [7, 2, 1])
    assert "LOAD" not in legal_names(["LOAD", "STO", "LOAD", "RCL"], [1, 2, 3])


def test_sto2() -> None:
    # Legal with acc set and not armed: mem2 = acc, acc becomes empty; cell 1 is untouched.
    trace = run(["MUL", "STO2", "MUL", "ANS"], [2, 3, 4, 5], "c*d")[3]
    assert trace == "MUL acc=6 · STO2 mem2=6 · MUL acc=20 · ANS ✓"
    assert "RCL" not in legal_names(["MUL", "STO2", "MUL"], [2, 3, 4, 5])  # mem (cell 1) empty
    assert "RCL2" in legal_names(["MUL", "STO2", "MUL"], [2, 3, 4, 5])
    # Illegal with acc empty and while armed.
    assert run(["STO2"], [2, 3], "a*b")[3] == "STO2 ✗ illegal"
    assert run(["MUL", "STO2", "MUL", "RCL2", "STO2"], [2, 3, 4, 5])[3].endswith("STO2 ✗ illegal")


def test_rcl2_arms_cell_2_for_the_next_operator() -> None:
    # (c*d) - (a*b) on 2 3 4 5: the operator computes mem2 op acc.
    program = ["MUL", "STO2", "MUL", "RCL2", "SUB", "ANS"]
    assert run(program, [2, 3, 4, 5], "(a*b)-(c*d)") == (
        -14,
        True,
        6,
        "MUL acc=6 · STO2 mem2=6 · MUL acc=20 · RCL2 · SUB acc=-14 · ANS ✓",
    )
    assert batched(program, [2, 3, 4, 5], -14) == (-14, True, 6)
    # While armed only an operator is legal, and it disarms; mem2 stays set after it.
    assert legal_names(["MUL", "STO2", "MUL", "RCL2"], [2, 3, 4, 5]) == {"MUL", "ADD", "SUB"}
    assert "RCL2" in legal_names(["MUL", "STO2", "MUL", "RCL2", "SUB"], [2, 3, 4, 5])
    # Illegal with mem2 empty, with acc empty, and while armed.
    assert run(["MUL", "RCL2"], [2, 3], "a*b")[3] == "MUL acc=6 · RCL2 ✗ illegal"
    assert run(["MUL", "STO2", "RCL2"], [2, 3, 4])[3].endswith("RCL2 ✗ illegal")
    assert run(["MUL", "STO2", "MUL", "RCL", "RCL2"], [2, 3, 4, 5])[3].endswith("RCL ✗ illegal")
    assert run(["MUL", "STO2", "MUL", "RCL2", "RCL2"], [2, 3, 4, 5])[3].endswith("RCL2 ✗ illegal")


def test_two_cells_hold_two_values() -> None:
    # (a*b) + (c*d) * (e*f)... kept small: a*b -> mem, c*d -> mem2, e then mem2*e, then mem + it.
    program = ["MUL", "STO", "MUL", "STO2", "LOAD", "RCL2", "MUL", "RCL", "ADD", "ANS"]
    answer, correct, steps, trace = run(program, [1, 2, 3, 4, 5], "a*b+c*d*e")
    assert (answer, correct, steps) == (62, True, 10)
    assert trace.split(" · ")[3:7] == ["STO2 mem2=12", "LOAD acc=5", "RCL2", "MUL acc=60"]
    assert batched(program, [1, 2, 3, 4, 5], 62) == (62, True, 10)


def test_canonical_tools_act_on_cell_1_as_on_the_canonical_machine() -> None:
    program = ["MUL", "ADD", "STO", "MUL", "RCL", "SUB", "ANS"]
    canonical = execute(program, [4, 2, 7, 3, 5], 2)
    extended = execute(program, [4, 2, 7, 3, 5], 2, machine="extended")
    assert (canonical.answer, canonical.correct, canonical.trace) == (
        extended.answer,
        extended.correct,
        extended.trace,
    )


def test_step_limit_is_12_by_default() -> None:
    # Eleven tools then ANS answers at step 12; one more tool first runs out of steps.
    loop = ["MUL", "STO", "LOAD", "RCL", "ADD", "RCL", "ADD", "RCL", "ADD", "RCL", "ADD"]
    assert run([*loop, "ANS"], [1, 2, 3])[2] == 12
    assert run([*loop, "ANS"], [1, 2, 3])[0] == 11
    assert run([*loop, "RCL", "ADD", "ANS"], [1, 2, 3])[0] is None
    assert (
        execute([*loop, "ANS"], [1, 2, 3], "a+b+c", machine="extended", max_steps=11).answer is None
    )


@pytest.mark.parametrize("token", ["LOAD", "STO2", "RCL2", 18, 20])
def test_extended_tokens_are_not_canonical_ones(token: str | int) -> None:
    with pytest.raises(ValueError, match="token"):
        execute([token], [1, 2, 3], 0)
