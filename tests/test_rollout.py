"""Rollout: closed-loop decoding only emits legal tools; results agree with ``execute``."""

import pytest
import torch

from nativeagent import execute
from nativeagent.machine import make_machine
from nativeagent.models import GRUActorCritic
from nativeagent.rollout import rollout
from nativeagent.tasks import STAGES, sample_batch


def _programs(ro: object) -> list[list[int]]:
    acts, alive = ro.actions, ro.alive  # type: ignore[attr-defined]
    return [
        [int(a) for a, al in zip(acts[i], alive[i], strict=True) if al] for i in range(len(acts))
    ]


@pytest.mark.parametrize("machine", ["canonical", "seed-legacy"])
@pytest.mark.parametrize("masked", [True, False])
def test_rollout_agrees_with_execute(machine: str, masked: bool) -> None:
    torch.manual_seed(0)
    model = GRUActorCritic(16)
    gen = torch.Generator().manual_seed(1)
    batch = sample_batch(torch.randint(0, 3, (300,), generator=gen), gen)
    n_tokens = 8 if masked else 6
    ro = rollout(model, make_machine(machine), batch, n_tokens, gen, masked=masked)
    for i, program in enumerate(_programs(ro)):
        s = int(batch.stage[i])
        ctx = batch.context[i, : STAGES[s].n_operands].tolist()
        out = execute(program, ctx, s, machine)
        assert out.steps == len(program), (program, out)
        assert float(ro.reward[i].sum()) == pytest.approx(out.reward, abs=1e-5)
        assert bool(ro.answered[i]) == (out.answer is not None)
        if out.answer is not None:
            assert int(ro.answer[i]) == out.answer
        assert bool(ro.correct[i]) == (
            out.answer is not None and out.answer == STAGES[s].target(ctx)
        )
        if masked and machine == "canonical":
            assert "illegal" not in out.format_trace(), out.trace


def test_greedy_is_deterministic_and_sampling_follows_the_generator() -> None:
    torch.manual_seed(0)
    model = GRUActorCritic(16)
    batch = sample_batch(torch.full((64,), 2), torch.Generator().manual_seed(0))
    machine = make_machine("canonical")
    g1 = rollout(model, machine, batch, 8, greedy=True).actions
    g2 = rollout(model, machine, batch, 8, greedy=True).actions
    assert torch.equal(g1, g2)
    s1 = rollout(model, machine, batch, 8, torch.Generator().manual_seed(5)).actions
    s2 = rollout(model, machine, batch, 8, torch.Generator().manual_seed(5)).actions
    s3 = rollout(model, machine, batch, 8, torch.Generator().manual_seed(6)).actions
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)


def test_open_loop_decodes_the_vocabulary_and_stops_at_the_token_budget() -> None:
    torch.manual_seed(0)
    model = GRUActorCritic(16)
    gen = torch.Generator().manual_seed(2)
    batch = sample_batch(torch.zeros(500, dtype=torch.long), gen)
    ro = rollout(model, make_machine("seed-legacy"), batch, 6, gen, masked=False)
    assert ro.actions.shape[1] <= 6
    assert bool((ro.actions < 11).any()), "unmasked decoding should emit non-tool tokens too"


def test_decode_all_keeps_decoding_after_every_episode_ended() -> None:
    torch.manual_seed(0)
    model = GRUActorCritic(16)
    batch = sample_batch(torch.zeros(4, dtype=torch.long), torch.Generator().manual_seed(0))
    machine = make_machine("canonical")
    short = rollout(model, machine, batch, 8, greedy=True, masked=False)
    full = rollout(model, machine, batch, 8, greedy=True, masked=False, decode_all=True)
    ended = int(short.alive.sum(1).max())  # every episode ended by then
    assert short.actions.shape[1] == ended < 8, "an untrained policy answers or fails early"
    assert full.actions.shape[1] == 8
    assert torch.equal(full.actions[:, :ended], short.actions)
    assert torch.equal(full.alive[:, :ended], short.alive) and not bool(full.alive[:, ended:].any())
    assert float(full.reward[:, ended:].abs().sum()) == 0.0  # later tokens change nothing
