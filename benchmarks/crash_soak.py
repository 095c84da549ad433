"""Crash soak: SIGKILL ``nativeagent train`` at random moments, resume, compare with a clean run.

    python benchmarks/crash_soak.py [--trials 20] [--seed 0]

Every trial starts the real command line, kills it with SIGKILL after a random delay drawn
over the whole length of a run (start-up included), resumes it with
``nativeagent train --resume DIR``, and checks that the final weights, optimizer state,
``result.json`` and ``metrics.jsonl`` (less ``wall_s``) equal an uninterrupted run's.
Checkpoints are written after every update so that many kills land inside a checkpoint write;
a trial whose kill left a temporary file behind is counted as "killed mid-write".
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nativeagent.training.checkpoint import load_checkpoint

SETTINGS = ["train.checkpoint_every=1", "train.threads=1"]


def command(out: Path, seed: int) -> list[str]:
    args = [sys.executable, "-m", "nativeagent", "train", "-q", "--out", str(out)]
    args += ["--seed", str(seed)]
    for s in SETTINGS:
        args += ["--set", s]
    return args


def fingerprint(run: Path) -> tuple:
    """What must match: weights, optimizer moments, counters, metrics and result (no times)."""
    ckpt = load_checkpoint(run)
    weights = tuple((k, v.numpy().tobytes()) for k, v in ckpt["model"].items())
    opt = tuple(
        (i, s["exp_avg"].numpy().tobytes(), s["exp_avg_sq"].numpy().tobytes())
        for i, s in sorted(ckpt["optimizer"]["state"].items())
    )
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for m in metrics:
        m.pop("wall_s")
    result = json.loads((run / "result.json").read_text())
    result.pop("wall_s")
    return weights, opt, ckpt["update"], json.dumps(metrics), json.dumps(result, sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="training seed of every run")
    parser.add_argument("--rng", type=int, default=2026, help="seed for the kill moments")
    args = parser.parse_args()
    rng = random.Random(args.rng)
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "reference"
        start = time.perf_counter()
        subprocess.run(command(ref, args.seed), check=True, stdout=subprocess.DEVNULL)
        span = time.perf_counter() - start
        expected = fingerprint(ref)
        print(
            f"reference run: {span:.1f} s with start-up, {expected[2]} updates; "
            f"torch {torch.__version__}"
        )
        print(f"{'trial':>5} {'kill at':>8} {'ckpt':>6} {'mid-write':>9} {'outcome':>10}")
        matched = mid_write = killed = 0
        for trial in range(args.trials):
            run = Path(tmp) / f"trial{trial}"
            for _ in range(20):  # a run that ends before its kill is redrawn: every trial is a kill
                delay = rng.uniform(0.0, span)
                proc = subprocess.Popen(
                    [*command(run, args.seed), "--overwrite"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                if proc.returncode == -signal.SIGKILL:
                    break
                span = min(span, delay)  # this run is faster than the reference was
            killed += proc.returncode == -signal.SIGKILL
            torn = bool(list(run.glob(".*.tmp"))) if run.exists() else False
            mid_write += torn
            at = load_checkpoint(run)["update"] if (run / "checkpoint.pt").exists() else None
            if (run / "result.json").exists():  # killed after its last write, while exiting
                outcome = "complete"
            elif at is None:  # killed before the first checkpoint: nothing to resume; start over
                subprocess.run(
                    [*command(run, args.seed), "--overwrite"], check=True, stdout=subprocess.DEVNULL
                )
                outcome = "restarted"
            else:
                resume = [sys.executable, "-m", "nativeagent", "train", "-q", "--resume", str(run)]
                subprocess.run(resume, check=True, stdout=subprocess.DEVNULL)
                outcome = "resumed"
            same = fingerprint(run) == expected
            matched += same
            mark = "match" if same else "DIFFER"
            print(
                f"{trial:>5} {delay:>7.2f}s {at if at is not None else '-':>6} {torn!s:>9} "
                f"{outcome:>10} {mark}",
                flush=True,
            )
        print(
            f"matched {matched}/{args.trials} (killed {killed}, of which {mid_write} "
            "inside a checkpoint write)"
        )


if __name__ == "__main__":
    main()
