"""``execute``'s interface (the one acceptance checks call): accepted inputs, the Outcome, and
clear ValueErrors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import nativeagent
from nativeagent import Outcome, execute
from nativeagent.tokens import ADD, ANS, MUL, RCL, STO, SUB

SHORTEST_2 = [MUL, ADD, STO, MUL, RCL, SUB, ANS]


@pytest.mark.parametrize(
    "program",
    [
        [MUL, ADD, ANS],
        (MUL, ADD, ANS),
        ["MUL", "ADD", "ANS"],
        ["[MUL]", "[ADD]", "[ANS]"],
        ["mul", "[add]", ANS],
        torch.tensor([MUL, ADD, ANS]),
    ],
    ids=["ids", "tuple", "names", "brackets", "mixed", "tensor"],
)
def test_program_forms(program: object) -> None:
    out = execute(program, [4, 2, 7], 0)  # type: ignore[arg-type]
    assert (out.answer, out.correct, out.reward, out.steps) == (15, True, 1.0, 3)


def test_context_forms() -> None:
    for context in ([4, 2, 7, 3, 5], (4, 2, 7, 3, 5), torch.tensor([4, 2, 7, 3, 5])):
        out = execute(SHORTEST_2, context, 2)  # type: ignore[arg-type]
        assert (out.answer, out.correct) == (0, True)


def test_top_level_exports() -> None:
    assert nativeagent.execute is execute
    assert nativeagent.Outcome is Outcome


def test_outcome_fields() -> None:
    out = execute(["MUL", "ADD", "ANS"], [4, 2, 7], stage=0)
    assert [f.name for f in dataclasses.fields(Outcome)] == [
        "answer",
        "correct",
        "reward",
        "steps",
        "trace",
    ]
    assert isinstance(out.answer, int) and isinstance(out.correct, bool)
    assert isinstance(out.reward, float) and isinstance(out.steps, int)
    assert out.trace == ("MUL acc=8", "ADD acc=15", "ANS ✓")
    assert out.format_trace() == "MUL acc=8 · ADD acc=15 · ANS ✓"
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.answer = 3  # type: ignore[misc]
    wrong = execute(["MUL", "ANS"], [4, 2, 7], 0)
    assert (wrong.answer, wrong.correct, wrong.reward) == (8, False, 0.0)
    unsolved = execute(["ANS"], [4, 2, 7], 0)
    assert (unsolved.answer, unsolved.correct, unsolved.reward) == (None, False, 0.0)


def test_legacy_outcome() -> None:
    out = execute(["MUL", "ANS"], [4, 2, 7], 0, machine="seed-legacy")
    assert (out.answer, out.correct, out.reward, out.steps) == (8, True, 1.05, 2)
    assert isinstance(out.reward, float) and len(out.trace) == 2


def test_execute_is_deterministic_and_does_not_mutate() -> None:
    program, context = ["MUL", "ADD", "ANS"], [4, 2, 7]
    assert execute(program, context, 0) == execute(program, context, 0)
    assert program == ["MUL", "ADD", "ANS"] and context == [4, 2, 7]


def test_default_max_steps() -> None:
    # Canonical default 8: stage 1, MUL STO MUL RCL ADD RCL SUB ANS answers at step 8.
    eight = ["MUL", "STO", "MUL", "RCL", "ADD", "RCL", "SUB", "ANS"]
    assert execute(eight, [7, 3, 2, 5], 1).answer == -10
    assert execute(eight, [7, 3, 2, 5], 1, max_steps=8).answer == -10
    assert execute(eight, [7, 3, 2, 5], 1, max_steps=7).answer is None
    assert execute(eight, [7, 3, 2, 5], 1, max_steps=None).answer == -10
    # seed-legacy default 7: ANS as the 7th token pays, as the 8th it does not.
    seven = ["MUL"] * 6 + ["ANS"]
    assert execute(seven, [4, 2, 7], 0, machine="seed-legacy").reward == 1.05
    late = ["MUL"] * 7 + ["ANS"]
    out = execute(late, [4, 2, 7], 0, machine="seed-legacy")
    assert (out.reward, out.steps, out.answer) == (0.0, 7, None)
    assert execute(late, [4, 2, 7], 0, machine="seed-legacy", max_steps=8).reward == 1.05


GOOD: dict[str, object] = {"program": [MUL, ADD, ANS], "context": [4, 2, 7], "stage": 0}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"machine": "legacy"},
            "unknown machine 'legacy'; choose one of canonical, extended, seed-legacy",
        ),
        ({"machine": None}, "unknown machine"),
        ({"stage": 3}, r"stage must be 0\.\.2, got 3"),
        ({"stage": -1}, r"stage must be 0\.\.2, got -1"),
        ({"stage": 1.0}, "stage must be an int"),
        ({"stage": "0"}, "constant '0' is not supported"),  # a string is an expression
        ({"stage": True}, "stage must be an int"),
        ({"context": [4, 2]}, "stage 0 needs a context of 3 digits, got 2"),
        ({"context": [4, 2, 7, 3]}, "stage 0 needs a context of 3 digits, got 4"),
        ({"context": [4, 2, 7], "stage": 2}, "stage 2 needs a context of 5 digits, got 3"),
        ({"context": "427"}, "context must be a sequence"),
        ({"context": 427}, "context must be a sequence"),
        ({"context": [4, 2, 7.0]}, r"context digits must be ints 0\.\.9, got 7\.0"),
        ({"context": [4, 2, "7"]}, r"context digits must be ints 0\.\.9, got '7'"),
        ({"context": [4, 2, True]}, "context digits must be ints"),
        ({"context": [4, 2, 10]}, r"context digits must be ints 0\.\.9, got 10"),
        ({"context": [4, -1, 7]}, r"context digits must be ints 0\.\.9, got -1"),
        ({"program": ["MUL", "FOO"]}, "unknown token 'FOO'"),
        ({"program": ["MUL", "[MULL]"]}, "unknown token"),
        ({"program": [MUL, 18]}, r"token id 18 is outside the vocabulary 0\.\.17"),
        ({"program": [-1]}, "outside the vocabulary"),
        ({"program": [MUL, 1.5]}, "has type float"),
        ({"program": [True]}, "bool"),
        ({"program": "MUL ADD ANS"}, "program must be a sequence of tokens, got str"),
        ({"program": b"MUL"}, "program must be a sequence"),
        ({"program": MUL}, "program must be a sequence of tokens, got int"),
        ({"program": None}, "program must be a sequence"),
        ({"program": {MUL, ADD}}, "program must be a sequence"),
        ({"max_steps": 0}, "max_steps must be a positive int, got 0"),
        ({"max_steps": -3}, "max_steps must be a positive int, got -3"),
        ({"max_steps": 2.0}, "max_steps must be a positive int"),
        ({"max_steps": "8"}, "max_steps must be a positive int"),
        ({"max_steps": True}, "max_steps must be a positive int"),
    ],
)
def test_bad_arguments_raise_value_error(change: dict[str, object], match: str) -> None:
    kwargs = GOOD | change
    with pytest.raises(ValueError, match=match):
        execute(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("machine", ["canonical", "seed-legacy"])
def test_validation_applies_to_both_machines(machine: str) -> None:
    with pytest.raises(ValueError, match="needs a context of 4 digits"):
        execute([MUL], [1, 2, 3], 1, machine=machine)
    with pytest.raises(ValueError, match="unknown token"):
        execute(["NOPE"], [1, 2, 3], 0, machine=machine)
    with pytest.raises(ValueError, match="max_steps"):
        execute([MUL], [1, 2, 3], 0, machine=machine, max_steps=0)
