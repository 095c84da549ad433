"""Fuzzing at scale: many hypothesis inputs per surface, through the tests' own checks.

    python benchmarks/fuzz.py [--examples 10000] [--surfaces parse,solve] [--seed 0]
                              [--run-dir-budget S] [--train-budget S]

Every surface of ``tests/fuzz/surfaces.py`` (the expression parser, ``solve``, ``expressions``,
``load_config``, ``train --config/--set``, real tiny training runs, ``execute``, the batched
machines, sweep files, and damaged run directories fed to eval, explain, plot, report, export
and ``train --resume``) draws ``--examples`` inputs and checks each with exactly the contract
the fuzz tests assert; by default every surface runs all its inputs (4 to 5 hours on 2 cores
for all surfaces at 10,000). The surfaces whose inputs do real work (a training run, a rendered
plot) can be given a time budget instead: the run-directory commands share
``--run-dir-budget`` seconds, the tiny training runs get ``--train-budget``; the table says
where one stopped early, with the rate measured. A crash (an exception escaping, or a broken
contract) is counted, not raised: the table gives the count per surface and one input of each
kind of crash follows it. The solver budget is ``surfaces.configure("bench")``: searches of up
to about 20 s (5 operands on ``extended``) are allowed, once per process.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

import hypothesis
import surfaces
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed


@dataclass
class Tally:
    """What one surface's inputs did."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: dict[str, tuple[int, str]] = field(default_factory=dict)  # kind -> (count, input)
    seconds: float = 0.0
    budget: float | None = None
    stopped: bool = False

    @property
    def inputs(self) -> int:
        return sum(self.outcomes.values()) + self.n_crashes

    @property
    def n_crashes(self) -> int:
        return sum(n for n, _ in self.crashes.values())


def crash_kind(err: BaseException) -> str:
    """``Type: message`` of the crash and where in nativeagent it was raised."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/nativeagent/" in f.filename] or frames[-1:]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    first = re.sub(r"/tmp/\S*", "<tmp>", (str(err).strip().splitlines() or [""])[0])
    if isinstance(err, AssertionError):  # a broken contract: its message quotes the input
        first = first[:80]
    return f"{type(err).__name__}: {first[:160]} [{where}]"


def fuzz(surface: surfaces.Surface, examples: int, seed: int, budget: float | None) -> Tally:
    """Draw up to ``examples`` inputs of ``surface`` (fewer when ``budget`` seconds run out)."""
    tally = Tally(surface.name, budget=budget)
    start = time.perf_counter()

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(surface.inputs())
    def one(inp: Any) -> None:
        if budget is not None and time.perf_counter() - start > budget:
            tally.stopped = True
            return
        try:
            tally.outcomes[surface.check(inp)] += 1
        except Exception as err:  # a crash: counted, and one input of each kind kept
            kind = crash_kind(err)
            n, first = tally.crashes.get(kind, (0, repr(inp)[:600]))
            tally.crashes[kind] = (n + 1, first)

    one()
    tally.seconds = time.perf_counter() - start
    return tally


def row(t: Tally) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items(), key=lambda kv: -kv[1]))
    mark = "*" if t.stopped else ""
    return f"| {t.name} | {t.inputs:,}{mark} | {outcomes} | {t.n_crashes} | {t.seconds:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="inputs per surface")
    parser.add_argument("--surfaces", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    parser.add_argument("--run-dir-budget", type=float, default=None,
                        help="seconds shared by the run-directory surfaces (default: no limit; "
                             "at 10,000 inputs they take about 3 hours on 2 cores)")  # fmt: skip
    parser.add_argument("--train-budget", type=float, default=None,
                        help="seconds for the real tiny training runs (default: no limit, "
                             "about 25 min)")  # fmt: skip
    args = parser.parse_args()
    surfaces.configure("bench")
    names = [n for n in args.surfaces.split(",") if n] or list(surfaces.SURFACES)
    unknown = [n for n in names if n not in surfaces.SURFACES]
    if unknown:
        parser.error(f"unknown surfaces {unknown}; choose from {', '.join(surfaces.SURFACES)}")
    run_dirs = [n for n in names if surfaces.SURFACES[n].group == "e"]

    import torch

    print(f"$ {shlex.join(['python', 'benchmarks/fuzz.py', *sys.argv[1:]])}")
    print(
        f"Python {platform.python_version()}, torch {torch.__version__}, hypothesis "
        f"{hypothesis.__version__}; {platform.machine()}, {os.cpu_count()} CPUs "
        f"({platform.platform()}); seed {args.seed}, up to {args.examples:,} inputs per surface"
    )
    started = time.perf_counter()
    tallies = []
    for name in names:
        budget = None
        if name in run_dirs and args.run_dir_budget is not None:
            budget = args.run_dir_budget / len(run_dirs)
        elif name == "train (tiny runs)":
            budget = args.train_budget
        tally = fuzz(surfaces.SURFACES[name], args.examples, args.seed, budget)
        tallies.append(tally)
        print(f"  {name}: {tally.inputs:,} inputs in {tally.seconds:.0f} s", flush=True)
    total = time.perf_counter() - started

    print()
    print("| surface | inputs | outcomes | crashes | time (s) |")
    print("|---|---|---|---|---|")
    for t in tallies:
        print(row(t))
    print(f"\ntotal: {sum(t.inputs for t in tallies):,} inputs, "
          f"{sum(t.n_crashes for t in tallies)} crashes, {total / 60:.1f} min")  # fmt: skip
    for t in tallies:
        if t.stopped:
            rate = t.seconds / max(1, t.inputs)
            print(
                f"* {t.name}: stopped at its {t.budget:.0f} s budget after {t.inputs:,} inputs "
                f"({rate:.3f} s each; {args.examples:,} would take about "
                f"{rate * args.examples / 60:.0f} min)"
            )
    for t in tallies:
        for kind, (n, first) in t.crashes.items():
            print(f"\ncrash in {t.name} ({n}x): {kind}\n  first input: {first}")


if __name__ == "__main__":
    main()
