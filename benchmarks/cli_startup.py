"""How fast the commands that need no model answer: wall seconds of a fresh process.

    python benchmarks/cli_startup.py [--reps 10]

Each command runs ``--reps`` times as ``python -m nativeagent ...`` in a new interpreter (so the
figure includes Python's own start-up); the median is printed with the fastest and slowest run,
and whether torch was imported at all.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (
    ["--help"],
    ["solve", "a*b+c", "(a*b+c)-(d*e)", "a*(b+c)"],
    ["solve", "a*(b+c)", "--machine", "extended"],
    ["expressions", "--operands", "4"],
    ["expressions", "--operands", "4", "--machine", "extended"],
)
#: Runs the command line, then reports whether torch was ever imported.
PROBE = (
    "import sys\nfrom nativeagent.cli import main\nsys.argv = ['nativeagent', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('torch' in sys.modules, file=sys.stderr)\n"
)


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nativeagent", *args], capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="runs per command")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {args.reps} fresh processes per command")
    print(f"{'command':<58} {'median s':>9} {'min–max s':>13}  torch")
    for command in COMMANDS:
        times = [wall(command) for _ in range(args.reps)]
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=False
        )
        torch = probe.stderr.strip().splitlines()[-1]
        span = f"{min(times):.2f}–{max(times):.2f}"
        label = " ".join(["nativeagent", *command])
        print(f"{label:<58} {statistics.median(times):>9.2f} {span:>13}  {torch}")


if __name__ == "__main__":
    main()
