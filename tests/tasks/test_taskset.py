"""The three stages (docs/machine.md): targets, subgoals, padded batches and seeded sampling."""

from __future__ import annotations

import pytest
import torch

from nativeagent.tasks import (
    BUILTIN,
    MAX_OPERANDS,
    MAX_SUBGOALS,
    N_STAGES,
    OP_TOKENS,
    STAGES,
    TaskSet,
    check_stage,
    make_batch,
    sample_batch,
    stage_tensor,
)
from nativeagent.tasks.generate import all_reachable
from nativeagent.tasks.task import Task
from nativeagent.tasks.taskset import MINUS, NO_SIGN, PLUS, running_signs
from nativeagent.tokens import ADD, ANS, EOS, MUL, RCL, STO, SUB


def test_stage_table() -> None:
    assert N_STAGES == 3
    assert [stage[0] for stage in BUILTIN.stages] == list(STAGES) and not BUILTIN.held_out
    assert [s.n_operands for s in STAGES] == [3, 4, 5]
    assert [s.expression for s in STAGES] == ["a*b+c", "(a*b+c)-d", "(a*b+c)-(d*e)"]
    assert STAGES[0].shortest_program() == (MUL, ADD, ANS)
    assert STAGES[1].shortest_program() == (MUL, ADD, SUB, ANS)
    assert STAGES[2].shortest_program() == (MUL, ADD, STO, MUL, RCL, SUB, ANS)
    assert (MAX_OPERANDS, MAX_SUBGOALS) == (5, 3)


@pytest.mark.parametrize(
    ("stage", "context", "target", "subgoals"),
    [
        (0, [4, 2, 7], 15, (8,)),  # 4*2 = 8; 8+7 = 15
        (0, [9, 9, 9], 90, (81,)),  # 81; 81+9 = 90
        (0, [0, 5, 0], 0, (0,)),
        (1, [4, 2, 7, 3], 12, (8, 15)),  # 8; 15; 15-3 = 12
        (1, [1, 0, 0, 9], -9, (0, 0)),  # 0; 0; 0-9 = -9
        (2, [4, 2, 7, 3, 5], 0, (8, 15, 15)),  # 8; 15; 3*5 = 15; 15-15 = 0
        (2, [2, 3, 5, 7, 4], -17, (6, 11, 28)),  # 6; 11; 28; 11-28 = -17
        (2, [0, 0, 0, 9, 9], -81, (0, 0, 81)),  # 0; 0; 81; 0-81 = -81
    ],
)
def test_targets_and_subgoals_by_hand(
    stage: int, context: list[int], target: int, subgoals: tuple[int, ...]
) -> None:
    assert STAGES[stage].target(context) == target
    assert STAGES[stage].subgoals(context) == subgoals


def test_make_batch_pads_and_derives_targets() -> None:
    # The extra columns hold digits on purpose: make_batch must replace them with [EOS].
    context = torch.tensor([[4, 2, 7, 3, 5], [4, 2, 7, 3, 5], [4, 2, 7, 3, 5], [9, 9, 9, 1, 1]])
    batch = make_batch(context, torch.tensor([0, 1, 2, 1]))
    assert len(batch) == 4
    assert batch.context.tolist() == [
        [4, 2, 7, EOS, EOS],
        [4, 2, 7, 3, EOS],
        [4, 2, 7, 3, 5],
        [9, 9, 9, 1, EOS],
    ]
    assert batch.stage.tolist() == [0, 1, 2, 1]
    assert batch.n_operands.tolist() == [3, 4, 5, 4]
    assert batch.target.tolist() == [15, 12, 0, 89]  # 9*9+9-1 = 89
    valid = batch.subgoal_valid.tolist()
    one, two, three = [True, False, False], [True, True, False], [True, True, True]
    assert valid == [one, two, three, two]
    subgoals = [
        [v for v, ok in zip(row, oks, strict=True) if ok]
        for row, oks in zip(batch.subgoals.tolist(), valid, strict=True)
    ]
    assert subgoals == [[8], [8, 15], [8, 15, 15], [81, 90]]


def test_make_batch_agrees_with_stage_functions() -> None:
    gen = torch.Generator().manual_seed(7)
    stages = torch.randint(0, 3, (300,), generator=gen)
    batch = sample_batch(stages, gen)
    for i in range(len(batch)):
        stage = int(batch.stage[i])
        n = STAGES[stage].n_operands
        context = batch.context[i, :n].tolist()
        assert int(batch.n_operands[i]) == n
        assert int(batch.target[i]) == STAGES[stage].target(context)
        subgoals = batch.subgoals[i][batch.subgoal_valid[i]].tolist()
        assert tuple(subgoals) == STAGES[stage].subgoals(context)


def test_sample_batch_is_deterministic_per_seed() -> None:
    stages = stage_tensor(2, 64)
    first = sample_batch(stages, torch.Generator().manual_seed(123))
    again = sample_batch(stages, torch.Generator().manual_seed(123))
    other = sample_batch(stages, torch.Generator().manual_seed(124))
    assert torch.equal(first.context, again.context)
    assert torch.equal(first.target, again.target)
    assert not torch.equal(first.context, other.context)


def test_sampled_digits_are_uniform_and_padded() -> None:
    gen = torch.Generator().manual_seed(0)
    stages = torch.tensor([0, 1, 2]).repeat(4000)  # (12000,)
    batch = sample_batch(stages, gen)
    cols = torch.arange(MAX_OPERANDS)
    valid = cols[None, :] < batch.n_operands[:, None]
    digits = batch.context[valid]
    assert digits.min() >= 0 and digits.max() <= 9
    counts = torch.bincount(digits, minlength=10)
    assert counts.shape == (10,) and bool((counts > 0).all())
    share = counts.float() / digits.numel()  # 48,000 digits: each share is 0.1 +- 0.004 (3 sd)
    assert bool(((share - 0.1).abs() < 0.006).all()), share
    assert bool((batch.context[~valid] == EOS).all())
    for stage in range(3):  # every column of a stage is drawn, not only the first one
        cols_used = batch.context[batch.stage == stage, : STAGES[stage].n_operands]
        assert bool((cols_used.float().mean(0) - 4.5).abs().lt(0.2).all())


def test_stage_tensor() -> None:
    t = stage_tensor(1, 5)
    assert t.dtype == torch.long and t.tolist() == [1] * 5
    assert stage_tensor(2, 0).shape == (0,)


@pytest.mark.parametrize(
    ("stage", "match"),
    [(-1, "0..2"), (3, "0..2"), (True, "an int"), (1.0, "an int"), ("1", "an int"), (None, "int")],
)
def test_stage_validation(stage: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_stage(stage)
    with pytest.raises(ValueError, match=match):
        stage_tensor(stage, 3)  # type: ignore[arg-type]


def test_check_stage_accepts_valid() -> None:
    assert [check_stage(s) for s in range(3)] == [0, 1, 2]


def _generated(show: bool) -> TaskSet:
    stages = [list(all_reachable(n)) for n in (2, 3, 4)]
    return TaskSet([*stages[:2], stages[2][:40]], stages[2][40:], show_expression=show)


def test_task_set_batches_agree_with_each_task() -> None:
    tasks = _generated(show=True)
    gen = torch.Generator().manual_seed(1)
    stages = torch.tensor([0, 1, 2, -1]).repeat(500)
    batch = tasks.sample(stages, gen)
    for i in range(len(batch)):
        task = tasks.tasks[int(batch.task[i])]
        n = task.n_operands
        digits = batch.context[i, :n].tolist()
        assert int(batch.stage[i]) == int(stages[i]) and int(batch.n_operands[i]) == n
        assert bool((batch.context[i, n:] == EOS).all())
        assert int(batch.target[i]) == task.target(digits)
        assert tuple(batch.subgoals[i][batch.subgoal_valid[i]].tolist()) == task.subgoals(digits)
        # task mode: the prompt is the postfix form, digits for operands, tool tokens for ops
        shown = [digits[x] if isinstance(x, int) else OP_TOKENS[x] for x in task.postfix]
        length = int(batch.prompt_len[i])
        assert batch.prompt[i, :length].tolist() == shown and length == len(task.postfix)
        assert bool((batch.prompt[i, length:] == EOS).all())


def test_tasks_are_drawn_uniformly_within_their_stage_and_held_out_apart() -> None:
    tasks = _generated(show=False)
    gen = torch.Generator().manual_seed(2)
    batch = tasks.sample(torch.full((40_000,), 2, dtype=torch.long), gen)
    ids = tasks.stage_tasks(2)
    counts = torch.bincount(batch.task - ids.start, minlength=len(ids))
    assert counts.shape == (len(ids),) and int(counts.min()) > 0.8 * 40_000 / len(ids)
    assert int(counts.max()) < 1.2 * 40_000 / len(ids)
    held = tasks.sample(torch.full((500,), -1, dtype=torch.long), gen)
    assert set(held.task.tolist()) <= set(tasks.stage_tasks(-1))
    # without task mode the model reads the digits, as on the built-in stages
    assert torch.equal(batch.prompt, batch.context) and torch.equal(
        batch.prompt_len, batch.n_operands
    )
    assert tasks.in_turn(1, 30).tolist() == [i % 14 + 3 for i in range(30)]


def test_builtin_task_set_is_recognised() -> None:
    assert BUILTIN.is_builtin and not _generated(show=False).is_builtin
    assert BUILTIN.shortest_lengths.tolist() == [3.0, 4.0, 7.0]


def test_focus_draws_failing_tasks_within_their_stage() -> None:
    tasks = _generated(show=False)
    stage2 = tasks.stage_tasks(2)
    weights = torch.zeros(len(tasks.tasks))
    weights[stage2.start + 3] = 1.0  # only one expression of stage 2 still fails
    weights[0] = 5.0  # a stage-0 task: must never leak into stage 2
    gen = torch.Generator().manual_seed(4)
    stages = torch.full((4000,), 2, dtype=torch.long)
    all_focus = tasks.pick_tasks(stages, gen, weights, focus=1.0)
    assert set(all_focus.tolist()) == {stage2.start + 3}
    half = tasks.pick_tasks(stages, gen, weights, focus=0.5)
    share = float((half == stage2.start + 3).float().mean())
    assert 0.45 < share < 0.55 and set(half.tolist()) <= set(stage2)
    nothing_fails = tasks.pick_tasks(stages, gen, torch.zeros(len(tasks.tasks)), focus=1.0)
    assert len(set(nothing_fails.tolist())) == len(stage2)  # falls back to uniform
    plain = tasks.pick_tasks(stages, torch.Generator().manual_seed(4))
    again = tasks.pick_tasks(stages, torch.Generator().manual_seed(4), weights, focus=0.0)
    assert torch.equal(plain, again)  # focus 0 draws exactly as before


@pytest.mark.parametrize(
    ("expression", "signs"),
    [
        ("a+b", "++."),
        ("a-(b-c)+d", "+-+..+."),  # program SUB ADD ADD: b enters with -, c and d with +
        ("a-(b+c+d)", "+--.-.."),  # a b c + d + -: SUB SUB SUB
        ("a*b-(c-d)", "++.-+.."),  # MUL SUB ADD: the product starts a new sum
        ("(a-b)*(c-d)", "+-.+-.."),  # each factor is a sum of its own
    ],
)
def test_running_signs_follow_the_sums_without_parentheses(expression: str, signs: str) -> None:
    code = {NO_SIGN: ".", PLUS: "+", MINUS: "-"}
    assert "".join(code[s] for s in running_signs(Task.parse(expression).tree)) == signs


def test_batches_carry_the_signs_in_task_mode_only() -> None:
    tasks = [Task.parse("a-(b-c)"), Task.parse("a*b")]
    digits, ids = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([0, 1])
    shown = TaskSet([tasks], show_expression=True).make_batch(digits, ids)
    assert shown.prompt_sign.tolist() == [[PLUS, MINUS, PLUS, 0, 0], [PLUS, PLUS, 0, 0, 0]]
    hidden = TaskSet([tasks]).make_batch(digits, ids)
    assert hidden.prompt_sign.eq(NO_SIGN).all()
