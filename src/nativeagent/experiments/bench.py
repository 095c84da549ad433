"""Benchmark algorithms × models: time to solve over seeds, with bootstrap confidence intervals.

Every combination is trained once per seed, one run at a time (so wall times are honest), in
seed-major order: a slow spell of a shared machine then hits every combination alike. A seed
*solves* when its final greedy table has every stage at mastery (``result.json``'s ``solved``).

Unsolved seeds are counted in the solved fraction ``k/n`` and excluded from the time-to-solve
statistics (median and IQM of updates, episodes and wall seconds over the ``k`` solved seeds),
so read the two together: a low ``k`` makes the times optimistic. Time to solve assumes
``train.stop_when_solved`` (the default); without it every run lasts ``train.max_updates``.

>>> c = Combination("ppo", "transformer", ("train.threads=1",))
>>> c.name, c.config_overrides()
('ppo-transformer', ['algo.name=ppo', 'model.kind=transformer', 'train.threads=1'])
>>> Combination(None, None).config_overrides()  # the config's own algorithm and model
[]
"""

from __future__ import annotations

import io
import os
import platform
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nativeagent.analysis.plot import _matplotlib, check_out_path, write_output
from nativeagent.config import load_config
from nativeagent.fileio import atomic_write_json
from nativeagent.stats import RESAMPLES, Estimate, estimate, iqm, median
from nativeagent.training.train import NonFiniteError, train

ALGOS = ("a2c", "ppo", "grpo")
MODELS = ("gru", "transformer")
METRICS = ("updates", "episodes", "wall_s")
METRIC_LABEL = {"updates": "updates", "episodes": "episodes", "wall_s": "wall s"}
TRIALS = "trials.json"
MARKDOWN = "benchmarks.md"
PNG = "benchmarks.png"

#: ``runner(overrides, seed, out_dir) -> result.json contents``: trains one run into ``out_dir``.
Runner = Callable[[list[str], int, Path], dict[str, Any]]


@dataclass(frozen=True)
class Combination:
    """One algorithm × model; ``None`` leaves that choice to the config (no override added)."""

    algo: str | None
    model: str | None
    overrides: tuple[str, ...] = ()  # further ``section.key=value`` settings for every seed
    label: str | None = None  # a name of its own (a sweep's configuration id)

    @property
    def name(self) -> str:
        """``label``, else ``algo-model`` (``default`` for ``None``); also the directory's name."""
        return self.label or f"{self.algo or 'default'}-{self.model or 'default'}"

    def config_overrides(self) -> list[str]:
        """The config overrides of this combination (without the seed)."""
        chosen = [f"algo.name={self.algo}"] if self.algo is not None else []
        if self.model is not None:
            chosen.append(f"model.kind={self.model}")
        return [*chosen, *self.overrides]


@dataclass(frozen=True)
class Trial:
    """One finished run: a combination, a seed, its run directory and its ``result.json``."""

    combination: Combination
    seed: int
    run_dir: Path
    result: dict[str, Any] = field(hash=False)

    @property
    def solved(self) -> bool:
        """The run's final greedy table had every stage at mastery."""
        return bool(self.result.get("solved"))

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        """JSON-ready; ``run_dir`` relative to ``root`` when given."""
        run_dir = self.run_dir.relative_to(root) if root is not None else self.run_dir
        c = self.combination
        return {
            "combination": c.name,
            "algo": c.algo,
            "model": c.model,
            "overrides": c.config_overrides(),
            "seed": self.seed,
            "run_dir": str(run_dir),
            "result": self.result,
        }


def train_runner(overrides: list[str], seed: int, out_dir: Path) -> dict[str, Any]:
    """Train the default preset with ``overrides`` and ``seed``; a run that diverges is unsolved.

    A ``NonFiniteError`` becomes ``{"solved": False, "error": ...}`` so one diverging seed does
    not end the benchmark.
    """
    cfg = load_config(overrides=[*overrides, f"train.seed={seed}"])
    try:
        return train(cfg, out_dir)
    except NonFiniteError as err:
        return {"solved": False, "seed": seed, "error": str(err)}


def check_combinations(combinations: Iterable[Combination]) -> None:
    """Raise ``ConfigError`` (naming the key) if any combination's settings are invalid."""
    for c in combinations:
        load_config(overrides=[*c.config_overrides(), "train.seed=0"])


def run_dir_of(out_dir: Path, combination: Combination, seed: int) -> Path:
    """Where one trial's run is kept: ``out_dir/<algo>-<model>/seed<N>``."""
    return out_dir / combination.name / f"seed{seed}"


def check_out_dir(out_dir: Path, combinations: Sequence[Combination], seeds: Iterable[int]) -> None:
    """Refuse an ``out_dir`` that is a file or already holds a benchmark or one of its runs."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    for name in (TRIALS, MARKDOWN, PNG):
        if (out_dir / name).exists():
            raise FileExistsError(f"{out_dir} already holds a bench ({name}); pick another --out")
    for seed in seeds:
        for c in combinations:
            if run_dir_of(out_dir, c, seed).exists():
                where = run_dir_of(out_dir, c, seed).relative_to(out_dir)
                raise FileExistsError(f"{out_dir} already holds run {where}; pick another --out")


#: ``progress(done, total, running, finished)``: see ``run_bench``.
ProgressFn = Callable[[int, int, str | None, Trial | None], None]


def run_bench(
    combinations: Sequence[Combination],
    seeds: Iterable[int],
    out_dir: Path,
    runner: Runner = train_runner,
    progress: ProgressFn | None = None,
) -> list[Trial]:
    """Run every combination for every seed, sequentially, seed-major; return the trials.

    ``progress(done, total, running, finished)`` is called before the first run and after each
    one, with the label of the run starting next (``None`` at the end) and the trial just
    finished (``None`` at the start). ``out_dir/trials.json`` is rewritten after every run, so
    an interrupted benchmark keeps what finished.
    """
    plan = [(c, s) for s in seeds for c in combinations]
    out_dir.mkdir(parents=True, exist_ok=True)
    trials: list[Trial] = []

    def label(i: int) -> str | None:
        return f"{plan[i][0].name} seed {plan[i][1]}" if i < len(plan) else None

    if progress:
        progress(0, len(plan), label(0), None)
    for i, (c, seed) in enumerate(plan):
        run_dir = run_dir_of(out_dir, c, seed)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        trials.append(Trial(c, seed, run_dir, runner(c.config_overrides(), seed, run_dir)))
        atomic_write_json(out_dir / TRIALS, [t.to_dict(out_dir) for t in trials])
        if progress:
            progress(i + 1, len(plan), label(i + 1), trials[-1])
    return trials


@dataclass(frozen=True)
class ComboStats:
    """Solved fraction and, over the solved seeds, median and IQM time to solve per metric."""

    name: str
    seeds: int  # n: trials of this combination
    solved: int  # k: trials that solved every stage
    median: dict[str, Estimate]  # metric -> estimate; empty when no seed solved
    iqm: dict[str, Estimate]

    @property
    def solved_fraction(self) -> float:
        """k / n."""
        return self.solved / self.seeds


def summarize(
    trials: Sequence[Trial], resamples: int = RESAMPLES, seed: int = 0
) -> list[ComboStats]:
    """Statistics per combination, in order of first appearance; unsolved seeds only count in k/n.

    Every interval uses a generator seeded with ``seed``, so a combination's numbers do not
    depend on which other combinations were benchmarked with it.
    """
    groups: dict[Combination, list[Trial]] = {}
    for t in trials:
        groups.setdefault(t.combination, []).append(t)
    out = []
    for c, group in groups.items():
        solved = [t.result for t in group if t.solved]
        med: dict[str, Estimate] = {}
        mid: dict[str, Estimate] = {}
        if solved:
            for m in METRICS:
                x = np.array([float(r[m]) for r in solved])
                med[m] = estimate(x, median, resamples, seed)
                mid[m] = estimate(x, iqm, resamples, seed)
        out.append(ComboStats(c.name, len(group), len(solved), med, mid))
    return out


# --- reports --------------------------------------------------------------------------------


def machine_line() -> str:
    """Platform, CPU count, Python, torch version and torch threads (as now set), for a header."""
    import torch

    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}"
    )


def _fmt(value: float, metric: str) -> str:
    if metric == "wall_s":
        return f"{value:.2f}" if abs(value) < 10 else f"{value:,.1f}"
    whole = abs(value) >= 100 or float(value).is_integer()
    return f"{value:,.0f}" if whole else f"{value:.1f}"


def _cell(e: Estimate | None, metric: str) -> str:
    if e is None:
        return "—"
    return f"{_fmt(e.value, metric)} [{_fmt(e.low, metric)}–{_fmt(e.high, metric)}]"


def markdown(
    stats: Sequence[ComboStats],
    command: str | None = None,
    *,
    title: str = "nativeagent bench: time to solve",
    label: str = "combination",
) -> str:
    """The benchmark as Markdown: machine and command, then one table row per combination.

    ``title`` heads the page and ``label`` the first column (a sweep's are its own).
    """
    command = command or " ".join(["nativeagent", *sys.argv[1:]])
    head = [label, "solved"]
    for m in METRICS:
        head += [f"{METRIC_LABEL[m]} median [95% CI]", f"{METRIC_LABEL[m]} IQM [95% CI]"]
    lines = [
        f"# {title}",
        "",
        f"Machine: {machine_line()}.  ",
        f"Command: `{command}`",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join([":---", "---:"] + ["---:"] * 2 * len(METRICS)) + "|",
    ]
    for s in stats:
        row = [s.name, f"{s.solved}/{s.seeds}"]
        for m in METRICS:
            row += [_cell(s.median.get(m), m), _cell(s.iqm.get(m), m)]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Solved: seeds whose final greedy table has every stage at mastery. Times to solve are "
        "over the solved seeds only (— when none solved); IQM is the mean of the middle 50% "
        f"(n // 4 dropped at each end). 95% CI: percentile bootstrap over seeds, {RESAMPLES:,} "
        "resamples. Wall seconds are training time, without Python start-up.",
    ]
    return "\n".join(lines) + "\n"


def write_markdown(stats: Sequence[ComboStats], path: Path, command: str | None = None) -> None:
    """Write ``markdown(stats, command)`` to ``path`` atomically."""
    check_out_path(path)
    write_output(path, markdown(stats, command).encode())


def _png_legend(fig: Any) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="#1f77b4", marker="o", ls="", label="a seed that solved"),
        Line2D(
            [], [], color="#d62728", marker="x", ls="", label="not solved: time spent (no stats)"
        ),
        Line2D([], [], color="black", marker="_", ms=12, ls="", label="median, 95% bootstrap CI"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize=9)


def render_png(stats: Sequence[ComboStats], trials: Sequence[Trial], dpi: int = 110) -> bytes:
    """Updates and wall seconds to solve per seed (points), median with its 95% CI (bar)."""
    figure_cls, canvas_cls = _matplotlib()
    fig = figure_cls(figsize=(max(6.0, 1.6 * len(stats) + 3), 7), dpi=dpi, layout="constrained")
    canvas_cls(fig)
    axes = fig.subplots(2, 1, sharex=True)
    jitter = np.random.default_rng(0)
    for ax, metric in zip(axes, ("updates", "wall_s"), strict=True):
        for i, s in enumerate(stats):
            runs = [t for t in trials if t.combination.name == s.name and metric in t.result]
            for solved, color, marker in ((True, "#1f77b4", "o"), (False, "#d62728", "x")):
                y = [float(t.result[metric]) for t in runs if t.solved == solved]
                x = i + jitter.uniform(-0.15, 0.15, len(y))
                ax.scatter(x, y, s=24, color=color, marker=marker, alpha=0.85, zorder=3)
            e = s.median.get(metric)
            if e is not None:
                err = [[e.value - e.low], [e.high - e.value]]
                ax.errorbar(
                    i + 0.3, e.value, yerr=err, fmt="_", ms=14, color="black", capsize=4, lw=1.5
                )
        ax.set_ylabel(f"{METRIC_LABEL[metric]} to solve")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(range(len(stats)), [f"{s.name}\n{s.solved}/{s.seeds}" for s in stats])
    axes[-1].set_xlim(-0.6, len(stats) - 0.4)
    axes[0].set_title("time to solve per seed", fontsize=11)
    _png_legend(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_png(stats: Sequence[ComboStats], trials: Sequence[Trial], path: Path) -> None:
    """Write ``render_png(stats, trials)`` to ``path`` atomically."""
    check_out_path(path)
    write_output(path, render_png(stats, trials))
