"""``eval`` of a run that has not finished training says so (where its checkpoint is, whether a
live process still trains it), in its text and its JSON; a finished run says it is finished."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nativeagent.cli import app
from nativeagent.config import load_config
from nativeagent.training.evaluate import OPTIMALITY_NOTE
from nativeagent.training.train import train
from tests.cli.interrupted import HOLD_LOCK, killed_run

#: A task-mode run (so that --expressions works too), checkpointed every 10 updates.
SMALL = [
    'task.curriculum=[["a*b", "a+b"], "a*b+c"]',
    "task.show_expression=true",
    'model.encoder="gru"',
    "train.max_updates=40",
    "train.stop_when_solved=false",
    "train.checkpoint_every=10",
    "train.eval_every=10",
    "train.eval_episodes=32",
    "train.final_eval_episodes=50",
    "train.threads=1",
]
#: Holds a run directory's writer lock, as a training process does, until stdin closes.
@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Killed while writing its checkpoint of update 20: the one of update 10 stays."""
    out = tmp_path_factory.mktemp("eval-unfinished") / "run"
    killed_run(load_config(overrides=SMALL), out, at_checkpoint=3)
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval-finished") / "run"
    train(load_config(overrides=[*SMALL, "train.max_updates=20"]), out)
    return out


def eval_(*args: str) -> str:
    result = CliRunner().invoke(app, ["eval", *args, "--episodes", "40"])
    assert result.exit_code == 0, result.output
    return result.stdout


def note(run: Path, state: str) -> str:
    return (
        f"note: {run} is not finished training: checkpoint at update 10 of at most 40 "
        f"({state}); these are the accuracies of that checkpoint"
    )


def test_a_finished_run_says_it_is_finished(finished: Path) -> None:
    text = eval_(str(finished))
    assert "note:" not in text and "not finished" not in text
    assert OPTIMALITY_NOTE in " ".join(text.split())
    data = json.loads(eval_(str(finished), "--json"))
    assert set(data["accuracy"]) == {"0", "1"} and len(data["stages"]) == 2
    assert data["finished"] is True and data["training_process"] is None
    assert data["update"] == 20 and data["max_updates"] == 20
    expressions = json.loads(eval_(str(finished), "--expressions", "a-b", "--json"))
    assert expressions["finished"] is True and "overall" in expressions


def test_a_stopped_run_says_where_it_stopped_and_how_to_continue(stopped: Path) -> None:
    assert not (stopped / "result.json").exists()
    resume = shlex.join(["nativeagent", "train", "--resume", str(stopped)])
    expected = note(stopped, f"not being trained now; continue it with: {resume}")
    lines = eval_(str(stopped)).splitlines()
    assert lines[-1] == expected
    assert eval_(str(stopped), "--expressions", "a-b").splitlines()[-1] == expected
    data = json.loads(eval_(str(stopped), "--json"))
    assert set(data["accuracy"]) == {"0", "1"} and len(data["stages"]) == 2
    assert data["finished"] is False and data["training_process"] is None
    assert data["update"] == 10 and data["max_updates"] == 40


def test_a_run_being_trained_names_the_process(stopped: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(stopped)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        who = f"process {holder.pid} on {socket.gethostname()}"
        text = eval_(str(stopped))
        data = json.loads(eval_(str(stopped), "--json"))
    finally:
        holder.communicate("", timeout=60)
    assert text.splitlines()[-1] == note(stopped, f"still being trained by {who}")
    assert data["finished"] is False and data["update"] == 10
    assert data["training_process"]["pid"] == holder.pid
    assert data["training_process"]["command"] == "nativeagent train --out run"
