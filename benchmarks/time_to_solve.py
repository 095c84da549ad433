"""Time to solve: train with a preset for several seeds, one after another, and print a table.

    python benchmarks/time_to_solve.py                 # default config, seeds 0..4
    python benchmarks/time_to_solve.py --preset tutorial --seeds 3

Each run is the same as ``nativeagent train --seed S`` (wall time excludes Python start-up and
``import torch``). Accuracy is greedy on 1,000 fresh episodes per stage.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from nativeagent.config import load_config
from nativeagent.training.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", type=int, default=5, help="run seeds 0..N-1")
    parser.add_argument("--set", action="append", default=[], help="section.key=value")
    args = parser.parse_args()

    print(
        f"preset={args.preset} overrides={args.set} torch={torch.__version__} "
        f"threads={torch.get_num_threads()}"
    )
    header = f"{'seed':>4} {'solved':>6} {'T0':>6} {'T1':>6} {'T2':>6} {'updates':>7} "
    header += f"{'episodes':>9} {'wall_s':>7}"
    print(header)
    walls, solved = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            cfg = load_config(preset=args.preset, overrides=[*args.set, f"train.seed={seed}"])
            r = train(cfg, Path(tmp) / f"seed{seed}")
            acc = r["accuracy"]
            print(
                f"{seed:>4} {r['solved']!s:>6} {acc['0']:>6.3f} {acc['1']:>6.3f} "
                f"{acc['2']:>6.3f} {r['updates']:>7} {r['episodes']:>9} {r['wall_s']:>7.2f}",
                flush=True,
            )
            walls.append(r["wall_s"])
            solved += r["solved"]
    print(f"solved {solved}/{args.seeds} seeds; median wall {statistics.median(walls):.2f} s")


if __name__ == "__main__":
    main()
