"""Random computable expressions drawn by running random programs: every one is computable, by
its own program on the reference machine, at any length and on every profile."""

import random

import pytest

from nativeagent.machine.tools import PROFILES
from nativeagent.tasks.execution import execute
from nativeagent.tasks.expression import operands, parse, polynomial, to_text
from nativeagent.tasks.generate import all_reachable
from nativeagent.tasks.kinds import KINDS, classify, kind
from nativeagent.tasks.random_programs import (
    default_limit,
    draw_computable,
    kind_counts,
    reassociate,
)


@pytest.mark.parametrize("machine", list(PROFILES))
@pytest.mark.parametrize("n", [6, 8, 10, 12])
def test_every_drawn_expression_is_computed_by_its_program(machine: str, n: int) -> None:
    limit = default_limit(machine, n)
    drawn = draw_computable(n, 40, seed=n, machine=machine)
    rng = random.Random(n)
    assert len({d.task.shape for d in drawn}) == 40  # distinct
    for d in drawn:
        assert operands(d.task.tree) == list(range(n))  # every operand once, in order
        assert len(d.program) <= limit
        for _ in range(3):
            context = [rng.randrange(10) for _ in range(n)]
            outcome = execute(d.program, context, d.task, machine, limit)
            assert outcome.correct, (d.task.expression, d.program, context)
        assert d.kind == classify(d.task.tree)


@pytest.mark.parametrize("machine", list(PROFILES))
def test_half_need_memory_and_the_rest_are_chains(machine: str) -> None:
    drawn = draw_computable(8, 200, seed=1, machine=machine)
    counts = kind_counts(drawn)
    assert list(counts) == list(KINDS) and sum(counts.values()) == 200
    assert counts["memory"] == 100
    assert counts["in order"] >= 20 and counts["rewritten"] >= 20  # chains of both kinds
    assert draw_computable(8, 200, seed=0, memory=0.25, machine=machine)  # another share
    assert kind_counts(draw_computable(8, 40, seed=0, memory=0.25))["memory"] == 10


def test_a_draw_is_seeded() -> None:
    first = draw_computable(7, 30, seed=3)
    assert [d.task for d in first] == [d.task for d in draw_computable(7, 30, seed=3)]
    assert [d.task for d in first] != [d.task for d in draw_computable(7, 30, seed=4)]


@pytest.mark.parametrize(("machine", "n"), [("canonical", 4), ("canonical", 5), ("extended", 4)])
def test_draws_at_listed_lengths_are_reachable_with_the_solvers_kind(machine: str, n: int) -> None:
    listed = {t.shape for t in all_reachable(n, machine, default_limit(machine, n))}
    for d in draw_computable(n, 30, seed=0, machine=machine):
        assert d.task.shape in listed
        assert d.kind == kind(d.task, machine, default_limit(machine, n))


def test_a_kind_the_machine_lacks_is_made_up_from_the_others() -> None:
    drawn = draw_computable(3, 10, seed=0)  # no 3-operand canonical expression needs memory
    assert len(drawn) == 10 and kind_counts(drawn)["memory"] == 0


def test_impossible_draws_are_refused() -> None:
    with pytest.raises(ValueError, match="found 3 distinct"):
        draw_computable(2, 4)
    with pytest.raises(ValueError, match=r"2\.\.26 operands"):
        draw_computable(27, 1)
    with pytest.raises(ValueError, match="operators"):
        draw_computable(4, 1, operators="/")
    with pytest.raises(ValueError, match="memory share"):
        draw_computable(4, 1, memory=1.5)


def test_operators_can_be_restricted() -> None:
    for d in draw_computable(6, 20, seed=2, operators="+-"):
        assert "*" not in d.task.expression


def test_reassociation_keeps_value_and_operand_order() -> None:
    rng = random.Random(0)
    for text in ("a-b+c-d", "a*b*c*d", "(a-b)*c-d+e", "a-b-(c*d)*e*f"):
        tree = parse(text)
        for _ in range(20):
            other = reassociate(tree, rng)
            assert polynomial(other) == polynomial(tree) and operands(other) == operands(tree)
    assert to_text(reassociate(parse("a-b-c"), rng, chance=1.0)) == "a-(b+c)"
    assert to_text(reassociate(parse("a*b*c"), rng, chance=1.0)) == "a*(b*c)"
