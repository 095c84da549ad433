"""Batched machine throughput: token-steps per second at several batch sizes.

    python benchmarks/machine_throughput.py [--reps 50] [--threads N] [--machine extended]
    python benchmarks/machine_throughput.py --json   # {"192": ..., "4096": ..., "65536": ...}

A token-step is one machine step of one running episode (its legal-action mask included). Two
workloads: every episode runs stage 2's 7-token program (all live to the end), and a random
legal tool per step over mixed stages (episodes end at different times; only live steps count).

Each figure is timed over ``--reps`` whole passes. The median pass is the headline; the mean
(total steps over total time) is printed beside it, because this VM sometimes stalls a single
pass for a second, which the mean shows and the median does not. ``--json`` prints only the
headline: token-steps per second of the stage-2 program (median pass) per batch size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from nativeagent.machine import PROFILES, ToolMachine
from nativeagent.tasks import N_STAGES, STAGES, sample_batch

BATCH_SIZES = (192, 4096, 65536)


def shortest_program_pass(machine: ToolMachine, batch_size: int) -> Callable[[], int]:
    """One pass: every episode runs stage 2's shortest program; returns live steps taken."""
    gen = torch.Generator().manual_seed(0)
    batch = sample_batch(torch.full((batch_size,), 2), gen)
    program = STAGES[2].shortest_program(machine.profile.name)
    assert program is not None
    actions = [torch.full((batch_size,), t) for t in program]

    def run() -> int:
        machine.reset(batch)
        for a in actions:
            machine.legal()
            machine.step(a)
        assert bool(machine.answered.all()), "the shortest program must answer every episode"
        return batch_size * len(actions)

    return run


def random_legal_pass(machine: ToolMachine, batch_size: int) -> Callable[[], int]:
    """One pass: a uniformly random legal tool per step, mixed stages, until all are done."""
    gen = torch.Generator().manual_seed(0)
    batch = sample_batch(torch.randint(0, N_STAGES, (batch_size,), generator=gen), gen)

    def run() -> int:
        machine.reset(batch)
        steps = 0
        while not bool(machine.done.all()):
            legal = machine.legal()
            steps += int((~machine.done).sum())
            machine.step((torch.rand(legal.shape, generator=gen) * legal).argmax(1))
        return steps

    return run


def measure(run: Callable[[], int], reps: int) -> tuple[float, float]:
    """(median pass rate, mean rate) in token-steps per second, after one warm-up pass."""
    run()
    rates, total_steps, total_time = [], 0, 0.0
    for _ in range(reps):
        start = time.perf_counter()
        steps = run()
        elapsed = time.perf_counter() - start
        rates.append(steps / elapsed)
        total_steps, total_time = total_steps + steps, total_time + elapsed
    return statistics.median(rates), total_steps / total_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50, help="timed passes per figure")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--machine", choices=sorted(PROFILES), default="canonical")
    parser.add_argument("--json", action="store_true", help="print the stage-2 figures as JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = ToolMachine(PROFILES[args.machine])
    if args.json:
        rates = {
            str(b): measure(shortest_program_pass(machine, b), args.reps)[0] for b in BATCH_SIZES
        }
        print(json.dumps({k: round(v) for k, v in rates.items()}))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; {args.reps} passes; "
        f"machine {args.machine}"
    )
    print("token-steps per second, median pass (mean over all passes)")
    print(f"{'batch':>7} {'stage-2 program':>24} {'random tool (+ drawing it)':>28}")
    for batch_size in BATCH_SIZES:
        fixed = measure(shortest_program_pass(machine, batch_size), args.reps)
        rand = measure(random_legal_pass(machine, batch_size), args.reps)
        cells = [f"{m / 1e6:9.2f} M ({a / 1e6:6.2f} M)" for m, a in (fixed, rand)]
        print(f"{batch_size:>7} {cells[0]:>24} {cells[1]:>28}", flush=True)


if __name__ == "__main__":
    main()
