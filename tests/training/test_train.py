"""Training: a short run really solves stage 0, writes its files, and is reproducible."""

import json
from pathlib import Path

import torch

from nativeagent.config import load_config
from nativeagent.rundir import is_finished
from nativeagent.training.checkpoint import load_checkpoint, load_policy
from nativeagent.training.evaluate import evaluate
from nativeagent.training.explain import explain
from nativeagent.training.train import Generators, train

STAGE0 = [
    "curriculum.kind=blocks",
    "curriculum.blocks=[0]",
    "train.max_updates=60",
    "train.eval_every=20",
    "train.eval_episodes=64",
    "train.final_eval_episodes=300",
    "train.stop_when_solved=false",
    "train.threads=1",
]


def test_short_run_solves_stage_0(tmp_path: Path) -> None:
    cfg = load_config(overrides=STAGE0)
    result = train(cfg, tmp_path)
    assert result["accuracy"]["0"] >= 0.99, result
    assert result["updates"] == 60 and result["episodes"] == 60 * 192
    # what the floats depend on beyond the config
    assert result["torch"] == torch.__version__ and result["device"] == "cpu"
    assert result["threads"] == 1 == torch.get_num_threads()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in lines] == [10, 20, 30, 40, 50, 60]
    assert all("eval" in r for r in lines if r["update"] % 20 == 0)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["accuracy"] == result["accuracy"]
    assert set(saved) >= {"accuracy", "solved", "updates", "episodes", "wall_s", "seed"}
    state = load_checkpoint(tmp_path)
    assert state["update"] == 60 and state["config"]["train"]["max_updates"] == 60
    model, cfg2 = load_policy(tmp_path)
    again = evaluate(
        model, cfg2, 300, Generators.from_seed(cfg.train.seed, torch.device("cpu")).final
    )
    assert again[0].accuracy == result["accuracy"]["0"]


def test_same_seed_same_weights_other_seed_differs(tmp_path: Path) -> None:
    short = [*STAGE0[:2], "train.max_updates=5", "train.final_eval_episodes=10", "train.threads=1"]

    def weights(seed: int, name: str) -> dict[str, torch.Tensor]:
        train(load_config(overrides=[*short, f"train.seed={seed}"]), tmp_path / name)
        return load_checkpoint(tmp_path / name)["model"]

    a, b, c = weights(1, "a"), weights(1, "b"), weights(2, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert (tmp_path / "a" / "metrics.jsonl").read_text() != ""


def test_a_run_trained_over_another_is_unfinished_until_its_own_result(tmp_path: Path) -> None:
    """``--overwrite``: the old run's result.json would call the new run finished."""
    short = [*STAGE0[:2], "train.max_updates=4", "train.log_every=1", "train.threads=1"]
    short.append("train.final_eval_episodes=10")
    train(load_config(overrides=short), tmp_path)
    seen: list[bool] = []
    again = train(
        load_config(overrides=[*short, "train.seed=1"]),
        tmp_path,
        lambda r: seen.append(is_finished(tmp_path)),
    )
    assert seen == [False] * 4 and is_finished(tmp_path)
    assert json.loads((tmp_path / "result.json").read_text())["seed"] == again["seed"] == 1


def test_task_mode_run_learns_a_curriculum_of_expressions(tmp_path: Path) -> None:
    """The policy reads each expression (postfix tokens) and must pick its tools from it."""
    cfg = load_config(
        overrides=[
            'task.curriculum=[["a*b", "a+b", "a-b"], ["a*b+c", "(a-b)*c"]]',
            'task.held_out_expressions=["a+b-c"]',
            "task.show_expression=true",
            'model.encoder="gru"',
            "train.max_updates=150",
            "train.final_eval_episodes=300",
            "train.threads=1",
        ]
    )
    result = train(cfg, tmp_path)
    assert result["solved"] and result["accuracy"] == {"0": 1.0, "1": 1.0}, result
    assert result["tasks"] == {
        "a*b": [100, 100], "a+b": [100, 100], "a-b": [100, 100],
        "a*b+c": [150, 150], "(a-b)*c": [150, 150],
    }  # fmt: skip
    assert result["optimality"] == {"0": 1.0, "1": 1.0}  # the solver's shortest programs
    held = result["held_out"]
    assert held["episodes"] == 300 and list(held["tasks"]) == ["a+b-c"]
    assert 0.0 <= held["accuracy"] <= 1.0 and held["interval"][0] <= held["accuracy"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all("eval_held_out" in r for r in lines if "eval" in r)
    model, cfg2 = load_policy(tmp_path)  # rebuilt for the task mode from the saved config
    assert model.stage_embed is None and model.encoder is not None and cfg2 == cfg


def test_a_short_run_solves_an_extended_curriculum_with_a_times_b_plus_c(tmp_path: Path) -> None:
    """``a*(b+c)`` has no program on the canonical machine; on ``extended`` it needs LOAD and a
    memory cell, and the default agent must learn that from outcome reward alone."""
    cfg = load_config(
        overrides=[
            'machine.name="extended"',
            'task.curriculum=["a*b+c", "a*(b+c)"]',
            "train.max_updates=600",
            "train.threads=1",
        ]
    )
    result = train(cfg, tmp_path)
    assert result["machine"] == "extended" and result["solved"], result
    assert min(result["accuracy"].values()) >= 0.99
    model, cfg2 = load_policy(tmp_path)
    (shown,) = explain(model, cfg2, 1, 1, torch.Generator().manual_seed(0))
    names = shown.trace.split(" · ")
    assert shown.correct and names[0].startswith("LOAD") and len(names) == 6, shown.trace
