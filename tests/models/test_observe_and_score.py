"""Tool observations, running signs, the read head and the one-pass scoring of the Transformer
and the history-free MLP: each option is additive (off, or zero-weighted, it changes nothing),
and scoring in one pass gives what stepping gives."""

import pytest
import torch

from nativeagent.build import build_machine, build_task_set
from nativeagent.config import load_config
from nativeagent.models import ParallelScorer, observes, reads_cursor
from nativeagent.rollout import replay, rollout
from nativeagent.training.train import init_model

#: The generalization preset, small, as a Transformer with every option off unless a test
#: turns it on.
GENERALIZATION = [
    "model.d_model=32",
    'model.kind="transformer"',
    "task.all_reachable=3",
    "decode.observe=false",
    "decode.observe_unused=false",
    "decode.window=0",
    "decode.operator_window=0",
    "task.show_signs=false",
    "task.sign_operators=false",
]
#: Every option that reads at the machine's cursors.
READING = [
    "decode.observe=true",
    "decode.observe_unused=true",
    "decode.window=2",
    "decode.operator_window=1",
]


def _setup(*overrides: str):
    cfg = load_config(preset="generalization", overrides=[*GENERALIZATION, *overrides])
    model = init_model(cfg, 0, torch.device("cpu"))
    tasks = build_task_set(cfg)
    gen = torch.Generator().manual_seed(0)
    batch = tasks.sample(torch.randint(0, tasks.n_stages, (48,), generator=gen), gen)
    return cfg, model, batch


def _decode(cfg, model, batch):
    return rollout(
        model, build_machine(cfg), batch, cfg.max_steps, torch.Generator().manual_seed(1)
    )


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_options_draw_the_other_weights_as_without_them(kind: str) -> None:
    extra = [f'model.kind="{kind}"', 'model.encoder="gru"']
    _, plain, _ = _setup(*extra)
    _, rich, _ = _setup(*extra, "decode.observe=true", "task.show_signs=true")
    assert observes(rich) and not observes(plain)
    for name, weight in plain.state_dict().items():
        assert torch.equal(weight, rich.state_dict()[name]), name
    assert set(rich.state_dict()) - set(plain.state_dict()) == {
        "observe_embed.weight",
        "sign_embed.weight",
    }
    _, reading, _ = _setup(*extra, *READING, "task.show_signs=true")
    assert reads_cursor(reading) and not reads_cursor(rich)
    for name, weight in plain.state_dict().items():
        assert torch.equal(weight, reading.state_dict()[name]), name
    assert set(reading.state_dict()) - set(rich.state_dict()) == {
        f"read_head.{cursor}.{part}.weight"
        for cursor in ("operand", "operator")
        for part in ("tokens", "signs")
    }


def test_coupled_positions_replace_the_position_embedding() -> None:
    _, absolute, _ = _setup()
    _, coupled, _ = _setup('model.positions="coupled"')
    assert absolute.pos_embed is not None and coupled.pos_embed is None
    new = set(coupled.state_dict()) - set(absolute.state_dict())
    assert new == {"relative.0.weight", "relative.1.weight", "decoded_embed"}
    assert set(absolute.state_dict()) - set(coupled.state_dict()) == {"pos_embed.weight"}
    # the token embedding is drawn before the position embedding, so it is the same
    assert torch.equal(absolute.embed.weight, coupled.embed.weight)


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_observations_reach_the_policy_and_only_add_to_its_input(kind: str) -> None:
    extra = [f'model.kind="{kind}"', 'model.encoder="gru"']
    cfg, plain, batch = _setup(*extra)
    cfg_obs, watching, _ = _setup(*extra, "decode.observe=true")
    seen = _decode(cfg_obs, watching, batch)
    assert seen.observations is not None and seen.observations.shape[:2] == seen.actions.shape
    base = _decode(cfg, plain, batch)
    assert not torch.allclose(seen.log_prob * seen.alive, base.log_prob * base.alive)
    with torch.no_grad():
        watching.observe_embed.weight.zero_()  # observations that add nothing
    muted = _decode(cfg_obs, watching, batch)
    assert torch.equal(muted.actions, base.actions)
    assert torch.allclose(muted.log_prob, base.log_prob, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["decode.observe=true"],
        ["task.show_signs=true"],
        ['model.positions="none"'],
        ['model.positions="randomized"'],
        ['model.positions="coupled"'],
        [*READING, "task.show_signs=true"],
        [*READING, 'model.positions="coupled"'],
        [*READING, 'model.kind="mlp"', "task.show_signs=true"],
    ],
    ids=[
        "plain",
        "observe",
        "signs",
        "no-positions",
        "randomized",
        "coupled",
        "read-head",
        "coupled+read-head",
        "history-free",
    ],
)
def test_one_pass_scoring_equals_stepping(options: list[str]) -> None:
    cfg, model, batch = _setup(*options)
    batch.position_offset = torch.randint(0, 40, batch.task.shape)  # used when randomized
    assert isinstance(model, ParallelScorer)
    ro = _decode(cfg, model, batch)
    lp, ent, value = replay(model, batch, ro.actions, ro.legal, ro.observations, ro.cursors)
    alive = ro.alive
    assert alive.sum() > len(batch)  # several steps per episode were compared
    torch.testing.assert_close(lp * alive, ro.log_prob * alive, atol=1e-5, rtol=0)
    torch.testing.assert_close(ent * alive, ro.entropy * alive, atol=1e-5, rtol=0)
    torch.testing.assert_close(value * alive, ro.value * alive, atol=1e-5, rtol=0)


def test_signs_reach_the_policy() -> None:
    _, model, batch = _setup("task.show_signs=true")
    flipped = batch.index(torch.arange(len(batch)))
    flipped.prompt_sign = torch.where(batch.prompt_sign > 0, 3 - batch.prompt_sign, 0)
    with torch.no_grad():
        state, token = model.start(batch)
        a, _, _ = model.step(state, token)
        state, token = model.start(flipped)
        b, _, _ = model.step(state, token)
    assert not torch.allclose(a, b)


def test_without_positions_the_transformer_has_no_position_embedding() -> None:
    _, model, _ = _setup('model.positions="none"')
    assert model.pos_embed is None
    assert not any(name.startswith("pos_embed") for name in model.state_dict())


def test_randomized_positions_shift_every_id_and_offset_zero_is_absolute() -> None:
    _, absolute, batch = _setup()
    _, randomized, _ = _setup('model.positions="randomized"')
    randomized.load_state_dict(absolute.state_dict())

    def first_logits(model, b):
        with torch.no_grad():
            state, token = model.start(b)
            return model.step(state, token)[0]

    assert torch.equal(first_logits(absolute, batch), first_logits(randomized, batch))
    shifted = batch.index(torch.arange(len(batch)))
    shifted.position_offset = torch.full_like(batch.task, 5)
    assert not torch.allclose(first_logits(randomized, shifted), first_logits(absolute, batch))
    assert torch.equal(first_logits(absolute, shifted), first_logits(absolute, batch))
