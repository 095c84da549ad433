"""``train`` without ``--out``: ``runs/latest`` points at the new run, the commands to try next
are printed with the run's directory as typed, and every command takes ``runs/latest``."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nativeagent import runlock
from nativeagent.cli import app
from nativeagent.cli.train import next_commands
from nativeagent.config import load_config
from nativeagent.training.evaluate import OPTIMALITY_NOTE
from tests.cli.interrupted import HOLD_LOCK, killed_run
from tests.helpers import run_cli

TINY = [
    "train.max_updates=30",
    "train.eval_every=10",
    "train.eval_episodes=32",
    "train.final_eval_episodes=50",
    "train.threads=1",
]
SETS = [arg for o in TINY for arg in ("--set", o)]


def train_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nativeagent", "train", "-q", *SETS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def next_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return lines[lines.index("next:") + 1 :]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if not p.is_symlink())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where ``nativeagent train`` (no --out) ran once."""
    cwd = tmp_path_factory.mktemp("latest")
    proc = train_in(cwd, "--seed", "3")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (cwd / "first.txt").write_text(proc.stdout)
    return cwd


def test_latest_points_at_the_run_and_the_next_commands_name_it(workdir: Path) -> None:
    (run,) = run_dirs(workdir / "runs")
    assert run.name.startswith("default-seed3-")
    latest = workdir / "runs" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == run.name  # relative
    assert latest.resolve() == run.resolve()
    stdout = (workdir / "first.txt").read_text()
    name = f"runs/{run.name}"
    assert next_lines(stdout) == [
        f"  nativeagent eval {name}",
        f"  nativeagent explain {name} --stage 2 -n 3",
        f"  nativeagent plot {name} --out curves.png",
        f"  nativeagent report {name} --out report.html",
        "  (runs/latest points at this run)",
    ]
    assert OPTIMALITY_NOTE in " ".join(stdout.split())


def test_the_next_commands_run_as_printed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(workdir)
    for line in next_lines((workdir / "first.txt").read_text())[:-1]:
        args = shlex.split(line)[1:]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (line, result.output)
    assert (workdir / "curves.png").is_file() and (workdir / "report.html").is_file()


def test_a_task_mode_run_suggests_longer_expressions() -> None:
    task_mode = [
        'task.curriculum=[["a*b", "a+b"], "a*b+c"]',
        "task.show_expression=true",
        'model.encoder="gru"',
    ]
    commands = next_commands(Path("/no where"), load_config(overrides=task_mode))
    assert commands[:3] == [
        "nativeagent eval '/no where'",
        "nativeagent eval '/no where' --operands 4",
        "nativeagent explain '/no where' --stage 1 -n 3",
    ]
    longer = [*task_mode[:1], 'task.curriculum=[["a*b"], ["a*b+c", "a*b-c*d"]]']
    commands = next_commands(Path("r"), load_config(overrides=[*task_mode[1:], *longer[1:]]))
    assert commands[1] == "nativeagent eval r --operands 5 --sample 100"


def test_a_new_run_moves_latest_and_leaves_no_temporary_link(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    os.symlink("gone", tmp_path / "runs" / "latest")  # a dangling link is replaced too
    proc = train_in(tmp_path, "--seed", "4", "--set", "train.max_updates=3")
    assert proc.returncode == 0, proc.stderr
    (run,) = run_dirs(tmp_path / "runs")
    assert os.readlink(tmp_path / "runs" / "latest") == run.name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(["latest", run.name])


def test_a_latest_that_is_not_a_link_is_left_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "runs" / "latest").mkdir(parents=True)
    proc = train_in(tmp_path, "--set", "train.max_updates=3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "warning: runs/latest exists and is not a symlink, so it was left as it is (not this run)"
    ]
    assert (tmp_path / "runs" / "latest").is_dir() and not any(
        (tmp_path / "runs" / "latest").iterdir()
    )
    assert "points at this run" not in proc.stdout and "next:" in proc.stdout


def test_an_out_makes_no_link_and_is_shown_as_typed(tmp_path: Path) -> None:
    proc = train_in(tmp_path, "--out", "my runs/one", "--set", "train.max_updates=3")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "my runs" / "latest").exists()
    assert next_lines(proc.stdout)[0] == "  nativeagent eval 'my runs/one'"
    assert len(next_lines(proc.stdout)) == 4


def test_every_command_takes_runs_latest(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    latest = "runs/latest"
    commands = [
        ["eval", latest, "--episodes", "20", "--json"],
        ["explain", latest, "--stage", "2", "-n", "2"],
        ["plot", latest, "--out", "latest.png"],
        ["report", latest, "--out", "latest.html", "--search", "20"],
        ["export", latest, "exported"],
    ]
    for args in commands:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert json.loads(CliRunner().invoke(app, commands[0]).stdout)["finished"] is True
    assert (workdir / "exported" / "model.safetensors").is_file()
    (run,) = run_dirs(workdir / "runs")
    assert f"Run <code>{run.name}</code>" in (workdir / "latest.html").read_text()


def test_resume_through_latest_locks_the_real_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nativeagent.training.train as train_module

    cfg = load_config(overrides=[*TINY, "train.checkpoint_every=5", "train.log_every=5"])
    real = tmp_path / "runs" / "default-seed0-20261204-130000"
    killed_run(cfg, real, at_checkpoint=3)  # checkpoint at update 5
    os.symlink(real.name, tmp_path / "runs" / "latest")
    monkeypatch.chdir(tmp_path)

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(real)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        code, _, err = run_cli(["train", "--resume", "runs/latest"], capsys)
    finally:
        holder.communicate(b"", timeout=60)
    assert code == 2 and f"is being written by process {holder.pid}" in err

    real_save, held = train_module.save_checkpoint, []

    def watched(path: Path, state: dict) -> None:
        held.append((sorted(runlock._held), runlock.holder(real)))
        real_save(path, state)

    monkeypatch.setattr(train_module, "save_checkpoint", watched)
    code, out, err = run_cli(["train", "--resume", "runs/latest", "-q"], capsys)
    assert code == 0, err
    assert held and all(keys == [real.resolve()] for keys, _ in held)
    assert all(who is not None and who["pid"] == os.getpid() for _, who in held)
    assert (real / "result.json").is_file() and (tmp_path / "runs" / "latest").is_symlink()
    assert f"  nativeagent eval runs/{real.name}" in out.splitlines()
    assert "points at this run" not in out
