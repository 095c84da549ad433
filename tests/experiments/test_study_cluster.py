"""``nativeagent study --address`` on a Ray cluster of a head and a worker node (each a raylet
of its own, ``ray.cluster_utils.Cluster``): a study of 2 variants x 2 seeds runs undisturbed,
then again while the worker node is killed (SIGKILL of its Ray processes) in the middle of a
run. The second study's summary must equal the first's, wall times apart.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray_cluster as rc

from nativeagent.experiments import study as st
from nativeagent.experiments import sweep

RUN = [
    "task.all_reachable=3",
    "train.max_updates=200",
    "train.stop_when_solved=false",
    "train.batch_size=32",
    "train.eval_every=200",
    "train.eval_episodes=16",
    "train.final_eval_episodes=32",
    "train.log_every=1",
    "train.checkpoint_every=10",
]
STUDY = f"""
[study]
name = "cluster"
preset = "generalization"
overrides = {json.dumps(RUN)}
seeds = [0, 1]
[variants.mlp]
[variants.gru]
overrides = ['model.kind="gru"']
[[sets]]
kind = "held-out"
[[sets]]
kind = "sample"
operands = 6
sample = 10
episodes = 40
[resources]
cpus_per_trial = 1
"""
TIMEOUT_S = 240


def without_wall(value: Any) -> Any:
    """``value`` with every ``wall_s`` (and the command, which names the output) removed."""
    if isinstance(value, dict):
        return {k: without_wall(v) for k, v in value.items() if k not in ("wall_s", "command")}
    if isinstance(value, list):
        return [without_wall(v) for v in value]
    return value


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with rc.local_cluster(workers=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("study-cluster") / "cluster.toml"
    path.write_text(STUDY)
    return path


def summary_rows(out: Path) -> list[dict[str, str]]:
    """``summary.csv`` without its wall-time column."""
    with (out / st.SUMMARY_CSV).open() as f:
        return [{k: v for k, v in row.items() if k != "median_wall_s"} for row in csv.DictReader(f)]


def run_study(study_file: Path, out: Path, address: str) -> Any:
    return rc.start_sweep(study_file, out, address, command="study")


def test_a_worker_killed_mid_run_leaves_the_summary_unchanged(
    cluster: Any, study_file: Path
) -> None:
    undisturbed = study_file.parent / "undisturbed"
    proc = run_study(study_file, undisturbed, cluster.address)
    assert proc.wait(TIMEOUT_S) == 0, rc.sweep_log(undisturbed)

    (victim,) = cluster.worker_nodes
    out = study_file.parent / "killed"
    proc = run_study(study_file, out, cluster.address)
    try:

        def mid_run_on_victim() -> list[Any]:
            return [
                r for r in rc.running(out) if r.node == victim.node_id and 20 <= r.updates <= 150
            ]

        hit = rc.wait_for(mid_run_on_victim, TIMEOUT_S, "a run past 20 updates on the worker")
        rc.kill_node(cluster, victim)
        assert proc.wait(TIMEOUT_S) == 0, rc.sweep_log(out)
    finally:
        proc.kill()

    got = json.loads((out / st.STUDY_JSON).read_text())
    want = json.loads((undisturbed / st.STUDY_JSON).read_text())
    assert [r["status"] for r in got["runs"]] == ["scored"] * 4
    assert without_wall(got) == without_wall(want)
    assert rc.results_without_wall(out) == rc.results_without_wall(undisturbed)
    # The run caught on the dead node finished elsewhere, from its checkpoint, exactly once.
    for caught in hit:
        first, *retries = sweep.attempts(caught.run_dir)
        assert first["node"] == victim.node_id
        assert retries and all(r["node"] != victim.node_id for r in retries)
        assert retries[0]["resumed_from_update"] >= 10
        assert len(sweep.attempts(caught.run_dir, sweep.COMPLETIONS)) == 1
    for run_dir in rc.trial_dirs(out):
        assert len(sweep.attempts(run_dir, sweep.COMPLETIONS)) == 1, run_dir
    # The summary table per variant is the same, wall times apart.
    assert summary_rows(out) == summary_rows(undisturbed)
    assert "retrying from its last checkpoint" in rc.sweep_log(out)
