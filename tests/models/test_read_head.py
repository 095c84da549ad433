"""The read head and coupled positions on prompts longer than any trained: what a policy reads at
the cursor, and where coupled positions put a decoding step, depend on the cursor's neighbours
and on distances alone."""

import pytest
import torch

from nativeagent.build import build_machine
from nativeagent.config import load_config
from nativeagent.models.read_head import ReadHead, window
from nativeagent.rollout import rollout
from nativeagent.tasks.random_programs import default_limit, draw_computable
from nativeagent.tasks.taskset import MINUS, NO_SIGN, PLUS, TaskSet
from nativeagent.tokens import ADD, EOS, MUL, SUB
from nativeagent.training.train import init_model

#: Trained on 2 and 3 operands: prompts of at most 5 tokens.
SHORT = [
    "model.d_model=32",
    "task.all_reachable=3",
    "task.held_out=0.0",
    "train.threads=1",
]
MODELS = {
    "history-free": [],  # the preset's
    "gru": ['model.kind="gru"'],
    "coupled+read-head": ['model.kind="transformer"', 'model.positions="coupled"'],
}


def test_the_window_reads_operators_signs_and_the_edges() -> None:
    # a-(b-c)*d: a b c - d * -  (digits 4 2 7 3), signs + - - . - . .
    prompt = torch.tensor([[4, 2, 7, SUB, 3, MUL, SUB]])
    sign = torch.tensor([[PLUS, MINUS, PLUS, NO_SIGN, MINUS, NO_SIGN, NO_SIGN]])
    tokens, signs = window(prompt, sign, torch.tensor([7]), torch.tensor([[0, 4]]), radius=2)
    assert tokens.tolist() == [[[EOS, EOS, 4, 2, 7], [7, SUB, 3, MUL, SUB]]]
    assert signs.tolist() == [[[0, 0, PLUS, MINUS, PLUS], [PLUS, NO_SIGN, MINUS, 0, 0]]]
    end, _ = window(prompt, sign, torch.tensor([7]), torch.tensor([7]), radius=1)
    assert end.tolist() == [[SUB, EOS, EOS]]  # the cursor past the last operand


def test_the_head_sees_the_window_alone_and_digits_as_operands() -> None:
    torch.manual_seed(0)
    head = ReadHead(2, 21, 8, operator_radius=1)
    prompt = torch.tensor([[4, 2, MUL, 7, ADD, 5, 1, SUB, SUB, 9, MUL, 3, ADD]])
    sign, length = torch.zeros_like(prompt), torch.tensor([13])
    cursors = torch.tensor([[9, 7]])  # the operand at 9, the operator at 7
    read = head(prompt, sign, length, cursors)
    far = prompt.clone()
    far[0, :4] = torch.tensor([1, 8, ADD, 6])  # outside both windows
    assert torch.equal(head(far, sign, length, cursors), read)
    digits = prompt.clone()
    digits[0, 9], digits[0, 11] = 0, 6  # other digits inside the window: the same operands
    assert torch.equal(head(digits, sign, length, cursors), read)
    near = prompt.clone()
    near[0, 10] = SUB  # the operator right after the cursor
    assert not torch.allclose(head(near, sign, length, cursors), read)
    flipped = sign.clone()
    flipped[0, 8] = MINUS  # a sign beside the operator cursor
    assert not torch.allclose(head(prompt, flipped, length, cursors), read)


@pytest.mark.parametrize("model", list(MODELS))
def test_policies_trained_short_run_on_twelve_operands(model: str) -> None:
    """Built for prompts of 5 tokens, every reading policy decodes 12-operand expressions (23
    tokens, 24 tools) with the machine's cursors, and its reading there is what it would be in
    a short prompt with the same neighbourhood."""
    cfg = load_config(preset="generalization", overrides=[*SHORT, *MODELS[model]])
    policy = init_model(cfg, 0, torch.device("cpu"))
    long = [d.task for d in draw_computable(12, 6, seed=0)]
    tasks = TaskSet([long], show_expression=True, max_steps=default_limit("canonical", 12))
    batch = tasks.sample(torch.zeros(12, dtype=torch.long), torch.Generator().manual_seed(0))
    assert batch.prompt.shape[1] == 23
    machine = build_machine(cfg, shaping=False, max_steps=24)
    with torch.no_grad():
        ro = rollout(policy, machine, batch, 24, greedy=True)
    assert ro.cursors is not None and ro.cursors.shape == (12, ro.actions.shape[1], 2)
    assert int(ro.cursors[..., 0].max()) > 5  # read beyond any trained prompt
    assert bool((ro.cursors <= batch.prompt_len[:, None, None]).all())


def test_coupled_positions_are_distances_only() -> None:
    cfg = load_config(preset="generalization", overrides=[*SHORT, *MODELS["coupled+read-head"]])
    model = init_model(cfg, 0, torch.device("cpu"))
    with torch.no_grad():
        for table in model.relative:
            table.weight.normal_()
    allowed = torch.ones(1, 1, 3, 30, dtype=torch.bool)
    queries, keys = torch.tensor([[4, 5, 5]]), torch.arange(30)[None]
    masks = model._masks(allowed, queries, keys)
    shifted = model._masks(allowed, queries + 17, keys + 17)
    for mask, moved in zip(masks, shifted, strict=True):
        assert torch.equal(mask, moved)  # the same distances, anywhere in the prompt
        span = model.relative_span
        far = mask[0, :, 0, 4 + span :]  # every key farther than the span shares one bias
        assert torch.equal(far, far[:, :1].expand_as(far))
        assert not torch.equal(mask[0, :, 0, 5], mask[0, :, 0, 6])  # near distances differ


def test_a_coupled_step_takes_the_cursors_position() -> None:
    cfg = load_config(preset="generalization", overrides=[*SHORT, *MODELS["coupled+read-head"]])
    model = init_model(cfg, 0, torch.device("cpu"))
    tasks = TaskSet([[d.task for d in draw_computable(8, 2, seed=1)]], show_expression=True)
    batch = tasks.sample(torch.zeros(2, dtype=torch.long), torch.Generator().manual_seed(0))
    state, token = model.start(batch)
    assert state[4].tolist() == [list(range(15))] * 2  # the prompt's positions
    cursors = torch.tensor([[3, 2], [9, 10]])
    _, _, state = model.step(state, token, torch.zeros(2, model.observe_embed.in_features), cursors)
    assert state[4][:, -1].tolist() == [3, 9]
