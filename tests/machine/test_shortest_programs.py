"""Brute force over tool programs: each stage's spec program is its unique shortest solution."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import pytest
import torch
from helpers import canonical_legal

from nativeagent import execute
from nativeagent.tasks import STAGES, sample_batch, stage_tensor
from nativeagent.tokens import ADD, ANS, MUL, OPS, RCL, STO, SUB, TOOLS, name

Program = tuple[int, ...]


@cache
def answering_programs(n: int, max_len: int) -> tuple[Program, ...]:
    """Every tool program of at most ``max_len`` tokens that stays legal and ends with ANS.

    Only these can be correct: an illegal token or a stuck state ends unsolved, tokens after ANS
    are ignored, and a program that never reaches ANS has no answer. Legality depends on which
    registers are set, the cursor and the armed flag, never on digit values, so a depth-first
    search over legal prefixes (with the reference's ``canonical_legal``) lists every candidate.
    ``test_search_finds_every_answering_program`` checks it against full enumeration.
    """
    found: list[Program] = []

    def legal(has_acc: bool, has_mem: bool, p: int, armed: bool) -> set[int]:
        return canonical_legal(0 if has_acc else None, 0 if has_mem else None, p, armed, n)

    def search(prefix: Program, has_acc: bool, has_mem: bool, p: int, armed: bool) -> None:
        if len(prefix) == max_len:
            return
        for tok in sorted(legal(has_acc, has_mem, p, armed)):
            program = (*prefix, tok)
            if tok == ANS:
                found.append(program)
                continue
            if tok in OPS:
                state = (True, has_mem, p if armed else p + (1 if has_acc else 2), False)
            elif tok == STO:
                state = (False, True, p, False)
            else:  # RCL
                state = (has_acc, has_mem, p, True)
            if legal(*state):  # else stuck: the episode ends unsolved
                search(program, *state)

    search((), False, False, 0, False)
    return tuple(found)


def context_set(stage: int) -> list[list[int]]:
    """300 seeded random contexts plus edge cases; random ones first so most programs fail fast."""
    n = STAGES[stage].n_operands
    gen = torch.Generator().manual_seed(300 + stage)
    batch = sample_batch(stage_tensor(stage, 300), gen)
    contexts = [batch.context[i, :n].tolist() for i in range(300)]
    edges = [
        [0] * n,
        [9] * n,
        [1] * n,
        [9, 9, 0, 0, 0][:n],
        [0, 0, 9, 9, 9][:n],
        [1, 2, 3, 4, 5][:n],
    ]
    return contexts + edges


def correct_everywhere(program: Sequence[int], stage: int, contexts: list[list[int]]) -> bool:
    return all(execute(program, x, stage).correct for x in contexts)


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_search_finds_every_answering_program(stage: int) -> None:
    # Run all 6**k tool programs with k <= 4; those that answer with their last token are
    # exactly the search's list (the others do not answer, or only repeat a shorter one).
    n = STAGES[stage].n_operands
    x = [3, 5, 7, 2, 4][:n]
    answering = set()
    for k in range(1, 5):
        for program in itertools.product(TOOLS, repeat=k):
            out = execute(program, x, stage)
            if out.answer is not None and out.steps == k:
                assert program[-1] == ANS
                answering.add(program)
    assert answering == set(answering_programs(n, 4))
    assert len(answering) >= [12, 40, 40][stage]  # not vacuous


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_spec_program_is_the_unique_shortest(stage: int) -> None:
    spec = STAGES[stage].shortest_program()
    assert len(spec) == [3, 4, 7][stage]
    contexts = context_set(stage)
    candidates = answering_programs(STAGES[stage].n_operands, 7)
    assert spec in candidates
    correct = [p for p in candidates if correct_everywhere(p, stage, contexts)]
    shortest = min(len(p) for p in correct)
    assert [p for p in correct if len(p) == shortest] == [spec], [
        " ".join(name(t) for t in p) for p in correct if len(p) == shortest
    ]
    # Every other program of the same length or shorter fails on some test context.
    rivals = [p for p in candidates if len(p) <= len(spec) and p != spec]
    assert rivals
    for program in rivals:
        assert not correct_everywhere(program, stage, contexts), program


def test_stage2_needs_sto_and_rcl() -> None:
    contexts = context_set(2)
    candidates = answering_programs(5, 8)  # max_steps 8
    without = [p for p in candidates if STO not in p or RCL not in p]
    # The search does reach programs without memory, e.g. four chained ops, or STO and no RCL.
    assert (MUL, ADD, SUB, MUL, ANS) in without and (MUL, STO, MUL, ADD, ANS) in without
    assert len(without) > 100
    solved = [p for p in without if correct_everywhere(p, 2, contexts)]
    assert solved == [], [" ".join(name(t) for t in p) for p in solved]
    # while with both there are solutions, the shortest among them the spec's program
    assert correct_everywhere(STAGES[2].shortest_program(), 2, contexts)
