"""Sweep faults: a sweep of many tiny trials on a multi-node Ray cluster while nodes die.

    python benchmarks/sweep_faults.py [--trials 100] [--kills 6] [--workers 3] [--seed 0]

Brings up a Ray cluster on this machine (a head and ``--workers`` more nodes, 1 CPU each,
``ray.cluster_utils.Cluster``), runs ``nativeagent sweep --address HEAD`` over ``--trials``
seeds of a tiny configuration, and SIGKILLs a worker node ``--kills`` times at random moments
(preferring a node that is training a trial), starting a fresh node after each kill as a
replacement machine would. Then it counts, from the trial directories and Ray's own actor
table: trials completed, lost (no result), duplicated (trained to the end more than once),
retried (more than one attempt), and results that differ from an uninterrupted run of the
same configuration and seed (trained in this process beforehand, wall times apart).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "experiments"))

import ray_cluster as rc

from nativeagent.experiments import sweep
from nativeagent.experiments.bench import machine_line

TRIAL = [
    "train.max_updates=30",
    "train.stop_when_solved=false",
    "train.batch_size=32",
    "train.eval_every=30",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.log_every=1",
    "train.checkpoint_every=5",
]


def sweep_text(trials: int, max_failures: int) -> str:
    return (
        f'[sweep]\nname = "faults"\nseeds = {list(range(trials))}\n'
        f"max_failures = {max_failures}\noverrides = {json.dumps(TRIAL)}\n"
        "[resources]\ncpus_per_trial = 1\n"
    )


def reference(plan: sweep.Sweep, root: Path) -> dict[str, dict[str, Any]]:
    """Every trial run here, one after another, with nothing going wrong."""
    for spec in plan.specs(root):
        sweep.run_trial(spec)
    return rc.results_without_wall(root)


def kill_nodes(
    cluster: Any, out: Path, proc: Any, kills: int, rng: random.Random, gap_s: tuple[float, float]
) -> list[dict[str, Any]]:
    """Kill a worker node ``kills`` times, at random gaps after the first trial starts, while
    the sweep runs; each kill takes a node that is training a trial if one is within a few
    seconds, and is followed by a fresh node."""
    done: list[dict[str, Any]] = []
    rc.wait_for(lambda: rc.running(out) or proc.poll() is not None, 600, "the first trial")
    started = time.monotonic()
    while len(done) < kills and proc.poll() is None:
        time.sleep(rng.uniform(*gap_s))
        deadline = time.monotonic() + 3.0
        while True:
            workers = sorted(cluster.worker_nodes, key=lambda n: n.node_id)
            busy = {r.node: r for r in rc.running(out) if r.updates >= 1}
            training = [n for n in workers if n.node_id in busy]
            if training or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            break
        victim = rng.choice(training or workers)
        caught = busy.get(victim.node_id)
        rc.kill_node(cluster, victim)
        rc.add_worker(cluster)
        done.append(
            {
                "at_s": time.monotonic() - started,
                "node": victim.node_id[:8],
                "trial": "/".join(caught.run_dir.parts[-2:]) if caught else "-",
                "update": caught.updates if caught else "-",
            }
        )
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3, help="nodes besides the head")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--max-failures", type=int, default=10, help="retries per trial")
    args = parser.parse_args()
    print(f"$ python benchmarks/sweep_faults.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"{machine_line()}; each trial train.threads=1")
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sweep_file = root / "faults.toml"
        sweep_file.write_text(sweep_text(args.trials, args.max_failures))
        plan = sweep.read_sweep(sweep_file)
        t0 = time.perf_counter()
        want = reference(plan, root / "reference")
        print(f"uninterrupted reference: {len(want)} trials in {time.perf_counter() - t0:.0f} s")

        with rc.local_cluster(workers=args.workers) as cluster:
            out = root / "sweep"
            t0 = time.perf_counter()
            proc = rc.start_sweep(sweep_file, out, cluster.address)
            kills = kill_nodes(cluster, out, proc, args.kills, rng, gap_s=(1.0, 8.0))
            code = proc.wait()
            wall = time.perf_counter() - t0
            records = rc.actor_records(cluster.address)
        report(plan, out, want, kills, records, code, wall)


def report(
    plan: sweep.Sweep,
    out: Path,
    want: dict[str, dict[str, Any]],
    kills: list[dict[str, Any]],
    records: dict[int, dict[str, Any]],
    code: int,
    wall: float,
) -> None:
    runs = {f"{d.parent.name}/{d.name}": d for d in rc.trial_dirs(out)}
    finished = {k: d for k, d in runs.items() if (d / "result.json").exists()}
    got = rc.results_without_wall(out) if len(finished) == len(runs) else {}
    completions = {k: len(sweep.attempts(d, sweep.COMPLETIONS)) for k, d in runs.items()}
    tries = {k: sweep.attempts(d) for k, d in runs.items()}
    nodes = {records[a["pid"]]["node"] for t in tries.values() for a in t if a["pid"] in records}
    every = [a for t in tries.values() for a in t]
    off_record = sum(a["node"] != records.get(a["pid"], {}).get("node") for a in every)
    cut_short = sum(len(t) - completions[k] for k, t in tries.items())
    differ = [k for k in want if got.get(k) != want[k]] if got else sorted(want)

    print(f"\nsweep exit code {code} after {wall:.0f} s; {len(kills)} node kills:\n")
    print("| kill | at (s) | node | trial training on it | its update |")
    print("|---|---|---|---|---|")
    for i, k in enumerate(kills, 1):
        print(f"| {i} | {k['at_s']:.1f} | {k['node']} | {k['trial']} | {k['update']} |")
    rows = [
        ("trials planned", len(plan.trials)),
        ("completed", len(finished)),
        ("lost (no result)", len(plan.trials) - len(finished)),
        ("duplicated (trained to the end twice)", sum(n > 1 for n in completions.values())),
        ("retried (more than one attempt)", sum(len(t) > 1 for t in tries.values())),
        ("attempts cut short by a kill", cut_short),
        ("results unlike the uninterrupted run", len(differ)),
        ("nodes that trained trials (Ray's actor table)", len(nodes)),
        ("attempts whose recorded node Ray's table contradicts", off_record),
    ]
    print("\n| | trials |\n|---|---|")
    for name, n in rows:
        print(f"| {name} | {n} |")
    if differ:
        print(f"\ndiffering or missing: {', '.join(differ[:10])}")


if __name__ == "__main__":
    main()
