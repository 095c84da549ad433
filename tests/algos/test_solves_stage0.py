"""Every algorithm × model really learns: a short run solves stage 0."""

from pathlib import Path

import pytest

from nativeagent.config import load_config
from nativeagent.training.train import train

STAGE0 = [
    "curriculum.kind=blocks",
    "curriculum.blocks=[0]",
    "train.eval_every=10",
    "train.eval_episodes=64",
    "train.final_eval_episodes=300",
    "train.threads=1",
    "train.batch_size=96",
]


@pytest.mark.parametrize("model", ["gru", "transformer"])
@pytest.mark.parametrize("algo", ["a2c", "ppo", "grpo"])
def test_short_run_solves_stage_0(algo: str, model: str, tmp_path: Path) -> None:
    overrides = [*STAGE0, f"algo.name={algo}", f"model.kind={model}", "train.max_updates=40"]
    result = train(load_config(overrides=overrides), tmp_path)
    assert result["accuracy"]["0"] >= 0.99, result
