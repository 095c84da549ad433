"""Generalization to unseen expression shapes: train variants over seeds, print a Markdown table.

    python benchmarks/generalization.py                          # transformer, seeds 0..4
    python benchmarks/generalization.py --variant gru-seq --variant transformer --jobs 2
    python benchmarks/generalization.py --out runs/gen --md docs/generalization_table.md

Every run is ``nativeagent train --preset generalization --seed S`` plus the variant's settings
(1 torch thread each; ``--jobs`` runs that many at once). Seen accuracy is greedy on 1,000
fresh episodes per stage, every seen shape in turn; held-out accuracy is greedy on 1,000
episodes over the held-out shapes, with its 95% Wilson interval; optimality is the agent's
program length over the solver's shortest on the episodes it solved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nativeagent.tokens import RCL, STO

#: Settings laid over the ``generalization`` preset by each variant.
GRU = ['model.kind="gru"', 'model.encoder="gru"']
VARIANTS: dict[str, list[str]] = {
    "transformer": [],
    "gru": GRU,
    "gru-mean": ['model.kind="gru"', 'model.encoder="mean"'],
    "gru-no-focus": [*GRU, "curriculum.focus=0.0"],
    "gru-mixed": [*GRU, 'curriculum.kind="mixed"'],
    "gru-ppo": [*GRU, 'algo.name="ppo"'],
    "gru-grpo": [*GRU, 'algo.name="grpo"'],
    "transformer-no-focus": ["curriculum.focus=0.0"],
}


def run(variant: str, seed: int, out: Path, extra: list[str]) -> dict:
    """Train one run in a subprocess (as a user would) and return its ``result.json``."""
    run_dir = out / variant / f"seed{seed}"
    if not (run_dir / "result.json").exists():
        sets = [*VARIANTS[variant], *extra, "train.threads=1"]
        cmd = [sys.executable, "-m", "nativeagent", "train", "--preset", "generalization"]
        cmd += ["--seed", str(seed), "--out", str(run_dir), "--quiet", "--overwrite"]
        cmd += [arg for s in sets for arg in ("--set", s)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads((run_dir / "result.json").read_text())


def row(variant: str, seed: int, r: dict) -> str:
    h = r["held_out"]
    seen = " / ".join(f"{r['accuracy'][k]:.3f}" for k in sorted(r["accuracy"]))
    opt = statistics.fmean(v for v in r["optimality"].values() if v is not None)
    return (
        f"| {variant} | {seed} | {'yes' if r['solved'] else 'no'} | {seen} | "
        f"{h['accuracy']:.3f} [{h['interval'][0]:.3f}, {h['interval'][1]:.3f}] | "
        f"{opt:.3f} | {h['optimality'] or float('nan'):.3f} | {r['updates']} | "
        f"{r['wall_s']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--seeds", type=int, default=5, help="run seeds 0..N-1")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (1 thread each)")
    parser.add_argument("--out", type=Path, default=Path("runs/generalization"))
    parser.add_argument("--set", action="append", default=[], help="section.key=value")
    parser.add_argument("--md", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    variants = args.variant or ["transformer"]
    trials = [(v, s) for v in variants for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda t: run(*t, args.out, args.set), trials))
    lines = [
        "| variant | seed | seen solved | seen T0 / T1 / T2 | held-out [95% CI] | "
        "optimality seen | optimality held-out | updates | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(v, s, r) for (v, s), r in zip(trials, results, strict=True)]
    lines += ["", "| variant | seeds solved | held-out mean | held-out min–max | median updates |"]
    lines += ["|---|---|---|---|---|"]
    by_variant: dict[str, list[dict]] = {v: [] for v in variants}
    for (v, _), r in zip(trials, results, strict=True):
        by_variant[v].append(r)
    for v, rs in by_variant.items():
        held = [r["held_out"]["accuracy"] for r in rs]
        lines.append(
            f"| {v} | {sum(r['solved'] for r in rs)}/{len(rs)} | {statistics.fmean(held):.3f} | "
            f"{min(held):.3f}–{max(held):.3f} | "
            f"{statistics.median(r['updates'] for r in rs):.0f} |"
        )
    lines += ["", *per_shape_table(variants[0], by_variant[variants[0]])]
    table = "\n".join(lines)
    print(table)
    if args.md:
        args.md.write_text(table + "\n")


def kind_of(expression: str) -> str:
    """How a shape's shortest program relates to its postfix form.

    ``in order``: its tools are the postfix operators in order (reading the expression left to
    right is enough); ``rewritten``: other operators or order, no memory (associativity or a
    sign flip); ``memory``: it needs STO and RCL.
    """
    from nativeagent.tasks import OP_TOKENS, Task

    task = Task.parse(expression)
    program = task.shortest_program() or ()
    if STO in program or RCL in program:
        return "memory"
    ops = [OP_TOKENS[x] for x in task.postfix if isinstance(x, str)]
    return "in order" if list(program[:-1]) == ops else "rewritten"


def per_shape_table(variant: str, results: list[dict]) -> list[str]:
    """Held-out accuracy of every held-out shape, averaged over one variant's seeds."""
    from nativeagent.tasks import Task
    from nativeagent.tokens import name

    per_shape: dict[str, list[float]] = {}
    for r in results:
        for expr, (k, n) in r["held_out"]["tasks"].items():
            per_shape.setdefault(expr, []).append(k / n)
    episodes = statistics.median(n for r in results for _, n in r["held_out"]["tasks"].values())
    lines = [
        f"Held-out shapes, {variant}: accuracy per seed and its mean "
        f"(about {episodes:.0f} episodes per shape and seed)",
        "",
        "| shape | shortest program | kind | per seed | mean |",
        "|---|---|---|---|---|",
    ]
    for expr, accs in sorted(per_shape.items(), key=lambda kv: -statistics.fmean(kv[1])):
        program = " ".join(name(t) for t in Task.parse(expr).shortest_program() or ())
        seeds = " ".join(f"{a:.2f}" for a in accs)
        lines.append(
            f"| `{expr}` | {program} | {kind_of(expr)} | {seeds} | {statistics.fmean(accs):.2f} |"
        )
    kinds: dict[str, list[float]] = {}
    for expr, accs in per_shape.items():
        kinds.setdefault(kind_of(expr), []).append(statistics.fmean(accs))
    lines += ["", "| kind | shapes | mean held-out accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {len(v)} | {statistics.fmean(v):.2f} |" for k, v in sorted(kinds.items())]
    return lines


if __name__ == "__main__":
    main()
