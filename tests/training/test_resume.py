"""Exact resume: a run killed at any moment and resumed ends identical to an uninterrupted one.

Compared: every weight and optimizer tensor, the result, and ``metrics.jsonl`` line by line with
``wall_s`` removed (wall-clock time is the one thing two runs never share), and the result's
``command`` (the command line that started a run, where one did).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nativeagent.config import load_config
from nativeagent.training.checkpoint import load_checkpoint
from nativeagent.training.train import train

SMALL = [
    "train.seed=5",
    "train.max_updates=150",
    "train.checkpoint_every=7",
    "train.log_every=3",
    "train.eval_every=10",
    "train.eval_episodes=64",
    "train.final_eval_episodes=200",
    "train.threads=1",
]


def metrics_without_wall(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k != "wall_s"} for x in lines]


def assert_same_run(a: Path, b: Path) -> None:
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k
    assert ca["update"] == cb["update"] and ca["episodes"] == cb["episodes"]
    sa, sb = ca["optimizer"]["state"], cb["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    assert metrics_without_wall(a) == metrics_without_wall(b)
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    for r in (ra, rb):
        r.pop("wall_s"), r.pop("command", None)
    assert ra == rb


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref")
    train(load_config(overrides=SMALL), out)
    return out


def test_same_seed_twice_is_identical(reference: Path, tmp_path: Path) -> None:
    train(load_config(overrides=SMALL), tmp_path)
    assert_same_run(reference, tmp_path)


def test_resume_after_sigkill(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [sys.executable, "-m", "nativeagent", "train", "-q", "--out", str(out)]
    for o in SMALL:
        args += ["--set", o]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 0.3))  # somewhere inside training
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "result.json").exists()
    killed_at = load_checkpoint(out)["update"]
    train(load_config(overrides=SMALL), out, resume=True)
    assert_same_run(reference, out)
    assert killed_at < 150
    command = json.loads((out / "result.json").read_text())["command"]
    assert command.startswith("nativeagent train -q --out ")  # the one that started the run


class Killed(BaseException):
    """Stands in for SIGKILL inside the process (nothing after it runs)."""


def test_resume_after_a_kill_while_writing_a_checkpoint(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nativeagent.training.train as train_module

    real_save, calls = train_module.save_checkpoint, []

    def dies_on_fifth_write(path: Path, state: dict) -> None:
        calls.append(state["update"])
        if len(calls) == 5:  # die half-way through writing: a partial temporary file remains
            (path.parent / f".{path.name}.x1y2.tmp").write_bytes(b"PK\x03\x04 half a checkpoint")
            raise Killed
        real_save(path, state)

    monkeypatch.setattr(train_module, "save_checkpoint", dies_on_fifth_write)
    with pytest.raises(Killed):
        train(load_config(overrides=SMALL), tmp_path)
    monkeypatch.undo()
    assert calls == [0, 7, 14, 21, 28] and load_checkpoint(tmp_path)["update"] == 21
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"update": 30, "epis')  # a line torn by the kill
    train(load_config(overrides=SMALL), tmp_path, resume=True)
    assert not list(tmp_path.glob(".*.tmp"))
    assert_same_run(reference, tmp_path)


def test_resume_of_a_focused_task_curriculum_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tasks' failure rates steer sampling, so a resume must restore them too."""
    import nativeagent.training.train as train_module

    focused = [
        *SMALL,
        "train.max_updates=40",
        'task.curriculum=[["a*b", "a+b", "a-b"], ["a*b+c", "(a-b)*c", "a-(b-c)"]]',
        "task.show_expression=true",
        'model.encoder="gru"',
        "curriculum.focus=0.7",
    ]
    train(load_config(overrides=focused), tmp_path / "ref")
    real_save, calls = train_module.save_checkpoint, []

    def dies_on_fourth_write(path: Path, state: dict) -> None:
        calls.append(state["update"])
        if len(calls) == 4:
            raise Killed
        real_save(path, state)

    monkeypatch.setattr(train_module, "save_checkpoint", dies_on_fourth_write)
    with pytest.raises(Killed):
        train(load_config(overrides=focused), tmp_path / "run")
    monkeypatch.undo()
    saved = load_checkpoint(tmp_path / "run")["curriculum"]["failure"]
    assert not torch.equal(saved, torch.ones_like(saved))  # the rates had moved
    train(load_config(overrides=focused), tmp_path / "run", resume=True)
    assert_same_run(tmp_path / "ref", tmp_path / "run")
