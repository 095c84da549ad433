"""How fast random computable expressions are drawn at any length, on every profile, and their mix.

    python benchmarks/expression_draws.py [--count 1000] [--operands 6 8 10 12] [--repeats 3]

Each draw is ``nativeagent expressions --operands N --sample COUNT`` without the printing
(``random_programs.draw_computable``: random programs run symbolically, half of the expressions
needing memory). Prints the median seconds of ``--repeats`` draws with seeds 0, 1, ... and the
kinds of the first draw. For comparison, ``--search N`` times the old way for a few expressions:
drawing trees and asking the solver for each (``generate.random_reachable``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from nativeagent.machine.tools import PROFILES
from nativeagent.tasks.generate import random_reachable
from nativeagent.tasks.random_programs import default_limit, draw_computable, kind_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--operands", type=int, nargs="+", default=[6, 8, 10, 12])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search", type=int, default=0, help="also time the solver's way")
    args = parser.parse_args()
    print(
        "| machine | operands | step limit | expressions | median s | in order | rewritten "
        "| memory |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for machine in PROFILES:
        for n in args.operands:
            times, first = [], None
            for seed in range(args.repeats):
                start = time.perf_counter()
                drawn = draw_computable(n, args.count, seed, machine)
                times.append(time.perf_counter() - start)
                first = first or drawn
            assert first is not None
            mix = kind_counts(first)
            print(
                f"| {machine} | {n} | {default_limit(machine, n)} | {len(first)} | "
                f"{statistics.median(times):.2f} | {mix['in order']} | {mix['rewritten']} | "
                f"{mix['memory']} |"
            )
    if args.search:
        for machine in PROFILES:
            n = 6
            start = time.perf_counter()
            random_reachable(
                n,
                args.search,
                random.Random(0),
                machine=machine,
                max_steps=default_limit(machine, n),
            )
            print(
                f"solver's way, {machine}, {args.search} expressions over {n} operands: "
                f"{time.perf_counter() - start:.1f} s"
            )


if __name__ == "__main__":
    main()
