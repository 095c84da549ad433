"""A2C: advantages and returns against hand computations; nothing after an episode's end counts."""

import pytest
import torch

from nativeagent.algos.a2c import A2CLossWeights, a2c_loss, advantages_and_returns
from nativeagent.rollout import Rollout


def test_gae_matches_hand_computation() -> None:
    # Episode 0 runs 3 steps; episode 1 ends after 2 (its third reward and value must not count).
    reward = torch.tensor([[0.0, 0.5, 1.0], [0.0, 1.0, 5.0]])
    value = torch.tensor([[0.2, 0.4, 0.6], [0.3, 0.5, 9.0]])
    alive = torch.tensor([[True, True, True], [True, True, False]])
    adv, ret = advantages_and_returns(reward, value, alive, gamma=0.9, lam=0.8)
    # Episode 0: d2 = 1 - .6 = .4; d1 = .5 + .9*.6 - .4 = .64; d0 = .9*.4 - .2 = .16
    #   A2 = .4; A1 = .64 + .72*.4 = .928; A0 = .16 + .72*.928 = .82816
    # Episode 1: d1 = 1 - .5 = .5 (no bootstrap past the end); d0 = .9*.5 - .3 = .15
    #   A1 = .5; A0 = .15 + .72*.5 = .51; the dead step gets 0.
    expected = torch.tensor([[0.82816, 0.928, 0.4], [0.51, 0.5, 0.0]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, torch.tensor([[1.02816, 1.328, 1.0], [0.81, 1.0, 0.0]]))


def test_lambda_one_gives_monte_carlo_return_minus_value() -> None:
    reward = torch.tensor([[0.1, 0.0, 1.0, 0.0]])
    value = torch.tensor([[0.5, 0.25, 0.75, 3.0]])
    alive = torch.tensor([[True, True, True, False]])
    adv, ret = advantages_and_returns(reward, value, alive, gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret, torch.tensor([[1.1, 1.0, 1.0, 0.0]]))
    torch.testing.assert_close(adv, torch.tensor([[0.6, 0.75, 0.25, 0.0]]))


def _rollout(log_prob: torch.Tensor, value: torch.Tensor) -> Rollout:
    alive = torch.tensor([[True, True, False]])
    zeros = torch.zeros(1, dtype=torch.long)
    return Rollout(
        actions=torch.zeros(1, 3, dtype=torch.long),
        log_prob=log_prob,
        entropy=torch.tensor([[0.5, 0.25, 7.0]]),
        value=value,
        reward=torch.tensor([[0.0, 1.0, 3.0]]),
        alive=alive,
        answer=zeros,
        answered=zeros.bool(),
        correct=zeros.bool(),
    )


def test_loss_ignores_steps_after_the_end() -> None:
    w = A2CLossWeights(value_coef=0.5, entropy_coef=0.01)
    lp = torch.tensor([[-0.1, -0.2, -0.3]], requires_grad=True)
    v = torch.tensor([[0.2, 0.4, 0.6]], requires_grad=True)
    loss, parts = a2c_loss(_rollout(lp, v), w)
    loss.backward()
    assert lp.grad is not None and v.grad is not None
    assert lp.grad[0, 2] == 0 and v.grad[0, 2] == 0
    # Returns are [1, 1]; advantages [0.8, 0.6]; means over the two alive steps.
    assert parts["pg_loss"] == pytest.approx(-(-0.1 * 0.8 + -0.2 * 0.6) / 2)
    assert parts["v_loss"] == pytest.approx((0.8**2 + 0.6**2) / 2)
    assert parts["entropy"] == pytest.approx(0.375)
    expected = parts["pg_loss"] + 0.5 * parts["v_loss"] - 0.01 * 0.375
    assert parts["loss"] == pytest.approx(expected)


def test_normalized_advantages_have_zero_mean_over_alive_steps() -> None:
    w = A2CLossWeights(normalize_advantages=True, entropy_coef=0.0, value_coef=0.0)
    lp = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    loss, _ = a2c_loss(_rollout(lp, torch.tensor([[0.2, 0.4, 0.6]])), w)
    loss.backward()
    assert lp.grad is not None
    # d(pg_loss)/d(log_prob) = -adv/n: normalised advantages sum to zero over alive steps.
    assert float(lp.grad[0, :2].sum()) == pytest.approx(0.0, abs=1e-6)
    assert float(lp.grad[0, 2]) == 0.0
