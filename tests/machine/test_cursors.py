"""Where the machine stands in the prompt, step by step against the tool table's rules, on both
profiles: the cursor (the next unread operand's prompt position), the operator cursor (the next
operator not applied yet) and which memory cells hold a value no operator has used yet."""

import random

import pytest
import torch

from nativeagent.machine import observation, rules
from nativeagent.machine.batched import ToolMachine
from nativeagent.machine.tools import PROFILES
from nativeagent.tasks.random_programs import default_limit, draw_computable, random_program
from nativeagent.tasks.taskset import TaskSet


def _walks(machine: str, n: int, count: int, seed: int) -> list[tuple[object, list[int]]]:
    """Tasks with a program each: drawn expressions with their own programs, and random legal
    walks on the same tasks (which may end anywhere: stuck, or out of steps)."""
    tools, rng = PROFILES[machine], random.Random(seed)
    out = []
    for d in draw_computable(n, count, seed, machine):
        out.append((d.task, list(d.program)))
        walk = random_program(tools, n, default_limit(machine, n), rng, memory=True)
        legal = [t.token for t in rules.legal(tools, rules.start(tools), n)]
        out.append((d.task, list(walk[0]) if walk else [rng.choice(legal)]))
    return out


def _expected(profile, program, n, postfix):
    """(cursor, operator cursor, unused cells) before each tool, from the rules alone: the
    prompt position of operand ``p`` and of the operator after the ``k`` applied ones are
    counted in the postfix by hand."""
    state, applied, unused = rules.start(profile), 0, set()
    operand_at = [i for i, x in enumerate(postfix) if isinstance(x, int)] + [len(postfix)]
    operator_at = [i for i, x in enumerate(postfix) if isinstance(x, str)] + [len(postfix)]
    seen = []
    for token in program:
        cursors = (operand_at[state.p], operator_at[min(applied, len(operator_at) - 1)])
        seen.append((cursors, [c in unused for c in profile.cells]))
        move = rules.move(profile, profile.by_token[token], state, n)
        if move is None or move.answers:
            break
        applied += move.tool.operator is not None and len(move.reads) == 2
        unused -= set(move.reads)
        unused |= {move.writes} & set(profile.cells)
        state = rules.apply(profile, move, state, list(range(n)))
        if rules.stuck(profile, state, n):
            break
    return seen


@pytest.mark.parametrize("machine", list(PROFILES))
@pytest.mark.parametrize("n", [4, 7, 12])
def test_cursors_and_unused_cells_follow_the_rules(machine: str, n: int) -> None:
    profile = PROFILES[machine]
    walks = _walks(machine, n, 12, seed=n)
    tasks = TaskSet([[t for t, _ in walks[::2]]], show_expression=True, machine=machine)
    ids = torch.tensor([tasks.find(t) for t, _ in walks])
    batch = tasks.sample_tasks(ids, torch.Generator().manual_seed(0))
    steps = max(len(p) for _, p in walks)
    actions = torch.tensor([p + [p[-1]] * (steps - len(p)) for _, p in walks])
    m = ToolMachine(profile, max_steps=default_limit(machine, n), observe_unused=True)
    m.reset(batch)
    expected = [_expected(profile, p, n, t.postfix) for t, p in walks]
    for t in range(steps):
        cursors = batch.cursors(m.operand(), m.applied())
        unused = m.unused()
        seen = m.observe()
        for b, rows in enumerate(expected):
            if t < len(rows) and not bool(m.done[b]):
                (cursor, operator_cursor), cells = rows[t]
                assert cursors[b].tolist() == [cursor, operator_cursor], (walks[b], t)
                assert unused[b].tolist() == cells, (walks[b], t)
                assert seen[b, -len(profile.cells) :].tolist() == [float(c) for c in cells]
        m.step(actions[:, t])
    assert observation.names(profile, unused=True)[-1] == f"{profile.cells[-1]} unused"


def test_the_digits_prompt_has_its_cursor_on_the_digit_and_no_operator() -> None:
    tasks = TaskSet([[t for t, _ in _walks("canonical", 5, 2, 0)[::2]]])  # digits, no expression
    batch = tasks.sample_tasks(torch.tensor([0, 1]), torch.Generator().manual_seed(0))
    cursors = batch.cursors(torch.tensor([3, 5]), torch.tensor([1, 0]))
    assert cursors.tolist() == [[3, 5], [5, 5]]
