"""What a study adds to the time its runs take alone: ``nativeagent study`` against the same
trainings and evaluations run one after another as plain commands.

    python benchmarks/study_overhead.py [--seeds 6]

The study trains the generalization preset on split 0 for seeds 0..N-1, one run at a time
(``max_concurrent = 1``, 1 torch thread), and scores each on its held-out shapes and every
5-operand expression (5,000 episodes). Alone, each run is ``nativeagent train --preset
generalization --seed S`` followed by ``nativeagent eval RUN --operands 5 --episodes 5000
--json``. Both sides count everything they do: process start, imports, Ray's start and end,
the expression set, the summary and its page. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nativeagent.experiments.bench import machine_line

STUDY = """
[study]
name = "overhead"
preset = "generalization"
splits = [0]
seeds = {seeds}
[variants.preset]
[[sets]]
kind = "held-out"
[[sets]]
kind = "every"
operands = 5
episodes = 5000
[resources]
cpus_per_trial = 1
max_concurrent = 1
"""


def timed(command: list[str]) -> float:
    """Wall seconds of ``command`` run to its end (its output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="runs: seeds 0..N-1")
    args = parser.parse_args()
    nativeagent = [sys.executable, "-m", "nativeagent"]
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        alone = 0.0
        for s in seeds:
            run = root / "alone" / f"seed{s}"
            alone += timed(
                [
                    *nativeagent,
                    "train",
                    "--preset",
                    "generalization",
                    "--seed",
                    str(s),
                    "--out",
                    str(run),
                    "--quiet",
                ]
            )
            alone += timed(
                [*nativeagent, "eval", str(run), "--operands", "5", "--episodes", "5000", "--json"]
            )
        study_file = root / "overhead.toml"
        study_file.write_text(STUDY.format(seeds=seeds))
        study = timed([*nativeagent, "study", str(study_file), "--out", str(root / "study")])
        runs = json.loads((root / "study" / "study.json").read_text())["runs"]
    trained = sum(r["result"]["wall_s"] for r in runs)
    scored = sum(e["wall_s"] for r in runs for e in r["evaluations"].values())
    print(f"machine: {machine_line()}")
    print(
        f"{len(seeds)} runs of the generalization preset (split 0), each scored on held-out "
        "shapes and every 5-operand expression (5,000 episodes)\n"
    )
    print("| how | wall s |")
    print("|---|---|")
    print(
        f"| alone: `nativeagent train` then `nativeagent eval`, one run after another | "
        f"{alone:.1f} |"
    )
    print(f"| `nativeagent study` (max_concurrent = 1), in all | {study:.1f} |")
    print(f"| ... of which training (the runs' own wall_s) | {trained:.1f} |")
    print(f"| ... of which scoring (the evaluations' wall_s) | {scored:.1f} |")
    rest = study - trained - scored
    print(
        f"\nthe study's own work (Ray, the expression set, the outputs) adds {rest:.1f} s, "
        f"{100 * rest / (trained + scored):.1f}% to its runs' training and scoring; in all it "
        f"takes {100 * (study / alone - 1):+.1f}% against the runs as plain commands"
    )


if __name__ == "__main__":
    main()
