"""Generalization to unseen and longer expressions: train variants over splits and seeds, evaluate
every run on its held-out shapes and on expressions of 5 to 12 operands, and print every table
of docs/generalization.md (``--plot``: the length curves as a PNG).

    python benchmarks/generalization.py                                # the preset, 3 x 5 runs
    python benchmarks/generalization.py --variant previous --splits 1 --seeds 3
    python benchmarks/generalization.py --variant preset --variant extended --plot length.png

Every run is ``nativeagent train --preset generalization --seed S --set task.split_seed=K``
plus the variant's settings (the preset fixes 1 torch thread per run; ``--jobs`` runs that many
at once). After training, each run is evaluated greedily as ``nativeagent eval RUN --operands N
[--sample 200] --json`` would: on every expression over 5 operands the machine computes within
the run's raised step limit, and on samples of 200 expressions over 6, 8, 10 and 12 operands
drawn by running random programs, half of them needing memory
(``nativeagent expressions --operands N --sample 200``). Each expression set is drawn once per
machine and kept in ``--out/sets``, so that every variant is scored on the same expressions.
Finished runs and evaluations are kept in ``--out`` and reused.
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

from nativeagent.stats import estimate
from nativeagent.tasks.generate import reachable_set
from nativeagent.tasks.kinds import KINDS, classify
from nativeagent.tasks.task import Task
from nativeagent.training.checkpoint import load_policy
from nativeagent.training.expressions import evaluate_expressions, step_limit

#: What the previous preset lacked: the read head at both cursors, the cells' ``unused``
#: feature and signed operators.
NO_READ = [
    "decode.window=0",
    "decode.operator_window=0",
    "decode.observe_unused=false",
    "task.sign_operators=false",
]
TRANSFORMER = ['model.kind="transformer"']
#: Settings laid over the ``generalization`` preset by each variant, and what each is.
VARIANTS: dict[str, tuple[list[str], str]] = {
    "preset": (
        [],
        "the preset: history-free MLP, read head at the cursor and the operator cursor, "
        "unused cells, signed operators",
    ),
    "previous": (
        [*TRANSFORMER, *NO_READ],
        "the previous preset: Transformer, absolute positions, no read head",
    ),
    "coupled": (
        [*TRANSFORMER, *NO_READ, 'model.positions="coupled"', "train.max_updates=2000"],
        "(a) the previous preset with coupled positions (at most 2,000 updates: about 0.3 s "
        "each)",
    ),
    "read-head": ([*TRANSFORMER], "(b) Transformer, absolute positions, the preset's read head"),
    "coupled+read-head": (
        [*TRANSFORMER, 'model.positions="coupled"'],
        "(a)+(b) Transformer with coupled positions and the preset's read head",
    ),
    "gru+read-head": (
        ['model.kind="gru"'],
        "the tutorial's GRU with the preset's read head (the history-free row is the preset)",
    ),
    "no-operator-cursor": (
        ["decode.operator_window=0"],
        "the preset reading at the cursor only (no operator cursor)",
    ),
    "no-operator-signs": (["task.sign_operators=false"], "the preset without signed operators"),
    "extended": (['machine.name="extended"'], "the preset on the `extended` profile"),
}
#: Operand counts evaluated, and the sample drawn at each (None: every expression).
LENGTHS: dict[int, int | None] = {5: None, 6: 200, 8: 200, 10: 200, 12: 200}
EVAL_EPISODES = {5: 5000, 6: 2000, 8: 2000, 10: 2000, 12: 2000}
EVAL_SEED = 2024  # ``nativeagent eval``'s default seed: contexts and the sample's draw
_SETS_LOCK = threading.Lock()


def train(variant: str, split: int, seed: int, out: Path, extra: Sequence[str]) -> Path:
    """Train one run in a subprocess, as a user would (skipped when it is already done)."""
    run_dir = out / variant / f"split{split}-seed{seed}"
    if not (run_dir / "result.json").exists():
        sets = [*VARIANTS[variant][0], *extra, f"task.split_seed={split}"]
        cmd = [sys.executable, "-m", "nativeagent", "train", "--preset", "generalization"]
        cmd += ["--seed", str(seed), "--out", str(run_dir), "--quiet", "--overwrite"]
        cmd += [arg for s in sets for arg in ("--set", s)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return run_dir


def expression_set(out: Path, operands: int, machine: str, limit: int) -> list[Task]:
    """The expressions every run of ``machine`` is scored on at ``operands``, drawn (or listed)
    once and kept in ``out/sets``."""
    with _SETS_LOCK:
        return _expression_set(out, operands, machine, limit)


@cache
def _expression_set(out: Path, operands: int, machine: str, limit: int) -> list[Task]:
    path = out / "sets" / f"{machine}-{operands}-operands-{limit}-steps.json"
    if not path.exists():
        tasks = reachable_set(operands, machine, limit, LENGTHS[operands], EVAL_SEED)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([t.expression for t in tasks]))
    return [Task.parse(e) for e in json.loads(path.read_text())]


def length_eval(run_dir: Path, out: Path, operands: int) -> dict[str, Any]:
    """What ``nativeagent eval RUN --operands N [--sample K] --json`` prints, kept beside
    the run."""
    path = run_dir / f"eval-{operands}-operands.json"
    if not path.exists():
        model, cfg = load_policy(run_dir)
        limit = step_limit(cfg, operands)
        tasks = expression_set(out, operands, cfg.machine.name, limit)
        gen = torch.Generator().manual_seed(EVAL_SEED)
        acc = evaluate_expressions(model, cfg, tasks, EVAL_EPISODES[operands], gen, None, limit)
        path.write_text(json.dumps(acc.to_json()))
    return json.loads(path.read_text())


def one(variant: str, split: int, seed: int, out: Path, extra: Sequence[str]) -> dict[str, Any]:
    """Train, then evaluate on longer expressions; the run's figures in one dict."""
    run_dir = train(variant, split, seed, out, extra)
    result = json.loads((run_dir / "result.json").read_text())
    evals = {n: length_eval(run_dir, out, n) for n in LENGTHS}
    result["lengths"] = {n: e["overall"]["accuracy"] for n, e in evals.items()}
    result["length_kinds"] = {n: by_kind(_counts(e)) for n, e in evals.items()}
    result["by_kind"] = by_kind(result["held_out"]["tasks"])
    return {"variant": variant, "split": split, "seed": seed, **result}


def _counts(evaluation: dict[str, Any]) -> dict[str, list[int]]:
    """``{expression: [correct, episodes]}`` of an ``eval --json`` record."""
    return {
        e: [round(v["accuracy"] * v["episodes"]), v["episodes"]]
        for e, v in evaluation["expressions"].items()
    }


@cache
def kind_of(expression: str) -> str:
    """``in order``, ``rewritten`` or ``memory`` (``nativeagent.tasks.kinds``)."""
    return classify(Task.parse(expression).tree)


def by_kind(tasks: dict[str, list[int]]) -> dict[str, float | None]:
    """Accuracy pooled over the expressions of each kind (``None``: no expression of it)."""
    totals = {k: [0, 0] for k in KINDS}
    for expression, (correct, episodes) in tasks.items():
        t = totals[kind_of(expression)]
        t[0], t[1] = t[0] + correct, t[1] + episodes
    return {k: (c / n if n else None) for k, (c, n) in totals.items()}


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _mean_min(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} ({min(values):.3f})" if values else "-"


def _mean_ci(values: list[float]) -> str:
    """Mean over runs with its 95% bootstrap interval (over runs)."""
    if not values:
        return "-"
    e = estimate(values, lambda x: x.mean(axis=-1))
    return f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"


def summary_rows(runs: list[dict[str, Any]], variants: list[str]) -> list[str]:
    """One row per variant: means over its runs, the worst run in parentheses."""
    lengths = " | ".join(f"{n} operands" for n in LENGTHS)
    lines = [
        f"| variant | what differs | runs | seen solved | held-out: mean (worst) | in order | "
        f"rewritten | memory | {lengths} | median updates | median wall s |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(LENGTHS) + "---|---|",
    ]
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        kinds = {k: [r["by_kind"][k] for r in rs if r["by_kind"][k] is not None] for k in KINDS}
        lines.append(
            f"| {v} | {VARIANTS[v][1]} | {len(rs)} | {sum(r['solved'] for r in rs)}/{len(rs)} | "
            f"{_mean_min([r['held_out']['accuracy'] for r in rs])} | "
            + " | ".join(_mean_min(kinds[k]) for k in KINDS)
            + " | "
            + " | ".join(_mean_min([r["lengths"][n] for r in rs]) for n in LENGTHS)
            + f" | {statistics.median(r['updates'] for r in rs):.0f} | "
            f"{statistics.median(r['wall_s'] for r in rs):.0f} |"
        )
    return lines


def curve_rows(runs: list[dict[str, Any]], variants: list[str]) -> list[str]:
    """The length curve of each variant: accuracy at each operand count, the mean over runs
    with its 95% bootstrap interval (held-out shapes stand for 2 to 4 operands)."""
    lines = [
        "| variant | held-out (2-4) | " + " | ".join(f"{n}" for n in LENGTHS) + " |",
        "|---|---|" + "---|" * len(LENGTHS),
    ]
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        held = _mean_ci([r["held_out"]["accuracy"] for r in rs])
        cells = [_mean_ci([r["lengths"][n] for r in rs]) for n in LENGTHS]
        lines.append(f"| {v} | {held} | " + " | ".join(cells) + " |")
    return lines


def kind_curve_rows(runs: list[dict[str, Any]], variant: str) -> list[str]:
    """One variant's length curve by kind: mean over runs (runs without the kind left out)."""
    lines = [
        f"Length curve of `{variant}` by kind (mean over runs, 95% bootstrap interval):",
        "",
        "| kind | " + " | ".join(f"{n} operands" for n in LENGTHS) + " |",
        "|---|" + "---|" * len(LENGTHS),
    ]
    rs = [r for r in runs if r["variant"] == variant]
    for k in KINDS:
        cells = []
        for n in LENGTHS:
            values = [r["length_kinds"][n][k] for r in rs if r["length_kinds"][n][k] is not None]
            cells.append(_mean_ci(values))
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def run_rows(runs: list[dict[str, Any]]) -> list[str]:
    """One row per run."""
    lines = [
        "| variant | split | seed | seen solved | held-out [95% CI] | in order | rewritten | "
        "memory | " + " | ".join(f"{n}" for n in LENGTHS) + " | updates | wall s |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(LENGTHS) + "---|---|",
    ]
    for r in runs:
        h, k = r["held_out"], r["by_kind"]
        lines.append(
            f"| {r['variant']} | {r['split']} | {r['seed']} | {'yes' if r['solved'] else 'no'} | "
            f"{h['accuracy']:.3f} [{h['interval'][0]:.3f}, {h['interval'][1]:.3f}] | "
            f"{_f(k['in order'])} | {_f(k['rewritten'])} | {_f(k['memory'])} | "
            + " | ".join(f"{r['lengths'][n]:.3f}" for n in LENGTHS)
            + f" | {r['updates']} | {r['wall_s']:.0f} |"
        )
    return lines


def worst_shapes(runs: list[dict[str, Any]], variant: str, count: int = 10) -> list[str]:
    """The held-out shapes the variant gets wrong most often, pooled over its runs."""
    pooled: dict[str, list[int]] = {}
    for r in (r for r in runs if r["variant"] == variant):
        for expression, (correct, episodes) in r["held_out"]["tasks"].items():
            p = pooled.setdefault(expression, [0, 0, 0])
            p[0], p[1], p[2] = p[0] + correct, p[1] + episodes, p[2] + 1
    worst = [kv for kv in sorted(pooled.items(), key=lambda kv: kv[1][0] / kv[1][1])[:count]]
    lines = [
        f"Held-out shapes of `{variant}` with the lowest accuracy, pooled over the runs that "
        "held them out:",
        "",
        "| shape | kind | runs holding it out | accuracy |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{e}` | {kind_of(e)} | {n} | {c / m:.3f} |" for e, (c, m, n) in worst]
    return lines


def plot(runs: list[dict[str, Any]], variants: list[str], path: Path) -> None:
    """``length.png``: accuracy against operand count, the mean over runs with its 95% bootstrap
    band (held-out shapes, 2 to 4 operands, at x = 4): one line per variant on the left, and
    the first variant by kind on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [4, *LENGTHS]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)

    def curve(ax: Any, series: list[list[float]], label: str) -> None:
        points = [estimate(s, lambda x: x.mean(axis=-1)) for s in series]
        line = ax.plot(xs, [p.value for p in points], marker="o", label=label)[0]
        lows, highs = [p.low for p in points], [p.high for p in points]
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.15)

    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        series = [[r["held_out"]["accuracy"] for r in rs]]
        curve(left, series + [[r["lengths"][n] for r in rs] for n in LENGTHS], f"{v} ({len(rs)})")
    rs = [r for r in runs if r["variant"] == variants[0]]
    for k in KINDS:
        held = [r["by_kind"][k] for r in rs if r["by_kind"][k] is not None]
        lengths = [[r["length_kinds"][n][k] for r in rs] for n in LENGTHS]
        curve(right, [held, *lengths], k)
    left.set_title("every expression (samples: half need memory)", fontsize=10)
    right.set_title(f"{variants[0]}, by kind", fontsize=10)
    for ax in (left, right):
        ax.set(xlabel="operands", ylim=(0, 1.02), xlim=(3.5, 12.5), xticks=xs)
        ax.set_xticklabels(["2-4\nheld out", *map(str, LENGTHS)])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    left.set_ylabel("greedy accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    parser.add_argument("--plot", type=Path, help="also draw the length curves (PNG)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # evaluations run ``--jobs`` at once, beside the trainings
    variants = args.variant or ["preset"]
    trials = [(v, k, s) for v in variants for k in range(args.splits) for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda t: one(*t, args.out, args.set), trials))
    lines = [*summary_rows(runs, variants), "", *curve_rows(runs, variants)]
    for v in variants:
        lines += ["", *kind_curve_rows(runs, v), "", *worst_shapes(runs, v)]
    lines += ["", *run_rows(runs)]
    table = "\n".join(lines)
    print(table)
    if args.md:
        args.md.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    if args.plot:
        plot(runs, variants, args.plot)


if __name__ == "__main__":
    main()
