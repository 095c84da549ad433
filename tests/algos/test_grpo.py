"""GRPO: group-normalised advantages by hand; contexts are decoded group_size times."""

import pytest
import torch

from nativeagent.algos.grpo import GRPO, GRPOSettings, group_advantages
from nativeagent.tasks import sample_batch


def test_group_advantages_by_hand() -> None:
    returns = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_advantages(returns, 4)
    # group 1: mean 0.5, population std 0.5 -> [1, -1, 1, -1]; group 2: all equal -> 0
    torch.testing.assert_close(
        adv, torch.tensor([1.0, -1.0, 1.0, -1.0, 0, 0, 0, 0]), atol=1e-5, rtol=0
    )
    three = group_advantages(torch.tensor([3.0, 0.0, 0.0]), 3)
    # mean 1, std sqrt(((2)^2 + 1 + 1) / 3) = sqrt(2)
    torch.testing.assert_close(three, torch.tensor([2.0, -1.0, -1.0]) / 2**0.5, atol=1e-5, rtol=0)


def test_expand_repeats_each_context_consecutively() -> None:
    algo = GRPO(GRPOSettings(group_size=4))
    assert algo.contexts_per_update(192) == 48
    batch = sample_batch(torch.tensor([0, 2, 1]), torch.Generator().manual_seed(0))
    big = algo.expand(batch)
    assert len(big) == 12
    assert big.stage.tolist() == [0] * 4 + [2] * 4 + [1] * 4
    for i in range(3):
        assert (big.context[4 * i : 4 * i + 4] == batch.context[i]).all()
        assert (big.target[4 * i : 4 * i + 4] == batch.target[i]).all()


def test_group_size_must_divide_batch() -> None:
    with pytest.raises(RuntimeError):
        group_advantages(torch.zeros(7), 4)
