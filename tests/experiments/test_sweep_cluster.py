"""``nativeagent sweep --address`` against a real Ray cluster of three nodes on this machine: a
head and two workers, each a raylet of its own (``ray.cluster_utils.Cluster``).

The first sweep runs undisturbed; the second runs the same trials while a worker node is
killed (SIGKILL of its Ray processes) in the middle of a trial. Every trial must complete
exactly once and end exactly as in the first sweep, wall times apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_cluster as rc

from nativeagent.experiments import sweep

TRIAL = [
    "train.max_updates=200",
    "train.stop_when_solved=false",
    "train.batch_size=32",
    "train.eval_every=200",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.log_every=1",
    "train.checkpoint_every=10",
]
SWEEP = f"""
[sweep]
name = "cluster"
seeds = [0, 1, 2, 3, 4, 5]
overrides = {json.dumps(TRIAL)}
[resources]
cpus_per_trial = 1
"""
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with rc.local_cluster(workers=2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cluster") / "cluster.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def undisturbed(cluster: Any, sweep_file: Path) -> Path:
    """The sweep, run to its end on the three nodes with nothing going wrong."""
    out = sweep_file.parent / "undisturbed"
    proc = rc.start_sweep(sweep_file, out, cluster.address)
    assert proc.wait(TIMEOUT_S) == 0, rc.sweep_log(out)
    return out


def test_trials_run_on_more_than_one_node(cluster: Any, undisturbed: Path) -> None:
    records = rc.actor_records(cluster.address)
    nodes = {n.node_id for n in cluster.list_all_nodes()}
    placed = set()
    for run_dir in rc.trial_dirs(undisturbed):
        (attempt,) = sweep.attempts(run_dir)
        assert len(sweep.attempts(run_dir, sweep.COMPLETIONS)) == 1
        ray_says = records[attempt["pid"]]  # the Tune trial actor that trained it
        assert ray_says["node"] == attempt["node"] and ray_says["state"] == "DEAD"
        placed.add(ray_says["node"])
    assert len(rc.trial_dirs(undisturbed)) == 6
    assert placed <= nodes and len(placed) >= 2, placed


def test_a_worker_node_killed_mid_trial(cluster: Any, sweep_file: Path, undisturbed: Path) -> None:
    victim = cluster.worker_nodes and sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0]
    out = sweep_file.parent / "killed"
    proc = rc.start_sweep(sweep_file, out, cluster.address)
    try:

        def mid_trial_on_victim() -> list[Any]:
            running = rc.running(out)
            return [r for r in running if r.node == victim.node_id and 20 <= r.updates <= 60]

        hit = rc.wait_for(
            mid_trial_on_victim,
            TIMEOUT_S,
            "a trial past its second checkpoint, far from its end, on the victim node",
        )
        rc.kill_node(cluster, victim)
        assert proc.wait(TIMEOUT_S) == 0, rc.sweep_log(out)
    finally:
        proc.kill()

    # Exactly once: every trial finished by one attempt, and ends as the undisturbed run.
    assert rc.results_without_wall(out) == rc.results_without_wall(undisturbed)
    for run_dir in rc.trial_dirs(out):
        assert len(sweep.attempts(run_dir, sweep.COMPLETIONS)) == 1, run_dir
    # The trial caught on the victim was retried elsewhere, from its checkpoint.
    records = rc.actor_records(cluster.address)
    for caught in hit:
        first, *retries = sweep.attempts(caught.run_dir)
        assert (first["node"], first["pid"]) == (victim.node_id, caught.pid)
        assert records[caught.pid]["node"] == victim.node_id
        assert records[caught.pid]["node_alive"] is False  # Ray's record: the node died
        assert retries and all(r["node"] != victim.node_id for r in retries)
        assert retries[0]["resumed_from_update"] >= 10
        (done,) = sweep.attempts(caught.run_dir, sweep.COMPLETIONS)
        assert done["attempt"] == retries[-1]["attempt"]
    assert "retrying from its last checkpoint" in rc.sweep_log(out)
