"""Fixtures shared across test files."""

import os
from pathlib import Path

import pytest

from nativeagent.config import load_config
from nativeagent.training.train import train

# Nothing in the tests may download (models, tokenizers, data sets): Hugging Face libraries read
# this when they are first imported, so it is set before any test imports them.
os.environ["HF_HUB_OFFLINE"] = "1"

#: Two stages (the first of two expressions) and a held-out expression, in task mode.
TASK_MODE = [
    'task.curriculum=[["a*b", "a+b"], "a*b+c"]',
    'task.held_out_expressions=["a-b"]',
    "task.show_expression=true",
    'model.encoder="gru"',
    "train.max_updates=20",
    "train.eval_every=10",
    "train.eval_episodes=32",
    "train.final_eval_episodes=50",
    "train.threads=1",
]


@pytest.fixture(scope="session")
def custom_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short task-mode run (read only: tests write their outputs elsewhere)."""
    out = tmp_path_factory.mktemp("task-mode") / "run"
    train(load_config(overrides=TASK_MODE), out)
    return out


@pytest.fixture(scope="session")
def solved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config trained until solved (about 2 s; read only)."""
    out = tmp_path_factory.mktemp("default") / "run"
    train(load_config(overrides=["train.threads=1"]), out, command="nativeagent train --out run")
    return out
