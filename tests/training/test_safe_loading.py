"""Loading a checkpoint never unpickles arbitrary objects, through any public loading path."""

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from nativeagent import cli
from nativeagent.config import load_config
from nativeagent.training.checkpoint import RunDirError, load_checkpoint, load_policy
from nativeagent.training.train import TrainState, resume_config, train


class Payload:
    """Unpickling this object would run ``os.system`` and create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil_run(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    train(load_config(overrides=["train.max_updates=2", "train.final_eval_episodes=5"]), run)
    marker = tmp_path / "pwned"
    ckpt = load_checkpoint(run)
    ckpt["config"] = Payload(marker)  # a real-looking checkpoint with one poisoned entry
    torch.save(ckpt, run / "checkpoint.pt")
    return run, marker


def _cli(*args: str) -> None:
    old = sys.argv
    sys.argv = ["nativeagent", *args]
    try:
        with pytest.raises(SystemExit) as info:
            cli.main()
        assert info.value.code == 2
    finally:
        sys.argv = old


PATHS: dict[str, Callable[[Path], object]] = {
    "load_checkpoint": load_checkpoint,
    "load_policy": load_policy,
    "resume_config": resume_config,
    "TrainState.from_checkpoint": TrainState.from_checkpoint,
    "train(resume=True)": lambda run: train(load_config(), run, resume=True),
    "cli eval": lambda run: _cli("eval", str(run)),
    "cli explain": lambda run: _cli("explain", str(run)),
    "cli report": lambda run: _cli("report", str(run), "--out", str(run / "r.html")),
    # --resume refuses a finished run before loading anything, so make it unfinished first
    "cli train --resume": lambda run: (
        (run / "result.json").unlink(),
        _cli("train", "--resume", str(run)),
    ),
}


def test_the_payload_really_is_dangerous(evil_run: tuple[Path, Path]) -> None:
    run, marker = evil_run
    torch.load(run / "checkpoint.pt", weights_only=False)  # the unsafe way, on purpose
    assert marker.exists()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_loading_path_refuses_the_pickle(
    path: str, evil_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run, marker = evil_run
    try:
        PATHS[path](run)
    except RunDirError as err:
        assert "cannot load checkpoint" in str(err)
    else:
        assert path.startswith("cli"), f"{path} loaded a poisoned checkpoint"
        assert "cannot load checkpoint" in capsys.readouterr().err
    assert not marker.exists()
