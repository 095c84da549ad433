"""Generalization to unseen and longer expressions: train variants over splits and seeds, then
print every table of docs/generalization.md.

    python benchmarks/generalization.py                                # the preset, 3 x 5 runs
    python benchmarks/generalization.py --variant no-signs --splits 1 --seeds 3
    python benchmarks/generalization.py --variant default --variant extended --md out.md

Every run is ``nativeagent train --preset generalization --seed S --set task.split_seed=K``
plus the variant's settings (the preset fixes 1 torch thread per run; ``--jobs`` runs that
many at once). After training, each run is evaluated greedily as
``nativeagent eval RUN --operands 5 --episodes 5000`` (every reachable 5-operand expression)
and ``--operands 6 --sample 200 --episodes 2000`` (a fixed sample of 6-operand ones) would,
in this process so that each expression set is built once. On ``extended`` the 6-operand
sample is drawn within the run's own 12 tools (``--max-steps 12``): the solver's search at the
raised limit (18) does not finish in hours. Finished runs and evaluations are kept in
``--out`` and reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import torch

from nativeagent.tasks.generate import reachable_set
from nativeagent.training.checkpoint import load_policy
from nativeagent.training.expressions import evaluate_expressions, step_limit

#: Settings laid over the ``generalization`` preset by each variant.
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "no-signs": ["task.show_signs=false"],
    "no-observe": ["decode.observe=false"],
    "neither": ["task.show_signs=false", "decode.observe=false"],
    "no-positions": ['model.positions="none"'],
    "randomized": ['model.positions="randomized"'],
    "gru": ['model.kind="gru"', 'model.encoder="gru"'],
    "extended": ['machine.name="extended"'],
    "extended-neither": [
        'machine.name="extended"',
        "task.show_signs=false",
        "decode.observe=false",
    ],
}
WHAT: dict[str, str] = {
    "default": "the preset: Transformer, tool observations, running signs",
    "no-signs": "without running signs (`task.show_signs=false`)",
    "no-observe": "without tool observations (`decode.observe=false`)",
    "neither": "without either: the previous preset",
    "no-positions": 'no position embedding (`model.positions="none"`)',
    "randomized": 'random position offsets in training (`model.positions="randomized"`)',
    "gru": 'GRU encoder and decoder (`model.kind="gru"`, `model.encoder="gru"`)',
    "extended": 'the preset on the `extended` profile (`machine.name="extended"`)',
    "extended-neither": "`extended`, without observations or signs",
}
LENGTHS = {5: None, 6: 200}  # operand count -> sample size (None: every reachable expression)
EVAL_EPISODES = {5: 5000, 6: 2000}
EVAL_SEED = 2024  # ``nativeagent eval``'s default seed: contexts and the sample's draw
#: Step limits that replace the raised one, per (machine, operands): the solver's search cost.
LIMITS = {("extended", 6): 12}
_SETS_LOCK = threading.Lock()
KINDS = ("in order", "rewritten", "memory")


def train(variant: str, split: int, seed: int, out: Path, extra: Sequence[str]) -> Path:
    """Train one run in a subprocess, as a user would (skipped when it is already done)."""
    run_dir = out / variant / f"split{split}-seed{seed}"
    if not (run_dir / "result.json").exists():
        sets = [*VARIANTS[variant], *extra, f"task.split_seed={split}"]
        cmd = [sys.executable, "-m", "nativeagent", "train", "--preset", "generalization"]
        cmd += ["--seed", str(seed), "--out", str(run_dir), "--quiet", "--overwrite"]
        cmd += [arg for s in sets for arg in ("--set", s)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return run_dir


@cache
def _expression_set(operands: int, machine: str, limit: int) -> list[Any]:
    return reachable_set(operands, machine, limit, LENGTHS[operands], EVAL_SEED)


def length_eval(run_dir: Path, operands: int) -> dict[str, Any]:
    """What ``nativeagent eval RUN --operands N [--sample K] --json`` prints, kept beside
    the run."""
    path = run_dir / f"eval-{operands}-operands.json"
    if not path.exists():
        model, cfg = load_policy(run_dir)
        limit = step_limit(cfg, operands, LIMITS.get((cfg.machine.name, operands)))
        with _SETS_LOCK:
            tasks = _expression_set(operands, cfg.machine.name, limit)
        gen = torch.Generator().manual_seed(EVAL_SEED)
        acc = evaluate_expressions(model, cfg, tasks, EVAL_EPISODES[operands], gen, None, limit)
        path.write_text(json.dumps(acc.to_json()))
    return json.loads(path.read_text())


def one(variant: str, split: int, seed: int, out: Path, extra: Sequence[str]) -> dict[str, Any]:
    """Train, then evaluate on longer expressions; the run's figures in one dict."""
    run_dir = train(variant, split, seed, out, extra)
    result = json.loads((run_dir / "result.json").read_text())
    result["lengths"] = {n: length_eval(run_dir, n)["overall"] for n in LENGTHS}
    result["by_kind"] = by_kind(result["held_out"]["tasks"], result["machine"])
    return {"variant": variant, "split": split, "seed": seed, **result}


@cache
def kind_of(expression: str, machine: str) -> str:
    """``in order``, ``rewritten`` or ``memory`` (``nativeagent.tasks.kinds``)."""
    from nativeagent.tasks.kinds import kind
    from nativeagent.tasks.task import Task

    return kind(Task.parse(expression), machine)


def by_kind(tasks: dict[str, list[int]], machine: str) -> dict[str, float | None]:
    """Held-out accuracy pooled over the shapes of each kind (``None``: no shape of it)."""
    totals = {k: [0, 0] for k in KINDS}
    for expression, (correct, episodes) in tasks.items():
        t = totals[kind_of(expression, machine)]
        t[0], t[1] = t[0] + correct, t[1] + episodes
    return {k: (c / n if n else None) for k, (c, n) in totals.items()}


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _mean_min(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} ({min(values):.3f})" if values else "-"


def run_rows(runs: list[dict[str, Any]]) -> list[str]:
    """One row per run."""
    lines = [
        "| variant | split | seed | seen solved | seen T0 / T1 / T2 | held-out [95% CI] | "
        "in order | rewritten | memory | 5 operands | 6 operands | updates | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        h, k = r["held_out"], r["by_kind"]
        seen = " / ".join(f"{r['accuracy'][s]:.3f}" for s in sorted(r["accuracy"]))
        lines.append(
            f"| {r['variant']} | {r['split']} | {r['seed']} | {'yes' if r['solved'] else 'no'} | "
            f"{seen} | {h['accuracy']:.3f} [{h['interval'][0]:.3f}, {h['interval'][1]:.3f}] | "
            f"{_f(k['in order'])} | {_f(k['rewritten'])} | {_f(k['memory'])} | "
            f"{r['lengths'][5]['accuracy']:.3f} | {r['lengths'][6]['accuracy']:.3f} | "
            f"{r['updates']} | {r['wall_s']:.0f} |"
        )
    return lines


def summary_rows(runs: list[dict[str, Any]], variants: list[str]) -> list[str]:
    """One row per variant: means over its runs, the worst run in parentheses."""
    lines = [
        "| variant | what differs | runs | seen solved | seen, worst stage | held-out: mean "
        "(worst) | in order | rewritten | memory | 5 operands: mean (worst) | 6 operands: mean "
        "(worst) | median updates | median wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        kinds = {k: [r["by_kind"][k] for r in rs if r["by_kind"][k] is not None] for k in KINDS}
        lines.append(
            f"| {v} | {WHAT[v]} | {len(rs)} | {sum(r['solved'] for r in rs)}/{len(rs)} | "
            f"{min(min(r['accuracy'].values()) for r in rs):.3f} | "
            f"{_mean_min([r['held_out']['accuracy'] for r in rs])} | "
            + " | ".join(_mean_min(kinds[k]) for k in KINDS)
            + " | "
            + " | ".join(_mean_min([r["lengths"][n]["accuracy"] for r in rs]) for n in LENGTHS)
            + f" | {statistics.median(r['updates'] for r in rs):.0f} | "
            f"{statistics.median(r['wall_s'] for r in rs):.0f} |"
        )
    return lines


def worst_shapes(runs: list[dict[str, Any]], variant: str, count: int = 12) -> list[str]:
    """The held-out shapes the variant gets wrong most often, pooled over its runs."""
    pooled: dict[str, list[int]] = {}
    machine = "canonical"
    for r in (r for r in runs if r["variant"] == variant):
        machine = r["machine"]
        for expression, (correct, episodes) in r["held_out"]["tasks"].items():
            p = pooled.setdefault(expression, [0, 0, 0])
            p[0], p[1], p[2] = p[0] + correct, p[1] + episodes, p[2] + 1
    worst = sorted(pooled.items(), key=lambda kv: kv[1][0] / kv[1][1])[:count]
    lines = [
        f"Held-out shapes of `{variant}` with the lowest accuracy, pooled over the runs that "
        "held them out:",
        "",
        "| shape | kind | runs holding it out | accuracy |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{e}` | {kind_of(e, machine)} | {n} | {c / m:.3f} |" for e, (c, m, n) in worst]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--splits", type=int, default=3, help="split seeds 0..K-1")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (1 thread each)")
    parser.add_argument("--out", type=Path, default=Path("runs/generalization"))
    parser.add_argument("--set", action="append", default=[], help="section.key=value")
    parser.add_argument("--md", type=Path, help="also write the tables to this file")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # evaluations run ``--jobs`` at once, beside the trainings
    variants = args.variant or ["default"]
    trials = [(v, k, s) for v in variants for k in range(args.splits) for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda t: one(*t, args.out, args.set), trials))
    lines = [*summary_rows(runs, variants), "", *run_rows(runs)]
    for v in variants:
        lines += ["", *worst_shapes(runs, v)]
    table = "\n".join(lines)
    print(table)
    if args.md:
        args.md.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
