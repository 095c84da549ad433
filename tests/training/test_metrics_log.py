"""Metrics sinks: metrics.jsonl always, TensorBoard scalars on request."""

import json
from pathlib import Path

from nativeagent.config import load_config
from nativeagent.training.metrics_log import TENSORBOARD_DIR, MetricsLog
from nativeagent.training.train import train


def test_jsonl_and_tensorboard_scalars(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record = {"update": 3, "wall_s": 0.5, "loss": 1.5, "train_acc": 0.25, "eval": {"2": 0.75}}
    with MetricsLog(tmp_path, tensorboard=True) as log:
        log.log(record)
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == record
    acc = EventAccumulator(str(tmp_path / TENSORBOARD_DIR))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"losses/loss", "charts/train_acc", "eval/T2", "charts/wall_s"} <= tags
    assert acc.Scalars("eval/T2")[0].value == 0.75 and acc.Scalars("eval/T2")[0].step == 3


def test_training_writes_tensorboard_and_effective_config(tmp_path: Path) -> None:
    overrides = ["train.max_updates=3", "train.final_eval_episodes=10", "train.tensorboard=true"]
    cfg = load_config(overrides=overrides)
    train(cfg, tmp_path)
    assert any((tmp_path / TENSORBOARD_DIR).iterdir())
    # The effective config round-trips: a run can be repeated from its own config.toml.
    again = load_config(tmp_path / "config.toml")
    assert again == cfg
