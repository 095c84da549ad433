"""PPO: the clipped surrogate and value clipping against hand computations; replay is exact."""

import math

import pytest
import torch

from nativeagent.algos.ppo import clipped_policy_loss, value_loss
from nativeagent.machine import make_machine
from nativeagent.models import make_model
from nativeagent.rollout import replay, rollout
from nativeagent.tasks import sample_batch


def test_clipped_policy_loss_by_hand() -> None:
    # Four steps, ε = 0.2; the last step is dead and must not count.
    old = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    new = torch.log(torch.tensor([[1.5, 0.5, 1.1, 9.0]]))  # ratios 1.5, 0.5, 1.1, 9
    adv = torch.tensor([[2.0, 1.0, -1.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    loss, kl, clipfrac = clipped_policy_loss(new, old, adv, mask, clip=0.2)
    # step 0: max(-2*1.5, -2*1.2) = -2.4 (clipped); step 1: max(-0.5, -0.8) = -0.5 (unclipped,
    # the pessimistic side); step 2: max(1.1, 1.0) = 1.1; mean = (-2.4 - 0.5 + 1.1) / 3
    assert loss.item() == pytest.approx((-2.4 - 0.5 + 1.1) / 3)
    # approx KL = mean((r - 1) - log r); two of three alive ratios are outside [0.8, 1.2]
    expected_kl = sum((r - 1) - math.log(r) for r in (1.5, 0.5, 1.1)) / 3
    assert kl.item() == pytest.approx(expected_kl, rel=1e-5)
    assert clipfrac.item() == pytest.approx(2 / 3)


def test_value_clipping_by_hand() -> None:
    old = torch.tensor([[1.0, 1.0]])
    new = torch.tensor([[2.0, 1.1]])
    ret = torch.tensor([[3.0, 0.0]])
    mask = torch.tensor([[True, True]])
    # plain: (2-3)^2 = 1, (1.1-0)^2 = 1.21 -> 1.105
    assert value_loss(new, old, ret, mask, None).item() == pytest.approx(1.105)
    # clipped values: 1 + clamp(1, -.5, .5) = 1.5 -> (1.5-3)^2 = 2.25; 1.1 stays -> 1.21
    # pessimistic max per step: 2.25 and 1.21 -> 1.73
    assert value_loss(new, old, ret, mask, 0.5).item() == pytest.approx(1.73)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
@pytest.mark.parametrize("masked", [True, False])
def test_replay_reproduces_the_rollout(kind: str, masked: bool) -> None:
    torch.manual_seed(0)
    model = make_model(kind, 32)
    gen = torch.Generator().manual_seed(3)
    batch = sample_batch(torch.randint(0, 3, (64,), generator=gen), gen)
    with torch.no_grad():
        ro = rollout(model, make_machine("canonical"), batch, 8, gen, masked=masked)
        lp, ent, value = replay(model, batch, ro.actions, ro.legal)
    alive = ro.alive
    torch.testing.assert_close(lp * alive, ro.log_prob * alive)
    torch.testing.assert_close(ent * alive, ro.entropy * alive)
    torch.testing.assert_close(value * alive, ro.value * alive)
