"""The command line, run as a user would: train, eval and explain on a tiny config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nativeagent.cli import app

TINY = [
    "--set", "train.max_updates=30",
    "--set", "train.eval_every=10",
    "--set", "train.eval_episodes=32",
    "--set", "train.final_eval_episodes=50",
    "--set", "train.threads=1",
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nativeagent", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = run("train", "--seed", "3", "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "update=10 stage=" in proc.stdout and "| eval T0=" in proc.stdout
    assert "greedy accuracy" in proc.stdout
    return out


def test_train_writes_the_run_files(run_dir: Path) -> None:
    result = json.loads((run_dir / "result.json").read_text())
    assert result["seed"] == 3 and result["updates"] <= 30
    assert set(result["accuracy"]) == {"0", "1", "2"}
    assert (run_dir / "checkpoint.pt").is_file()
    assert json.loads((run_dir / "config.json").read_text())["train"]["seed"] == 3
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert first["update"] == 10 and "eval" in first


def test_eval_json_and_table(run_dir: Path) -> None:
    proc = run("eval", str(run_dir), "--episodes", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["accuracy"]) == {"0", "1", "2"}
    assert all(row["episodes"] == 40 for row in data["stages"])
    table = run("eval", str(run_dir), "--episodes", "40")
    assert table.returncode == 0 and "95% interval" in table.stdout


def test_explain_prints_traces(run_dir: Path) -> None:
    proc = run("explain", str(run_dir), "--stage", "2", "-n", "3")
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stdout.splitlines() if x.strip().startswith("ctx=[")]
    assert len(lines) == 3 and all("target=" in x and " | " in x for x in lines)


def test_refuses_to_overwrite_a_run(run_dir: Path) -> None:
    proc = run("train", "--out", str(run_dir), *TINY)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--set", "algo.lr=-1"], "algo.lr"),
        (["train", "--set", "algo.bogus=1"], "algo.bogus: unknown key"),
        (["train", "--set", "nonsense"], "section.key=value"),
        (["train", "--preset", "fast"], "unknown preset"),
        (["train", "--config", "/nonexistent.toml"], "config file not found"),
        (["train", "--device", "cuda"], "cuda"),
        (["train", "--device", "tpu"], "train.device"),
        (["eval", "/nonexistent-run"], "no checkpoint"),
        (["explain", "/nonexistent-run"], "no checkpoint"),
    ],
)
def test_user_mistakes_get_one_line_errors(args: list[str], needle: str, tmp_path: Path) -> None:
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x").exists()


def test_bad_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "cannot load checkpoint" in result.stderr


def test_explain_rejects_bad_stage(run_dir: Path) -> None:
    proc = run("explain", str(run_dir), "--stage", "5")
    assert proc.returncode == 2 and "--stage must be one of 0, 1, 2" in proc.stderr
