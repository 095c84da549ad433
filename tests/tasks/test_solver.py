"""The solver: the documented shortest programs, unreachable expressions, and programs that
really run correctly on the reference machine for every reachable expression up to 4 operands,
on both tool profiles."""

import itertools
import random

import pytest

from nativeagent import execute
from nativeagent.machine import EXTENDED, profile, rules
from nativeagent.machine.reference import run_program
from nativeagent.tasks import STAGES, Task
from nativeagent.tasks.expression import to_text
from nativeagent.tasks.generate import all_reachable, all_trees
from nativeagent.tasks.solver import solve
from nativeagent.tokens import ADD, ANS, MUL, RCL, STO, SUB, TOOLS


def test_builtin_stages_get_the_spec_programs_and_they_are_unique() -> None:
    spec = [(MUL, ADD, ANS), (MUL, ADD, SUB, ANS), (MUL, ADD, STO, MUL, RCL, SUB, ANS)]
    for stage, program in zip(STAGES, spec, strict=True):
        sol = solve(stage.expression)
        assert sol.program == program and sol.n_shortest == 1
        assert stage.shortest_program() == program


def test_a_times_b_plus_c_is_unreachable_at_any_length() -> None:
    sol = solve("a*(b+c)")
    assert not sol.reachable and sol.exhaustive and sol.program is None
    assert "no program of any length computes a*(b+c)" in (sol.reason or "")


def test_a_program_longer_than_the_step_limit_is_reported_as_such() -> None:
    sol = solve("a*b-c*d-e*f")
    assert not sol.reachable and not sol.exhaustive
    assert "at most 8 tools" in (sol.reason or "") and "raise max_steps" in (sol.reason or "")
    longer = solve("a*b-c*d-e*f", max_steps=10)
    assert longer.program_text == "MUL STO MUL RCL SUB STO MUL RCL SUB ANS"


def test_equal_functions_share_a_program() -> None:
    assert solve("b*a+c").program_text == "MUL ADD ANS"  # commutativity is symbolic
    assert solve("a-(b-c)").program_text == "SUB ADD ANS"
    assert solve("(a*b)+(c+d)").program_text == "MUL ADD ADD ANS"  # shorter than STO/RCL


@pytest.mark.parametrize("n", [2, 3, 4])
def test_solver_programs_run_correctly_on_the_reference_machine(n: int) -> None:
    rng = random.Random(n)
    tasks = all_reachable(n)
    assert tasks
    for task in tasks:
        program = task.shortest_program()
        assert program is not None
        for _ in range(30):
            context = [rng.randrange(10) for _ in range(n)]
            outcome = execute(program, context, task)
            assert outcome.correct, (task.expression, context, outcome.format_trace())


def _legal_programs(length: int) -> list[tuple[int, ...]]:
    return [(*p, ANS) for p in itertools.product([t for t in TOOLS if t != ANS], repeat=length - 1)]


def test_brute_force_agrees_on_reachability_and_length_for_3_operands() -> None:
    """Every program of up to 6 tools, run on the reference machine on random contexts: an
    expression some program answers on all of them is reachable, with the solver's length."""
    rng = random.Random(0)
    contexts = [[rng.randrange(10) for _ in range(3)] for _ in range(40)]
    programs = [p for k in range(1, 7) for p in _legal_programs(k)]
    for tree in all_trees(0, 3):
        text = to_text(tree)
        best = min(
            (
                len(p)
                for p in programs
                if all(execute(p, ctx, text).correct for ctx in contexts[:3])
                and all(execute(p, ctx, text).correct for ctx in contexts)
            ),
            default=None,
        )
        sol = solve(tree)
        assert (best is not None) == sol.reachable, text
        if best is not None:
            assert best == len(sol.program or ()), text


# --- the extended profile ---------------------------------------------------------------------


def test_every_expression_up_to_4_operands_is_computable_on_extended() -> None:
    for n, trees in ((2, 3), (3, 18), (4, 135)):
        assert len(all_trees(0, n)) == trees
        assert len(all_reachable(n, "extended")) == trees
    longest = max(len(solve(t, "extended").program or ()) for t in all_trees(0, 4))
    assert longest == 10  # within the default step limit of 12


def test_a_times_b_plus_c_is_six_tools_on_extended() -> None:
    sol = solve("a*(b+c)", "extended")
    assert sol.program_text == "LOAD STO ADD RCL MUL ANS" and sol.n_shortest == 2
    assert solve("a-(b-c)+d", "extended").program_text == "SUB ADD ADD ANS"
    assert solve("(a*b+c)-(d*e)", "extended").program_text == "MUL ADD STO MUL RCL SUB ANS"


@pytest.mark.parametrize("n", [2, 3, 4])
def test_extended_programs_run_correctly_on_the_reference_machine(n: int) -> None:
    rng = random.Random(10 + n)
    for task in all_reachable(n, "extended"):
        program = task.shortest_program("extended")
        assert program is not None
        for _ in range(20):
            context = [rng.randrange(10) for _ in range(n)]
            outcome = execute(program, context, task, machine="extended")
            assert outcome.correct, (task.expression, context, outcome.format_trace())


def _answering_programs(machine: str, n: int, max_len: int) -> list[tuple[int, ...]]:
    """Every program of at most ``max_len`` tools that stays legal and ends with an answer:
    only these can be correct (an illegal token or a stuck state ends unsolved)."""
    tools = profile(machine)
    found: list[tuple[int, ...]] = []

    def walk(prefix: tuple[int, ...], state: rules.State[int]) -> None:
        if len(prefix) == max_len:
            return
        for tool in rules.legal(tools, state, n):
            program = (*prefix, tool.token)
            if tool.answers:
                found.append(program)
                continue
            move = rules.move(tools, tool, state, n)
            assert move is not None
            after = rules.apply(tools, move, state, [0] * n)  # legality ignores values
            if rules.legal(tools, after, n):
                walk(program, after)

    walk((), rules.start(tools))
    return found


def test_brute_force_agrees_on_length_and_count_for_3_operands_on_extended() -> None:
    """Every legal answering program of up to 12 tools (the step limit), run on the reference
    machine on random contexts: each three-operand tree's shortest correct programs have the
    solver's length, and there are as many as the solver counts."""
    rng = random.Random(1)
    contexts = [[rng.randrange(10) for _ in range(3)] for _ in range(40)]
    programs = _answering_programs("extended", 3, 12)

    def answers(p: tuple[int, ...], some: list[list[int]]) -> list[int | None]:
        return [run_program(EXTENDED, p, c, target=0).answer for c in some]

    first = {p: answers(p, contexts[:4]) for p in programs}
    for tree in all_trees(0, 3):
        task = Task(to_text(tree), tree)
        targets = [task.target(c) for c in contexts]
        correct = [
            p for p in programs if first[p] == targets[:4] and answers(p, contexts) == targets
        ]
        shortest = min(len(p) for p in correct)
        sol = solve(tree, "extended")
        assert len(sol.program or ()) == shortest, task.expression
        assert sol.n_shortest == sum(len(p) == shortest for p in correct), task.expression
        assert sol.program == min(p for p in correct if len(p) == shortest), task.expression
