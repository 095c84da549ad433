"""Peak memory of many runs: a 20-seed ``nativeagent bench``, a 100-trial ``nativeagent sweep``
and a 100-run ``nativeagent study``.

    python benchmarks/memory.py [--seeds 20] [--trials 100] [--jobs bench,sweep,study]
                                [--bench-args "--algos a2c,grpo --models gru,transformer"]

Each job runs as a child process; every 0.5 s this script sums the memory of that process and
all its descendants (for the sweep: the driver, Ray's GCS, raylet and every trial worker) and
counts the runs finished so far (``result.json`` files in the output; a study's runs are then
scored on two expression sets). It prints the peak, and
the memory after each quarter of the runs finished, so that memory growing with finished runs
shows as a rising row. PSS (proportional set size) shares each page among the processes that
map it, so the sum does not count shared libraries once per worker; RSS is the plain sum.
Needs the ``[sweep]`` extra (psutil comes with Ray).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from nativeagent.experiments.bench import machine_line

MIB = 2**20
#: A trial of the sweep: tiny and fixed-length (the sweep measures bookkeeping, not learning).
TRIAL = [
    "train.max_updates=30",
    "train.stop_when_solved=false",
    "train.batch_size=32",
    "train.eval_every=30",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.checkpoint_every=10",
]
#: Every bench run is capped, so that 20 seeds of four combinations take minutes, not an hour.
BENCH_CAP = "train.max_updates=200"


@dataclass
class Sample:
    """The process tree's memory at one moment, and how many runs had finished."""

    at_s: float
    finished: int
    pss_mib: float
    rss_mib: float
    processes: int


@dataclass
class Trace:
    """Every sample of one job."""

    samples: list[Sample] = field(default_factory=list)

    def peak(self, key: str) -> Sample:
        return max(self.samples, key=lambda s: getattr(s, key))


def tree_memory(root: psutil.Process) -> tuple[float, float, int]:
    """PSS and RSS (MiB) summed over ``root`` and its descendants, and how many there are."""
    pss = rss = 0.0
    count = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0, 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:  # ended between the listing and the reading
            continue
        pss += info.pss / MIB
        rss += info.rss / MIB
        count += 1
    return pss, rss, count


def finished_runs(out: Path, pattern: str) -> int:
    """How many runs under ``out`` have written their ``result.json`` (``pattern`` finds them)."""
    return sum(1 for _ in out.glob(pattern)) if out.exists() else 0


def watch(
    command: list[str], out: Path, pattern: str, log: Path, period_s: float = 0.5
) -> tuple[int, Trace]:
    """Run ``command`` to its end, sampling its process tree every ``period_s`` seconds."""
    trace = Trace()
    start = time.perf_counter()
    with log.open("w") as sink:
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        root = psutil.Process(child.pid)
        while child.poll() is None:
            pss, rss, n = tree_memory(root)
            if pss > 0:  # not the moment the job ends
                at = time.perf_counter() - start
                trace.samples.append(Sample(at, finished_runs(out, pattern), pss, rss, n))
            time.sleep(period_s)
    return child.returncode, trace


def by_quarter(trace: Trace, planned: int) -> list[tuple[str, Sample | None, float]]:
    """For each quarter of the runs, the last sample before it ended and the peak PSS within it."""
    rows = []
    for q in range(1, 5):
        low, high = planned * (q - 1) / 4, planned * q / 4
        top = high if q < 4 else float("inf")
        inside = [s for s in trace.samples if low <= s.finished < top]
        peak = max((s.pss_mib for s in inside), default=float("nan"))
        rows.append((f"{int(low)}-{int(high)}", inside[-1] if inside else None, peak))
    return rows


def report(name: str, command: list[str], code: int, trace: Trace, planned: int) -> None:
    print(f"\n## {name}\n\n$ {shlex.join(command)}")
    done = trace.samples[-1].finished if trace.samples else 0
    wall = trace.samples[-1].at_s if trace.samples else 0.0
    print(f"exit code {code}; {done} of {planned} runs finished at the last sample ({wall:.0f} s)")
    if not trace.samples:
        return
    pss, rss = trace.peak("pss_mib"), trace.peak("rss_mib")
    print(
        f"peak PSS {pss.pss_mib:,.0f} MiB (at {pss.at_s:.0f} s, {pss.processes} processes, "
        f"{pss.finished} runs finished); peak RSS sum {rss.rss_mib:,.0f} MiB\n"
    )
    print("| runs finished | peak PSS in this quarter (MiB) | PSS at its end (MiB) | processes |")
    print("|---|---|---|---|")
    for label, last, peak in by_quarter(trace, planned):
        end = f"{last.pss_mib:,.0f}" if last else "-"
        procs = str(last.processes) if last else "-"
        print(f"| {label} | {peak:,.0f} | {end} | {procs} |")


def sweep_text(trials: int) -> str:
    return (
        f'[sweep]\nname = "memory"\nseeds = {list(range(trials))}\n'
        f"overrides = {json.dumps(TRIAL)}\n[resources]\ncpus_per_trial = 1\n"
    )


def study_text(runs: int) -> str:
    """A study of two variants of tiny generalization-preset runs, scored on held-out shapes
    and a sample of 6-operand expressions."""
    overrides = [*TRIAL, "task.all_reachable=3"]
    return (
        f'[study]\nname = "memory"\npreset = "generalization"\nn_seeds = {runs // 2}\n'
        f"overrides = {json.dumps(overrides)}\n[variants.mlp]\n[variants.gru]\n"
        "overrides = ['model.kind=\"gru\"']\n"
        '[[sets]]\nkind = "held-out"\n'
        '[[sets]]\nkind = "sample"\noperands = 6\nsample = 20\nepisodes = 200\n'
        "[resources]\ncpus_per_trial = 1\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the bench")
    parser.add_argument("--trials", type=int, default=100, help="trials of the sweep")
    parser.add_argument("--runs", type=int, default=100, help="runs of the study")
    parser.add_argument(
        "--jobs", default="bench,sweep,study", help="which of bench,sweep,study to run"
    )
    parser.add_argument(
        "--bench-args",
        default="--algos a2c,grpo --models gru,transformer",
        help="further nativeagent bench arguments",
    )
    args = parser.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    if not jobs or set(jobs) - {"bench", "sweep", "study"}:
        parser.error(f"--jobs takes some of bench,sweep,study, not {args.jobs!r}")
    print(f"$ {shlex.join(['python', 'benchmarks/memory.py', *sys.argv[1:]])}")
    print(machine_line())
    exe = str(Path(sys.executable).with_name("nativeagent"))
    with tempfile.TemporaryDirectory(prefix="nativeagent-memory-") as tmp:
        root = Path(tmp)
        if "bench" in jobs:
            out = root / "bench"
            extra = shlex.split(args.bench_args)
            seeds = ["--seeds", str(args.seeds)]
            command = [exe, "bench", *extra, *seeds, "--out", str(out), "--set", BENCH_CAP]
            algos, models = extra_values(extra, "--algos", 3), extra_values(extra, "--models", 2)
            runs = len(algos) * len(models) * args.seeds
            measure("bench", command, out, "*/seed*/result.json", runs, root / "bench.log")
        for job, label, text, runs in (
            ("sweep", "sweep (a local Ray)", sweep_text(args.trials), args.trials),
            ("study", "study (a local Ray)", study_text(args.runs), args.runs // 2 * 2),
        ):
            if job in jobs:
                out, path = root / job, root / f"memory-{job}.toml"
                path.write_text(text)
                command = [exe, job, str(path), "--out", str(out)]
                pattern = "trials/*/seed*/result.json"
                measure(label, command, out, pattern, runs, root / f"{job}.log")


def measure(label: str, command: list[str], out: Path, pattern: str, runs: int, log: Path) -> None:
    """Run ``command`` under the memory watch and print its figures (and its log's end when it
    failed)."""
    code, trace = watch(command, out, pattern, log)
    report(label, command, code, trace, runs)
    if code:
        print(log.read_text()[-3000:])


def extra_values(extra: list[str], flag: str, default: int) -> list[str]:
    """The comma-separated values of ``flag`` in ``extra`` (``default`` of them when absent)."""
    if flag in extra:
        return extra[extra.index(flag) + 1].split(",")
    return ["?"] * default


if __name__ == "__main__":
    main()
