"""A study's results, from its directory alone: what ``study.json``, ``summary.md``,
``summary.csv`` and ``length.png`` hold (the page is ``page.py``; ``outputs.py`` writes them).

Per variant: seen stages solved k/n; held-out accuracy, mean over runs and the worst run; the
held-out accuracy by kind (in order, rewritten, memory); the accuracy on every set with its 95%
bootstrap interval over runs (the length curve); median updates and wall seconds.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from nativeagent.analysis.plot import _matplotlib
from nativeagent.experiments.study.evaluate import diverged, eval_path
from nativeagent.experiments.study.plan import EvalSet, read_plan
from nativeagent.experiments.sweep.plan import finished_result
from nativeagent.stats import Estimate, estimate
from nativeagent.tasks.kinds import KINDS, classify
from nativeagent.tasks.task import Task

STUDY_JSON, SUMMARY_MD, SUMMARY_CSV, LENGTH_PNG = (
    "study.json",
    "summary.md",
    "summary.csv",
    "length.png",
)


@cache
def kind_of(expression: str) -> str:
    """``in order``, ``rewritten`` or ``memory`` (``nativeagent.tasks.kinds``)."""
    return classify(Task.parse(expression).tree)


def by_kind(expressions: dict[str, list[int]]) -> dict[str, float | None]:
    """Accuracy pooled over the expressions of each kind (``None``: none of that kind)."""
    totals = {k: [0, 0] for k in KINDS}
    for expression, (correct, episodes) in expressions.items():
        t = totals[kind_of(expression)]
        t[0], t[1] = t[0] + correct, t[1] + episodes
    return {k: (c / n if n else None) for k, (c, n) in totals.items()}


@dataclass
class Run:
    """One run of the study: where it stands, its result and its evaluations."""

    variant: str
    split: int | None
    seed: int
    run_dir: str  # relative to the study's directory
    result: dict[str, Any] | None  # result.json (or diverged.json); None: not finished
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    diverged: bool = False  # its loss became non-finite: there is no model to score
    complete: bool = False  # trained (or diverged) and scored on every set

    @property
    def scored(self) -> bool:
        """Trained and scored on every set of the study."""
        return self.complete and not self.diverged

    @property
    def status(self) -> str:
        """``diverged``, ``scored`` or ``unfinished``."""
        return "diverged" if self.diverged else "scored" if self.scored else "unfinished"

    def accuracy(self, set_name: str) -> float:
        return float(self.evaluations[set_name]["accuracy"])

    def kinds(self, set_name: str) -> dict[str, float | None]:
        return by_kind(self.evaluations[set_name]["expressions"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "split": self.split,
            "seed": self.seed,
            "run_dir": self.run_dir,
            "status": self.status,
            "result": self.result,
            "evaluations": self.evaluations,
        }


@dataclass(frozen=True)
class Summary:
    """Everything the outputs show, built from a study directory."""

    plan: dict[str, Any]
    sets: tuple[EvalSet, ...]
    runs: tuple[Run, ...]

    @property
    def command(self) -> str:
        """The command that ran the study (``nativeagent study FILE --out DIR``)."""
        return str(self.plan.get("command", ""))

    @property
    def variants(self) -> list[str]:
        return list(self.plan["variants"])

    @property
    def name(self) -> str:
        return str(self.plan["name"])

    def of(self, variant: str) -> list[Run]:
        """The variant's runs scored on every set."""
        return [r for r in self.runs if r.variant == variant and r.scored]

    @property
    def held_out(self) -> EvalSet | None:
        """The first held-out set, whose kinds the tables show."""
        return next((e for e in self.sets if e.kind == "held-out"), None)

    @property
    def lengths(self) -> list[EvalSet]:
        """The sets of longer expressions, in the study file's order."""
        return [e for e in self.sets if e.kind != "held-out"]


def collect(out_dir: Path) -> Summary:
    """Every run of the study in ``out_dir`` (from ``plan.json`` and the run directories)."""
    plan = read_plan(out_dir)
    sets = tuple(EvalSet(**e) for e in plan["sets"])
    runs = []
    for t in plan["trials"]:
        run_dir = out_dir / t["run_dir"]
        variant = t["id"].split("/")[0]
        split = t["config"]["task"]["split_seed"] if len(t["id"].split("/")) == 3 else None
        run = Run(variant, split, t["config"]["train"]["seed"], t["run_dir"], None)
        run.result = finished_result(run_dir)
        run.diverged = diverged(run_dir)
        for e in sets:
            path = eval_path(run_dir, e)
            if path.exists():
                run.evaluations[str(e.name)] = json.loads(path.read_text())
        run.complete = run.result is not None and (
            run.diverged or len(run.evaluations) == len(sets)
        )
        runs.append(run)
    return Summary(plan, sets, tuple(runs))


# --- numbers ------------------------------------------------------------------------------


def mean_ci(values: Sequence[float]) -> Estimate | None:
    """Mean over runs with its 95% bootstrap interval (over runs)."""
    return estimate(values, lambda x: x.mean(axis=-1)) if values else None


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _mean_min(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):.3f} ({min(values):.3f})" if values else "-"


def _ci(e: Estimate | None) -> str:
    return "-" if e is None else f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def kind_values(runs: Sequence[Run], set_name: str, kind: str) -> list[float]:
    """Each run's accuracy on the set's expressions of ``kind`` (runs without any left out)."""
    return [v for r in runs if (v := r.kinds(set_name)[kind]) is not None]


def variant_row(s: Summary, variant: str) -> dict[str, Any]:
    """The variant's figures, as ``summary.csv`` has them (``None``: nothing to show)."""
    rs, every = s.of(variant), [r for r in s.runs if r.variant == variant]
    row: dict[str, Any] = {
        "variant": variant,
        "description": s.plan["variants"][variant]["description"],
        "overrides": " ".join(s.plan["variants"][variant]["overrides"]),
        "runs": len(every),
        "scored": len(rs),
        "diverged": sum(r.diverged for r in every),
        "solved": sum(bool(r.result and r.result.get("solved")) for r in every if r.result),
    }
    for e in s.sets:
        values = [r.accuracy(str(e.name)) for r in rs]
        est = mean_ci(values)
        row[f"{e.name}_mean"] = est.value if est else None
        row[f"{e.name}_low"] = est.low if est else None
        row[f"{e.name}_high"] = est.high if est else None
        row[f"{e.name}_worst"] = min(values) if values else None
        for k in KINDS:
            kv = kind_values(rs, str(e.name), k)
            row[f"{e.name}_{k.replace(' ', '_')}"] = statistics.fmean(kv) if kv else None
    row["median_updates"] = _median([r.result["updates"] for r in rs if r.result])
    row["median_wall_s"] = _median([r.result["wall_s"] for r in rs if r.result])
    return row


# --- Markdown -------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def summary_table(s: Summary) -> list[str]:
    """One row per variant: means over its runs, the worst run in parentheses."""
    held = s.held_out
    header = ["variant", "what differs", "runs", "seen solved"]
    if held:
        header += [f"{held.name}: mean (worst)", *KINDS]
    header += [str(e.name) for e in s.lengths] + ["median updates", "median wall s"]
    rows = []
    for v in s.variants:
        rs, every = s.of(v), [r for r in s.runs if r.variant == v]
        row = s.plan["variants"][v]
        finished = [r for r in every if r.result is not None]
        cells = [
            v,
            row["description"] or " ".join(f"`{o}`" for o in row["overrides"]) or "-",
            str(len(rs)) + (f" of {len(every)}" if len(rs) != len(every) else ""),
            f"{sum(bool(r.result and r.result.get('solved')) for r in finished)}/{len(finished)}",
        ]
        if held:
            cells.append(_mean_min([r.accuracy(str(held.name)) for r in rs]))
            cells += [_mean_min(kind_values(rs, str(held.name), k)) for k in KINDS]
        cells += [_mean_min([r.accuracy(str(e.name)) for r in rs]) for e in s.lengths]
        upd = _median([r.result["updates"] for r in rs if r.result])
        wall = _median([r.result["wall_s"] for r in rs if r.result])
        cells += ["-" if upd is None else f"{upd:.0f}", "-" if wall is None else f"{wall:.0f}"]
        rows.append(cells)
    return _table(header, rows)


def curve_table(s: Summary) -> list[str]:
    """The length curve of each variant: the mean over runs on every set, 95% interval."""
    rows = [
        [v, *(_ci(mean_ci([r.accuracy(str(e.name)) for r in s.of(v)])) for e in s.sets)]
        for v in s.variants
    ]
    return _table(["variant", *(str(e.name) for e in s.sets)], rows)


def kind_table(s: Summary, variant: str) -> list[str]:
    """One variant's accuracy on every set by kind: mean over runs, 95% interval."""
    rs = s.of(variant)
    rows = [[k, *(_ci(mean_ci(kind_values(rs, str(e.name), k))) for e in s.sets)] for k in KINDS]
    return _table(["kind", *(str(e.name) for e in s.sets)], rows)


def worst_table(s: Summary, variant: str, count: int = 10) -> list[str]:
    """The held-out shapes the variant gets wrong most often, pooled over its runs."""
    held = s.held_out
    if held is None:
        return []
    pooled: dict[str, list[int]] = {}
    for r in s.of(variant):
        for expression, (correct, episodes) in r.evaluations[str(held.name)]["expressions"].items():
            p = pooled.setdefault(expression, [0, 0, 0])
            p[0], p[1], p[2] = p[0] + correct, p[1] + episodes, p[2] + 1
    worst = sorted(pooled.items(), key=lambda kv: kv[1][0] / kv[1][1])[:count]
    rows = [[f"`{e}`", kind_of(e), str(n), f"{c / m:.3f}"] for e, (c, m, n) in worst]
    return _table(["shape", "kind", "runs holding it out", "accuracy"], rows)


def run_table(s: Summary) -> list[str]:
    """One row per run."""
    held = s.held_out
    header = ["variant", "split", "seed", "status", "seen solved"]
    header += [f"{held.name} [95% CI]", *KINDS] if held else []
    header += [str(e.name) for e in s.lengths] + ["updates", "wall s"]
    rows = []
    for r in s.runs:
        cells = [r.variant, "-" if r.split is None else str(r.split), str(r.seed), r.status]
        cells.append("-" if r.result is None else "yes" if r.result.get("solved") else "no")
        if not r.scored:
            cells += ["-"] * (len(header) - len(cells))
            rows.append(cells)
            continue
        if held:
            h = r.evaluations[str(held.name)]
            low, high = h["interval"]
            cells.append(f"{h['accuracy']:.3f} [{low:.3f}, {high:.3f}]")
            cells += [_f(r.kinds(str(held.name))[k]) for k in KINDS]
        cells += [f"{r.accuracy(str(e.name)):.3f}" for e in s.lengths]
        assert r.result is not None
        cells += [str(r.result["updates"]), f"{r.result['wall_s']:.0f}"]
        rows.append(cells)
    return _table(header, rows)


def describe_set(e: EvalSet) -> str:
    """A set in words, as ``nativeagent eval`` would be asked for it."""
    if e.kind == "held-out":
        if e.episodes is None:
            return "the run's held-out shapes, from its final evaluation (result.json)"
        return f"the run's held-out shapes: `eval RUN --episodes {e.episodes} --seed {e.seed}`"
    if e.expressions is not None:
        shown = " ".join(e.expressions[:4]) + (" ..." if len(e.expressions) > 4 else "")
        return (
            f"{len(e.expressions)} given expressions of up to {e.operands} operands: `eval RUN "
            f"--expressions {shown} --episodes {e.episodes} --seed {e.seed}`"
        )
    sample = f" --sample {e.sample}" if e.kind == "sample" else ""
    return (
        f"{'every expression' if e.kind == 'every' else f'{e.sample} expressions'} over "
        f"{e.operands} operands: `eval RUN --operands {e.operands}{sample} --episodes "
        f"{e.episodes} --seed {e.seed}`"
    )


def markdown(s: Summary) -> str:
    """``summary.md``: every table, the command that made it and what each variant sets."""
    finished = sum(r.complete for r in s.runs)
    st = s.plan["study"]
    base = f"preset `{st['preset']}`" + (f", config `{st['config']}`" if st["config"] else "")
    if st["overrides"]:
        base += ", " + ", ".join(f"`{o}`" for o in st["overrides"])
    lines = [
        f"# nativeagent study {s.name}",
        "",
        f"Made by `{s.command}`. {finished} of {len(s.runs)} runs finished"
        + ("." if finished == len(s.runs) else " (the tables show those that did)."),
        f"Base: {base}; splits {', '.join(map(str, split_seeds(s))) or '(the base)'}; "
        f"seeds {', '.join(map(str, s.plan['seeds']))}.",
        "",
        "Sets every run is scored on:",
        "",
        *(f"- **{e.name}**: {describe_set(e)}" for e in s.sets),
        "",
        "## Per variant",
        "",
        "Means over runs, the worst run in parentheses; kinds are of the held-out shapes.",
        "",
        *summary_table(s),
        "",
        "## Length curves",
        "",
        "Mean over runs with its 95% bootstrap interval (over runs).",
        "",
        *curve_table(s),
    ]
    for v in s.variants:
        lines += ["", f"### `{v}` by kind", "", *kind_table(s, v)]
        worst = worst_table(s, v)
        if worst:
            lines += ["", f"Held-out shapes of `{v}` with the lowest accuracy:", "", *worst]
    lines += ["", "## Every run", "", *run_table(s), "", "## Variants", ""]
    lines += _table(
        ["variant", "overrides"],
        [
            [v, " ".join(f"`{o}`" for o in s.plan["variants"][v]["overrides"]) or "-"]
            for v in s.variants
        ],
    )
    return "\n".join(lines) + "\n"


def split_seeds(s: Summary) -> list[int]:
    """The splits (``task.split_seed``) the study's runs were trained on."""
    return sorted({r.split for r in s.runs if r.split is not None})


def summary_csv(s: Summary) -> str:
    """One row per variant, every figure in a column of its own (empty: nothing to show)."""
    rows = [variant_row(s, v) for v in s.variants]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


# --- the length curve -----------------------------------------------------------------------


def _positions(s: Summary) -> tuple[list[float], list[str]]:
    """Where each set sits on the operand axis (held-out sets just left of the shortest
    longer set) and its tick label."""
    operands = [e.operands for e in s.lengths if e.operands is not None]
    left = (min(operands) - 1) if operands else 1
    xs, labels = [], []
    for e in s.sets:
        if e.kind == "held-out":
            xs.append(float(left))
            labels.append("held out")
        else:
            assert e.operands is not None
            xs.append(float(e.operands))
            extra = {"every": "", "sample": f"\n({e.sample})", "expressions": "\n(given)"}
            labels.append(str(e.operands) + extra[e.kind])
    return xs, labels


def length_png(s: Summary, dpi: int = 120) -> bytes:
    """Accuracy against operand count, the mean over runs with its 95% bootstrap band: one
    line per variant on the left; the first variant by kind on the right."""
    figure_cls, canvas_cls = _matplotlib()
    fig = figure_cls(figsize=(11, 4.4), dpi=dpi, layout="constrained")
    canvas_cls(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    xs, labels = _positions(s)
    order = sorted(range(len(xs)), key=lambda i: xs[i])

    def curve(ax: Any, series: list[list[float]], label: str) -> None:
        points = [(xs[i], mean_ci(series[i])) for i in order if series[i]]
        if not points:
            return
        px = [x for x, _ in points]
        est = [e for _, e in points if e is not None]
        line = ax.plot(px, [e.value for e in est], marker="o", label=label)[0]
        ax.fill_between(
            px, [e.low for e in est], [e.high for e in est], alpha=0.15, color=line.get_color()
        )

    for v in s.variants:
        rs = s.of(v)
        curve(left, [[r.accuracy(str(e.name)) for r in rs] for e in s.sets], f"{v} ({len(rs)})")
    first = s.variants[0]
    for k in KINDS:
        curve(right, [kind_values(s.of(first), str(e.name), k) for e in s.sets], k)
    left.set_title("every set, mean over runs (95% bootstrap band)", fontsize=10)
    right.set_title(f"{first}, by kind", fontsize=10)
    for ax in (left, right):
        ax.set(xlabel="operands", ylim=(0, 1.02))
        ax.set_xticks(sorted(set(xs)))
        ticks = {x: lab for x, lab in zip(xs, labels, strict=True)}
        ax.set_xticklabels([ticks[x] for x in sorted(set(xs))])
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower left")
    left.set_ylabel("greedy accuracy")
    fig.suptitle(f"nativeagent study {s.name}", fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def study_json(s: Summary) -> dict[str, Any]:
    """``study.json``: the plan's study, variants and sets, and every run with its result and
    every evaluation."""
    return {
        "name": s.name,
        "command": s.command,
        "study": s.plan["study"],
        "variants": s.plan["variants"],
        "sets": s.plan["sets"],
        "runs": [r.to_dict() for r in s.runs],
    }
