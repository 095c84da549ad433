"""The tutorial's loss (``algo.name = "tutorial"``) against a hand computation: one summed-value
baseline per episode, and gradient on every decoded token, after ANS too."""

from pathlib import Path

import torch

from nativeagent.algos.a2c import A2CLossWeights
from nativeagent.algos.tutorial import tutorial_loss
from nativeagent.config import load_config
from nativeagent.rollout import Rollout
from nativeagent.training.train import train


def _rollout(log_prob: torch.Tensor, value: torch.Tensor) -> Rollout:
    # Episode 0 answers at its second token, episode 1 at its first: later tokens are dead.
    alive = torch.tensor([[True, True, False], [True, False, False]])
    zeros = torch.zeros(2, dtype=torch.long)
    return Rollout(
        actions=torch.zeros(2, 3, dtype=torch.long),
        log_prob=log_prob,
        entropy=torch.tensor([[0.5, 0.25, 0.75], [1.0, 1.0, 1.0]]),
        value=value,
        reward=torch.tensor([[0.0, 1.05, 0.0], [0.2, 0.0, 0.0]]),
        alive=alive,
        answer=zeros,
        answered=torch.ones(2, dtype=torch.bool),
        correct=torch.tensor([True, False]),
    )


def test_tutorial_loss_by_hand() -> None:
    log_prob = torch.tensor([[-0.1, -0.2, -0.3], [-1.0, -2.0, -0.5]], requires_grad=True)
    value = torch.tensor([[0.1, 0.2, 0.3], [0.05, 0.05, 0.1]], requires_grad=True)
    loss, parts = tutorial_loss(
        _rollout(log_prob, value), A2CLossWeights(value_coef=0.5, entropy_coef=0.01)
    )
    # Returns 1.05 and 0.2; baselines (sums over all 3 tokens) 0.6 and 0.2: advantages 0.45, 0.
    # pg = -mean(sum(log_prob) * adv) = -((-0.6) * 0.45 + (-3.5) * 0) / 2 = 0.135
    # v = mean((0.6 - 1.05)^2, (0.2 - 0.2)^2) = 0.10125; entropy = mean of all 6 = 0.75
    assert abs(parts["pg_loss"] - 0.135) < 1e-6
    assert abs(parts["v_loss"] - 0.10125) < 1e-6
    assert abs(parts["entropy"] - 0.75) < 1e-6
    assert abs(parts["loss"] - (0.135 + 0.5 * 0.10125 - 0.01 * 0.75)) < 1e-6
    loss.backward()
    assert log_prob.grad is not None and value.grad is not None
    # Every token of episode 0 gets the same policy gradient, the dead third one included.
    torch.testing.assert_close(log_prob.grad[0], torch.full((3,), -0.45 / 2))
    # The value gradient reaches every token's value through the summed baseline.
    torch.testing.assert_close(value.grad[0], torch.full((3,), 0.5 * 2 * (0.6 - 1.05) / 2))


def test_the_tutorial_recipe_runs_with_its_own_loss(tmp_path: Path) -> None:
    cfg = load_config(
        preset="tutorial",
        overrides=['algo.name="tutorial"', "train.max_updates=6", "train.threads=1"],
    )
    assert (cfg.algo.lr, cfg.algo.entropy_coef) == (3e-4, 0.01)
    result = train(cfg, tmp_path / "run")
    assert result["updates"] == 6 and set(result["accuracy"]) == {"0", "1", "2"}
