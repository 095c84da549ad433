"""One writer per run directory, with real processes: a live writer is named and refused, a
SIGKILLed one never blocks the resume that follows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nativeagent.config import load_config
from nativeagent.experiments import sweep
from nativeagent.experiments.sweep import run as sweep_run
from nativeagent.runlock import LOCK, RunDirBusy, holder, run_lock
from nativeagent.training.train import train

# Long enough to be caught while running; the resume after the kill finishes it in seconds.
SETTINGS = [
    "train.max_updates=200",
    "train.stop_when_solved=false",
    "train.batch_size=16",
    "train.eval_every=100",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.checkpoint_every=1",
    "train.threads=1",
]


def nativeagent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nativeagent", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def frozen_writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real ``nativeagent train`` stopped (SIGSTOP) mid-run: alive, holding its lock."""
    run = tmp_path / "run"
    sets = [a for s in SETTINGS for a in ("--set", s)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nativeagent", "train", "--out", str(run), "-q", *sets],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (run / "checkpoint.pt").exists() or holder(run) is None:
            assert proc.poll() is None, "the writer ended before it could be caught"
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGSTOP)
        yield proc, run
    finally:
        proc.kill()
        proc.wait()


def without_timings(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("wall_s", "command")}


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    return line


def test_a_live_writer_is_named_and_every_second_writer_refused(
    frozen_writer: tuple[subprocess.Popen[bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, run = frozen_writer
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    resume = one_error_line(nativeagent("train", "--resume", str(run)))
    overwrite = one_error_line(nativeagent("train", "--out", str(run), "--overwrite", "-q"))
    for line in (resume, overwrite):
        assert f"{run} is being written by process {proc.pid} on " in line
        assert "nativeagent train --out" in line  # the writer's own command line
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # nothing touched

    # A sweep trial on the same directory waits for the writer, then is refused by name.
    monkeypatch.setattr(sweep_run, "LOCK_WAIT_S", 0.5)
    spec = sweep.TrialSpec("c0", 0, {"train": {}}, run_dir=str(run))
    with pytest.raises(RunDirBusy, match=f"process {proc.pid} on "):
        sweep.run_trial(spec)
    assert sweep.attempts(run) == []


def test_a_sigkilled_writer_never_blocks_the_resume(
    frozen_writer: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    proc, run = frozen_writer
    proc.kill()  # SIGKILL: no handler runs, the lock file stays behind
    proc.wait()
    assert (run / LOCK).exists() and holder(run) is None
    done = nativeagent("train", "--resume", str(run), "-q")
    assert done.returncode == 0, done.stderr
    assert (run / "result.json").exists()

    # ... and it ends where a run that was never interrupted ends.
    whole = train(load_config(None, "default", SETTINGS), tmp_path / "whole")
    resumed = json.loads((run / "result.json").read_text())
    assert without_timings(resumed) == without_timings(whole)


def test_one_process_may_take_its_own_lock_again(tmp_path: Path) -> None:
    with run_lock(tmp_path, command="outer"):
        with run_lock(tmp_path, command="inner"):
            assert holder(tmp_path) is not None
        assert holder(tmp_path) is not None  # the outer hold lasts
        assert '"command": "outer"' in (tmp_path / LOCK).read_text()
    assert holder(tmp_path) is None


def test_a_lock_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no run directory at"), run_lock(tmp_path / "absent"):
        pass
    assert not (tmp_path / "absent").exists()
    assert os.listdir(tmp_path) == []
