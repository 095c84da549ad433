"""Plots: real PNGs from real and synthetic runs, resampling that holds a stopped run's last
value, stages and a held-out curve from the run's own task set, one-line errors for bad input,
and no matplotlib import until a plot is drawn."""

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from typer.testing import CliRunner

from nativeagent.analysis import plot
from nativeagent.analysis.plot import (
    common_grid,
    hold_linear,
    hold_step,
    load_curves,
    make_figure,
    plot_runs,
    stage_names,
)
from nativeagent.cli import app
from nativeagent.config import load_config
from nativeagent.training.train import train

TINY = [
    "train.max_updates=20",
    "train.eval_every=10",
    "train.eval_episodes=32",
    "train.final_eval_episodes=20",
    "train.batch_size=64",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plot") / "run"
    train(load_config(overrides=TINY), out)
    return out


def fake_run(
    path: Path,
    accs: list[list[float]],
    stages: list[int],
    dt: float = 1.0,
    config: list[str] | None = None,
) -> Path:
    """A run directory whose metrics hold one evaluation every 10 updates; with ``config``
    (overrides), also the ``config.json`` of that configuration."""
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.json").write_text(json.dumps(load_config(overrides=config).to_dict()))
    lines = [
        {
            "update": 10 * (i + 1),
            "episodes": 640 * (i + 1),
            "wall_s": dt * (i + 1),
            "stage": stage,
            "eval": {str(s): a for s, a in enumerate(acc)},
            "promoted": i + 1 < len(stages) and stages[i + 1] > stage,
        }
        for i, (acc, stage) in enumerate(zip(accs, stages, strict=True))
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def assert_real_image(path: Path) -> np.ndarray:
    img = matplotlib.image.imread(str(path))  # (H, W, 4) floats in [0, 1]
    assert img.ndim == 3 and img.shape[0] > 500 and img.shape[1] > 800, img.shape
    assert img[..., :3].var() > 0.005, "the image is (nearly) blank"
    return img


def test_one_real_run_gives_a_real_png(real_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.png"
    plot_runs([real_run], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_real_image(out)


def test_every_panel_has_its_own_x_tick_labels(real_run: Path) -> None:
    fig = make_figure([load_curves(real_run)])
    fig.canvas.draw()  # the tick labels get their text when drawn
    assert len(fig.axes) == 4
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible()]
        assert labels and all(labels), (ax.get_title(), labels)


def test_several_runs_of_different_lengths(real_run: Path, tmp_path: Path) -> None:
    long = fake_run(
        tmp_path / "long", [[0.1, 0, 0], [1, 0.2, 0], [1, 1, 0.3], [1, 1, 1]], [0, 1, 2, 2]
    )
    short = fake_run(tmp_path / "short", [[0.5, 0, 0], [1, 0, 0]], [0, 1])
    out = tmp_path / "three.png"
    result = CliRunner().invoke(
        app, ["plot", str(long), str(short), str(real_run), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    several = assert_real_image(out)
    plot_runs([long], tmp_path / "one.png")
    assert not np.array_equal(several, matplotlib.image.imread(str(tmp_path / "one.png")))


def test_a_run_that_stopped_early_holds_its_last_value(tmp_path: Path) -> None:
    long = load_curves(fake_run(tmp_path / "l", [[0, 0, 0]] * 4, [0, 0, 1, 2], dt=2.0))
    short = load_curves(fake_run(tmp_path / "s", [[0.2, 0, 0], [0.6, 0, 0]], [0, 1]))
    grid = common_grid([long.eval_update, short.eval_update], n=7)  # 10, 15, ..., 40
    assert grid.tolist() == [10, 15, 20, 25, 30, 35, 40]
    held = hold_linear(grid, short.eval_update, short.eval_acc[:, 0])
    np.testing.assert_allclose(held, [0.2, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6])
    x, stage = short.stage_curve("update")  # starts at update 0 on the first stage
    assert x.tolist() == [0, 10, 20] and stage.tolist() == [0, 0, 1]
    assert hold_step(np.array([0.0, 10.0, 10.5, 20.0, 35.0]), x, stage).tolist() == [0, 0, 1, 1, 1]
    assert long.stage_curve("wall")[0].tolist() == [0, 2, 4, 6, 8]
    assert long.promoted.tolist() == [False, True, True, False]


def test_a_custom_curriculum_plots_its_stages_and_the_held_out_curve(
    custom_run: Path, tmp_path: Path
) -> None:
    curves = load_curves(custom_run)
    assert curves.stage_names == ("2 expressions", "a*b+c")
    assert curves.eval_acc.shape == (2, 2) and curves.has_held_out
    records = [json.loads(x) for x in (custom_run / "metrics.jsonl").read_text().splitlines()]
    assert curves.eval_held_out.tolist() == [r["eval_held_out"] for r in records if "eval" in r]
    fig = make_figure([curves])
    accuracy, stage = fig.axes[0], fig.axes[2]  # vs updates
    assert [t.get_text() for t in stage.get_yticklabels()] == ["0: 2 expressions", "1: a*b+c"]
    held = [line for line in accuracy.get_lines() if line.get_label() == "held-out shapes"]
    assert len(held) == 1 and held[0].get_linestyle() == "--"
    np.testing.assert_allclose(held[0].get_ydata(), curves.eval_held_out)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["T0 2 expressions", "T1 a*b+c", "held-out shapes"]
    out = tmp_path / "custom.png"
    plot_runs([custom_run], out)
    one = assert_real_image(out)
    plot_runs([custom_run, custom_run], out)  # several runs: mean and band, held-out too
    assert not np.array_equal(one, assert_real_image(out))


def test_stage_names_come_from_config_json_and_colours_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_run(tmp_path / "old", [[0.1, 0, 0]], [0])  # no config.json: built-in stages
    assert stage_names(old) == ("a*b+c", "(a*b+c)-d", "(a*b+c)-(d*e)")
    four = ['task.curriculum=["a*b", "a+b", "a-b", "a*b+c"]']
    run = fake_run(tmp_path / "four", [[1, 0.5, 0.2, 0.1], [1, 1, 0.4, 0.2]], [0, 1], config=four)
    assert stage_names(run) == ("a*b", "a+b", "a-b", "a*b+c")
    curves = load_curves(run)
    assert curves.eval_acc.shape == (2, 4) and not curves.has_held_out
    monkeypatch.setattr(plot, "STAGE_COLORS", ("#111111", "#222222", "#333333"))
    lines = make_figure([curves]).axes[0].get_lines()[:4]
    assert [line.get_color() for line in lines] == ["#111111", "#222222", "#333333", "#111111"]


def invoke_fails(args: list[str], out: Path) -> str:
    """Run the CLI, expect a one-line error with exit code 2 and no output file left behind."""
    was_dir = out.is_dir()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert out.is_dir() if was_dir else not out.exists()
    if out.parent.is_dir():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    return result.stderr


GOOD_LINE = '{"update": 10, "wall_s": 1.0, "stage": 0}\n'


@pytest.mark.parametrize(
    ("metrics", "out_name", "needle"),
    [
        (None, "out.png", "does not exist"),
        ("no file", "out.png", "is not a nativeagent run directory (no metrics.jsonl)"),
        ("", "out.png", "metrics.jsonl is empty"),
        ("\n\n", "out.png", "metrics.jsonl is empty"),
        (GOOD_LINE + "{oops\n", "out.png", "metrics.jsonl line 2 is not valid JSON"),
        (GOOD_LINE, "nowhere/out.png", "directory"),
        (GOOD_LINE, "adir", "it is a directory"),
    ],
)
def test_bad_input_gives_a_one_line_error(
    metrics: str | None, out_name: str, needle: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    if metrics is not None:
        run.mkdir()
    if metrics not in (None, "no file"):
        (run / "metrics.jsonl").write_text(metrics)
    (tmp_path / "adir").mkdir()
    out = tmp_path / out_name
    assert needle in invoke_fails(["plot", str(run), "--out", str(out)], out)


def test_runs_with_different_numbers_of_stages_are_refused(
    custom_run: Path, tmp_path: Path
) -> None:
    builtin = fake_run(tmp_path / "builtin", [[0.5, 0, 0]], [0])
    out = tmp_path / "mixed.png"
    err = invoke_fails(["plot", str(builtin), str(custom_run), "--out", str(out)], out)
    assert f"run {custom_run} has 2 stages but run {builtin} has 3" in err


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("{oops", "config.json is not valid JSON"),
        ('{"task": {"curriculum": []}}', "config.json: invalid config"),
        ('{"task": {"curriculum": ["a*b", "a+b"]}}', "line 3 has stage 2, not 0..1"),
    ],
)
def test_a_bad_or_mismatched_config_json_gives_a_one_line_error(
    config: str, needle: str, tmp_path: Path
) -> None:
    run = fake_run(tmp_path / "run", [[0.1, 0], [1, 0.2], [1, 1]], [0, 1, 2])
    (run / "config.json").write_text(config)
    out = tmp_path / "out.png"
    assert needle in invoke_fails(["plot", str(run), "--out", str(out)], out)


def test_missing_matplotlib_says_how_to_install(
    real_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "x.png"
    assert (
        "plotting needs matplotlib, a dependency of nativeagent that is not installed: "
        "pip install 'matplotlib>=3.7'"
    ) in invoke_fails(["plot", str(real_run), "--out", str(out)], out)


def test_core_package_does_not_import_matplotlib_or_jinja2() -> None:
    code = (
        "import sys, nativeagent.cli, nativeagent.analysis.plot, nativeagent.analysis.report\n"
        "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
