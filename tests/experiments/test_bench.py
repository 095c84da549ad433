"""``nativeagent bench``: statistics against hand computations, reports, and the command line."""

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from nativeagent.cli import app
from nativeagent.config import ConfigError
from nativeagent.experiments import bench
from nativeagent.experiments.bench import Combination, Trial, summarize

TINY = (
    "train.max_updates=3",
    "train.batch_size=16",
    "train.eval_episodes=10",
    "train.final_eval_episodes=10",
    "train.threads=1",
)


# --- trials and their summary ---------------------------------------------------------------


def fake_result(seed: int, solved: bool, updates: int) -> dict[str, Any]:
    return {
        "solved": solved,
        "updates": updates,
        "episodes": 10 * updates,
        "wall_s": updates / 100,
        "seed": seed,
        "accuracy": {"0": 1.0, "1": 1.0, "2": 1.0 if solved else 0.5},
    }


A = Combination("a2c", "gru")
B = Combination("ppo", "gru")
A_UPDATES = {0: 100, 1: 5000, 2: 300, 3: 200, 4: 5000}  # seeds 1 and 4 do not solve


def fake_trials() -> list[Trial]:
    trials = [
        Trial(A, s, Path(f"a/seed{s}"), fake_result(s, u < 5000, u)) for s, u in A_UPDATES.items()
    ]
    trials += [Trial(B, s, Path(f"b/seed{s}"), fake_result(s, False, 5000)) for s in range(2)]
    return trials


def test_summary_counts_unsolved_seeds_only_in_the_solved_fraction() -> None:
    a, b = summarize(fake_trials())
    assert (a.name, a.solved, a.seeds, a.solved_fraction) == ("a2c-gru", 3, 5, 0.6)
    assert a.median["updates"].value == 200.0  # median of 100, 200, 300: 5000s excluded
    assert a.iqm["updates"].value == 200.0  # n = 3: the mean
    assert a.median["episodes"].value == 2000.0
    assert a.median["wall_s"].value == pytest.approx(2.0)
    for e in [*a.median.values(), *a.iqm.values()]:
        assert e.low <= e.value <= e.high
    assert (b.solved, b.seeds, b.median, b.iqm) == (0, 2, {}, {})


def test_summary_is_deterministic_and_per_combination() -> None:
    trials = fake_trials()
    assert summarize(trials) == summarize(trials)
    alone = summarize([t for t in trials if t.combination == A])
    assert alone[0] == summarize(trials)[0]


def test_run_bench_runs_seed_major_and_keeps_every_run(tmp_path: Path) -> None:
    calls: list[tuple[list[str], int, Path]] = []

    def runner(overrides: list[str], seed: int, out_dir: Path) -> dict[str, Any]:
        calls.append((overrides, seed, out_dir))
        out_dir.mkdir()
        (out_dir / "result.json").write_text("{}")
        return fake_result(seed, seed != 1, 10 * (seed + 1))

    events: list[tuple[int, int, str | None, int | None]] = []

    def progress(done: int, total: int, running: str | None, finished: Trial | None) -> None:
        events.append((done, total, running, None if finished is None else finished.seed))

    a = Combination("a2c", "gru", ("train.threads=1",))
    b = Combination(None, "transformer")
    trials = bench.run_bench([a, b], [0, 1], tmp_path, runner, progress)
    assert [(c[1], c[2].relative_to(tmp_path).as_posix()) for c in calls] == [
        (0, "a2c-gru/seed0"),
        (0, "default-transformer/seed0"),
        (1, "a2c-gru/seed1"),
        (1, "default-transformer/seed1"),
    ]
    assert calls[0][0] == ["algo.name=a2c", "model.kind=gru", "train.threads=1"]
    assert calls[1][0] == ["model.kind=transformer"]
    assert [t.solved for t in trials] == [True, True, False, False]
    assert events[0] == (0, 4, "a2c-gru seed 0", None)
    assert events[2] == (2, 4, "a2c-gru seed 1", 0)
    assert events[-1] == (4, 4, None, 1)
    saved = json.loads((tmp_path / "trials.json").read_text())
    assert [(t["combination"], t["seed"], t["run_dir"]) for t in saved] == [
        (t.combination.name, t.seed, str(t.run_dir.relative_to(tmp_path))) for t in trials
    ]
    assert saved[2]["result"]["updates"] == 20 and saved[2]["overrides"] == calls[2][0]


def test_real_runner_trains_into_the_run_directory(tmp_path: Path) -> None:
    (trial,) = bench.run_bench([Combination(None, None, TINY)], [2], tmp_path)
    assert trial.result["seed"] == 2 and trial.result["updates"] == 3
    saved = json.loads((tmp_path / "default-default" / "seed2" / "result.json").read_text())
    assert saved == trial.result


def test_real_runner_records_a_diverged_run_as_unsolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nativeagent.training import train as train_module

    class Diverged(train_module.NonFiniteError):
        def __init__(self) -> None:  # whatever NonFiniteError's own arguments are
            RuntimeError.__init__(self, "non-finite loss at update 7")

    def diverge(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise Diverged()

    monkeypatch.setattr(bench, "train", diverge)
    result = bench.train_runner(list(TINY), 0, tmp_path / "run")
    assert result == {"solved": False, "seed": 0, "error": "non-finite loss at update 7"}


def test_invalid_settings_are_found_before_running() -> None:
    bench.check_combinations([Combination(None, None, TINY)])
    with pytest.raises(ConfigError, match=r"train\.max_updates"):
        bench.check_combinations([Combination(None, None, ("train.max_updates=0",))])


# --- reports --------------------------------------------------------------------------------


def test_markdown_table(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    bench.write_markdown(summarize(fake_trials()), path, command="nativeagent bench --seeds 5")
    text = path.read_text()
    assert f"{os.cpu_count()} CPUs" in text and f"torch {torch.__version__}" in text
    assert f"torch threads {torch.get_num_threads()}" in text
    assert "Command: `nativeagent bench --seeds 5`" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| combination | solved | updates median [95% CI]")
    a, b = (row.split(" | ") for row in rows[1:])
    assert a[:3] == ["| a2c-gru", "3/5", "200 [100–300]"]
    assert b[:3] == ["| ppo-gru", "0/2", "—"]
    assert len(a) == len(b) == 8


def test_png_is_written_and_not_blank(tmp_path: Path) -> None:
    import matplotlib.image

    trials = fake_trials()
    path = tmp_path / "benchmarks.png"
    bench.write_png(summarize(trials), trials, path)
    img = matplotlib.image.imread(str(path))  # (H, W, 4) floats in [0, 1]
    assert img.shape[0] > 300 and img[..., :3].var() > 1e-3


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], int]]:
    """Replace training with a fake whose outcome depends on the algorithm and the seed."""
    calls: list[tuple[list[str], int]] = []

    def runner(overrides: list[str], seed: int, out_dir: Path) -> dict[str, Any]:
        calls.append((overrides, seed))
        out_dir.mkdir()
        return fake_result(seed, "algo.name=a2c" in overrides or seed == 0, 50 + 25 * seed)

    monkeypatch.setattr(bench, "train_runner", runner)
    # The real check runs the config, whose algo.name / model.kind may not be merged yet.
    monkeypatch.setattr(bench, "check_combinations", lambda combinations: None)
    return calls


def test_cli_bench_writes_table_png_and_trials(
    tmp_path: Path, fake_runner: list[tuple[list[str], int]]
) -> None:
    out = tmp_path / "b"
    args = ["bench", "--algos", "a2c,ppo", "--models", "gru", "--seeds", "3", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--set", "train.threads=1"])
    assert result.exit_code == 0, result.output + result.stderr
    assert len(fake_runner) == 6 and all("train.threads=1" in o for o, _ in fake_runner)
    assert "| a2c-gru | 3/3 | 75 [50–100] |" in result.stdout
    assert "| ppo-gru | 1/3 | 50 [50–50] |" in result.stdout
    command = f"nativeagent bench --algos a2c,ppo --models gru --seeds 3 --out {out}"
    assert f"Command: `{command} --set train.threads=1`" in (out / "benchmarks.md").read_text()
    trials = json.loads((out / "trials.json").read_text())
    assert sorted((t["combination"], t["seed"]) for t in trials) == [
        (c, s) for c in ("a2c-gru", "ppo-gru") for s in range(3)
    ]
    assert (out / "benchmarks.png").stat().st_size > 1000


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--algos", "a2c,sac"], "--algos: unknown 'sac'; choose from a2c,ppo,grpo"),
        (["--models", "gru,lstm"], "--models: unknown 'lstm'"),
        (["--models", " , "], "--models needs at least one"),
        (["--seeds", "0"], "--seeds must be at least 1 (got 0)"),
        (["--out", "{tmp}/previous"], "already holds a bench (trials.json)"),
        (["--out", "{tmp}/interrupted"], "already holds run a2c-gru/seed1"),
        (["--out", "{tmp}/afile"], "exists and is not a directory"),
        (["--set", "bogus.key=1"], "bogus"),
        (["--set", "train.max_updates=0"], "train.max_updates"),
    ],
)
def test_bad_input_gives_a_one_line_error(
    args: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def runner(overrides: list[str], seed: int, out_dir: Path) -> dict[str, Any]:
        raise AssertionError("nothing should run")

    monkeypatch.setattr(bench, "train_runner", runner)
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "trials.json").write_text("[]")
    (tmp_path / "interrupted" / "a2c-gru" / "seed1").mkdir(parents=True)
    (tmp_path / "afile").write_text("x")
    before = _files(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "new")]
    result = CliRunner().invoke(app, ["bench", "--algos", "a2c", "--models", "gru", *args])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _files(tmp_path) == before


def test_missing_matplotlib_is_reported_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_runner: list[tuple[list[str], int]]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    result = CliRunner().invoke(app, ["bench", "--seeds", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and (
        "plotting needs matplotlib, a dependency of nativeagent that is not installed: "
        "pip install 'matplotlib>=3.7'"
    ) in result.stderr
    assert fake_runner == [] and not (tmp_path / "x").exists()
