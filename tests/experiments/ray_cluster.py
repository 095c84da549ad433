"""A Ray cluster of several nodes on this machine (Ray's own multi-node test utility), sweeps
run against it as a user runs them, and what Ray's own records say about where trials ran.

Shared by ``tests/experiments/test_sweep_cluster.py`` and ``benchmarks/sweep_faults.py``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from nativeagent.experiments import sweep

#: Each node's shared-memory object store (the trials pass nothing through it).
STORE_BYTES = 80 * 2**20
#: A node that stops answering is declared dead after about 3 x 0.5 s (Ray's default is
#: 5 x 3 s), so that a killed node's trials are retried quickly.
HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}


@contextmanager
def local_cluster(workers: int, cpus: int = 1) -> Iterator[Cluster]:
    """A head and ``workers`` more nodes, each its own raylet with ``cpus`` CPUs."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": cpus,
            "object_store_memory": STORE_BYTES,
            "include_dashboard": False,
            "_system_config": HEALTH_CHECKS,
        },
    )
    try:
        for _ in range(workers):
            add_worker(cluster, cpus)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def add_worker(cluster: Cluster, cpus: int = 1) -> Any:
    """Start one more node (a raylet of its own) and return it."""
    return cluster.add_node(num_cpus=cpus, object_store_memory=STORE_BYTES)


def kill_node(cluster: Cluster, node: Any) -> None:
    """SIGKILL a node's Ray processes, as when a machine dies: nothing is shut down cleanly."""
    cluster.remove_node(node, allow_graceful=False)


def start_sweep(
    sweep_file: Path, out: Path, address: str, *extra: str, command: str = "sweep"
) -> subprocess.Popen:
    """``nativeagent sweep SWEEP --out OUT --address HEAD`` (or ``study``) in a process of its
    own."""
    log = (out.parent / f"{out.name}.log").open("w")
    args = [command, str(sweep_file), "--out", str(out), "--address", address, *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "nativeagent", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )


def sweep_log(out: Path) -> str:
    return (out.parent / f"{out.name}.log").read_text()


def trial_dirs(out: Path) -> list[Path]:
    """Every trial's run directory: ``trials/<configuration>/seed<N>``, where a study's
    configuration is ``<variant>/split<K>``."""
    return sorted(p for p in (out / sweep.TRIALS_DIR).rglob("seed*") if p.is_dir())


@dataclass(frozen=True)
class Running:
    """A trial attempt that has started and not finished: where, and how far it has got."""

    run_dir: Path
    node: str
    pid: int
    updates: int


def running(out: Path) -> list[Running]:
    """The attempts under way now, from each trial's ``attempts.jsonl`` and metrics."""
    now = []
    for run_dir in trial_dirs(out):
        tries = sweep.attempts(run_dir)
        if not tries or (run_dir / "result.json").exists():
            continue
        done = {c["attempt"] for c in sweep.attempts(run_dir, sweep.COMPLETIONS)}
        last = tries[-1]
        if last["attempt"] in done or "node" not in last:
            continue
        metrics = run_dir / "metrics.jsonl"
        updates = len(metrics.read_bytes().splitlines()) if metrics.exists() else 0
        now.append(Running(run_dir, last["node"], last["pid"], updates))
    return now


def wait_for(condition: Any, timeout_s: float, what: str, poll_s: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something true; ``AssertionError`` at the end."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


@contextmanager
def connected(address: str) -> Iterator[None]:
    """This process as a Ray driver of the cluster (to read its records), for a moment."""
    ray.init(address=address, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def actor_records(address: str) -> dict[int, dict[str, Any]]:
    """Ray's own table of actors (every Tune trial attempt is one), live and dead, by pid:
    the node Ray placed it on, its state and class."""
    with connected(address):
        table = ray._private.state.actors()  # the GCS's actor table; no dashboard needed
        nodes = {n["NodeID"]: n["Alive"] for n in ray.nodes()}
    return {
        int(a["Pid"]): {
            "node": a["Address"]["NodeID"],
            "state": a["State"],
            "class": a["ActorClassName"],
            "node_alive": nodes.get(a["Address"]["NodeID"]),
        }
        for a in table.values()
        if a.get("Pid")
    }


def results_without_wall(out: Path) -> dict[str, dict[str, Any]]:
    """``{trial: (result.json, metrics records)}`` with every wall time removed."""
    got = {}
    for run_dir in trial_dirs(out):
        result = json.loads((run_dir / "result.json").read_text())
        metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
        got[run_dir.relative_to(out / sweep.TRIALS_DIR).as_posix()] = {
            "result": {k: v for k, v in result.items() if k != "wall_s"},
            "metrics": [{k: v for k, v in m.items() if k != "wall_s"} for m in metrics],
        }
    return got
