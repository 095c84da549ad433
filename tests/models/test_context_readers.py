"""How the models read the context: the tutorial's mean ignores order, the sequence readers
do not; in task mode nothing but the expression says which task it is."""

import pytest
import torch

from nativeagent.machine import CANONICAL, ToolMachine
from nativeagent.models import make_model
from nativeagent.rollout import replay, rollout
from nativeagent.tasks import Task, TaskSet


def _batch(show: bool) -> tuple[TaskSet, object]:
    tasks = TaskSet([[Task.parse("a*b-c"), Task.parse("(a-b)*c")]], show_expression=show)
    digits = torch.tensor([[3, 7, 2], [3, 7, 2]])
    return tasks, tasks.make_batch(digits, torch.tensor([0, 1]))


def _first_logits(model: torch.nn.Module, batch: object) -> torch.Tensor:
    state, token = model.start(batch)
    logits, _, _ = model.step(state, token)
    return logits


@pytest.mark.parametrize(("kind", "encoder"), [("gru", "gru"), ("transformer", "mean")])
def test_sequence_readers_tell_permuted_prompts_apart(kind: str, encoder: str) -> None:
    torch.manual_seed(0)
    model = make_model(kind, 32, n_tasks=0, encoder=encoder)
    _, batch = _batch(show=True)
    flipped = batch.index(torch.tensor([0, 1]))
    flipped.prompt = batch.prompt.clone()
    flipped.prompt[:, [0, 1]] = batch.prompt[:, [1, 0]]  # swap the first two digits
    assert not torch.allclose(_first_logits(model, batch), _first_logits(model, flipped))


def test_the_tutorial_mean_cannot_see_order() -> None:
    torch.manual_seed(0)
    model = make_model("gru", 32, n_tasks=0, encoder="mean")
    _, batch = _batch(show=True)
    assert batch.prompt_len.tolist() == [5, 5]  # no padding: a permutation keeps the tokens
    flipped = batch.index(torch.tensor([0, 1]))
    flipped.prompt = batch.prompt.flip(1)
    assert not torch.equal(flipped.prompt, batch.prompt)
    assert torch.allclose(_first_logits(model, batch), _first_logits(model, flipped), atol=1e-6)


def test_task_mode_prompts_differ_only_by_their_expression() -> None:
    _, batch = _batch(show=True)
    # same digits, two expressions: the prompts differ in the operator tokens alone
    assert batch.prompt[0].tolist() != batch.prompt[1].tolist()
    assert torch.equal(batch.context[0], batch.context[1])
    _, plain = _batch(show=False)
    assert torch.equal(plain.prompt[0], plain.prompt[1])  # only the task embedding differs


@pytest.mark.parametrize(("kind", "encoder"), [("gru", "gru"), ("transformer", "mean")])
def test_replay_reproduces_a_task_mode_rollout(kind: str, encoder: str) -> None:
    torch.manual_seed(1)
    model = make_model(kind, 32, n_tasks=0, encoder=encoder)
    tasks, _ = _batch(show=True)
    gen = torch.Generator().manual_seed(3)
    batch = tasks.sample(torch.zeros(64, dtype=torch.long), gen)
    ro = rollout(model, ToolMachine(CANONICAL), batch, 8, gen)
    lp, _, value = replay(model, batch, ro.actions, ro.legal)
    assert torch.allclose(lp[ro.alive], ro.log_prob[ro.alive], atol=1e-5)
    assert torch.allclose(value[ro.alive], ro.value[ro.alive], atol=1e-5)
