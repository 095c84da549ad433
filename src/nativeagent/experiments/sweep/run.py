"""Trials on Ray Tune: one trial is one training run that resumes from its own checkpoint."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nativeagent.config import from_dict
from nativeagent.experiments.sweep.plan import (
    ATTEMPTS,
    COMPLETIONS,
    DIVERGED,
    Sweep,
    SweepError,
    TrialSpec,
    attempts,
    finished_result,
)
from nativeagent.fileio import atomic_write_json
from nativeagent.runlock import run_lock
from nativeagent.training.checkpoint import CHECKPOINT, load_checkpoint
from nativeagent.training.train import NonFiniteError, train

INSTALL_HINT = "pip install 'nativeagent[sweep]'"
RAY_DIR = "ray"

Reporter = Callable[[dict[str, Any]], None]


#: How long a trial waits for an earlier attempt of itself that is still writing (a worker on
#: a node Ray has given up on may take a moment to die) before it is refused.
LOCK_WAIT_S = 60.0


def run_trial(spec: TrialSpec, report: Reporter | None = None) -> dict[str, Any]:
    """Train one trial into its run directory and return its result.

    A finished trial returns its result at once; one with a checkpoint (a crashed or
    interrupted attempt) continues from it exactly, with nativeagent's own resume. Only one
    attempt writes at a time: it holds the run directory's lock (``nativeagent.runlock``).
    """
    run_dir = Path(spec.run_dir)
    done = finished_result(run_dir)
    if done is not None:
        return done
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir, wait_s=LOCK_WAIT_S, command=f"nativeagent sweep trial {spec.id}"):
        done = finished_result(run_dir)  # an attempt we waited for may have finished it
        if done is not None:
            return done
        return _attempt(spec, run_dir, report)


def _where() -> dict[str, Any]:
    """This process: host, pid and, inside Ray, the node id."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        where["node"] = ray.get_runtime_context().get_node_id()
    return where


def _append_line(path: Path, entry: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _attempt(spec: TrialSpec, run_dir: Path, report: Reporter | None) -> dict[str, Any]:
    """One attempt at a trial (under its lock), recorded in ``attempts.jsonl`` and, when it
    trains to the end, in ``completions.jsonl``."""
    resume = (run_dir / CHECKPOINT).exists()
    attempt = len(attempts(run_dir)) + 1
    _append_line(
        run_dir / ATTEMPTS,
        {
            "attempt": attempt,
            "resumed_from_update": int(load_checkpoint(run_dir)["update"]) if resume else None,
            **_where(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    cfg = from_dict({**spec.config, "train": {**spec.config["train"], "threads": spec.threads}})
    try:
        result = train(cfg, run_dir, report, resume=resume)  # sets torch's threads
    except NonFiniteError as err:  # deterministic: a retry would diverge again
        result = {"solved": False, "seed": spec.seed, "error": str(err)}
        atomic_write_json(run_dir / DIVERGED, result)
    _append_line(
        run_dir / COMPLETIONS,
        {"attempt": attempt, **_where(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    )
    return result


TrialFn = Callable[[TrialSpec], dict[str, Any]]


def _trainable(
    config: dict[str, Any], specs: dict[str, TrialSpec], trial_fn: TrialFn
) -> dict[str, Any]:
    """What Ray Tune runs: look the trial up, run it, report its headline numbers."""
    result = trial_fn(specs[config["trial"]])
    return {k: result[k] for k in ("solved", "updates", "episodes", "wall_s") if k in result}


def _ray_trial_name(trial: Any) -> str:
    return str(trial.config["trial"]).replace("/", "-")


# --- running trials on Ray Tune -------------------------------------------------------------


def _ray() -> tuple[Any, Any]:
    """``(ray, ray.tune)``, or a ``SweepError`` that says how to install them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise SweepError(f"nativeagent sweep needs Ray Tune: {INSTALL_HINT}") from None
    return ray, tune


def require_ray() -> None:
    """Raise ``SweepError`` with the install command when Ray Tune is missing."""
    _ray()


def _last_line(error: Any) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:300]


#: ``progress(event, trial, result)``: event ``finished`` (with the trial's result), ``retry``
#: or ``failed`` (with ``{"error": ...}``); called by the driver as Ray reports.
Progress = Callable[[str, TrialSpec, dict[str, Any]], None]


def _trial_error(trial: Any) -> dict[str, Any]:
    get = getattr(trial, "get_error", None)
    error = get() if get else None
    return {"error": _last_line(error) if error else "the trial failed"}


def _callback(tune: Any, specs: dict[str, TrialSpec], progress: Progress) -> Any:
    """A Ray Tune callback that turns trial events into ``progress`` calls."""

    class ProgressCallback(tune.Callback):
        """Ray pickles it with its experiment state: that copy reports nothing."""

        def __init__(self, specs: dict[str, TrialSpec], progress: Progress | None) -> None:
            self.specs, self.progress = specs, progress

        def __getstate__(self) -> dict[str, Any]:
            return {"specs": {}, "progress": None}

        def notify(self, event: str, trial: Any, data: dict[str, Any] | None = None) -> None:
            if self.progress is None:
                return
            spec = self.specs[trial.config["trial"]]
            if data is None:
                data = finished_result(Path(spec.run_dir)) or {}
            self.progress(event, spec, data)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.notify("finished", trial)

        def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.notify("retry", trial, _trial_error(trial))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.notify("failed", trial, _trial_error(trial))

    return ProgressCallback(specs, progress)


def run_trials(
    sweep: Sweep,
    specs: Sequence[TrialSpec],
    out_dir: Path,
    address: str | None = None,
    trial_fn: TrialFn = run_trial,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Run ``specs`` on Ray Tune; return ``{trial id: error}`` of the trials that failed.

    Uses the Ray this process is already connected to, else connects to ``address`` (or
    ``RAY_ADDRESS``), else starts a local Ray on this machine (shut down at the end). A trial
    that crashes is retried ``max_failures`` times; ``run_trial`` resumes it from its
    checkpoint. An interrupted run (Ctrl-C) returns with the unfinished trials not listed.
    """
    if not specs:
        return {}
    ray, tune = _ray()
    res = sweep.resources
    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        local = {"include_dashboard": False} if address == "local" else {}
        try:
            ray.init(address=address, logging_level=logging.WARNING, **local)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise SweepError(f"cannot start or reach Ray at {address}: {_last_line(err)}") from None
        started = True
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < res.cpus_per_trial:
            raise SweepError(
                f"[resources] cpus_per_trial = {res.cpus_per_trial} but the Ray cluster has "
                f"{cpus:g} CPUs"
            )
        try:
            from ray.tune import FailureConfig, RunConfig
        except ImportError:  # older Ray kept them in ray.train
            from ray.train import FailureConfig, RunConfig
        by_id = {s.id: s for s in specs}
        ray_dir = (out_dir / RAY_DIR).resolve()
        runs = len(list(ray_dir.glob("run*"))) if ray_dir.is_dir() else 0
        tuner = tune.Tuner(
            tune.with_resources(
                tune.with_parameters(_trainable, specs=by_id, trial_fn=trial_fn),
                {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial},
            ),
            param_space={"trial": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=res.max_concurrent,
                reuse_actors=True,  # a new worker process per trial costs seconds of imports
                trial_name_creator=_ray_trial_name,
                trial_dirname_creator=_ray_trial_name,
            ),
            run_config=RunConfig(
                name=f"run{runs + 1}",
                storage_path=str(ray_dir),
                failure_config=FailureConfig(max_failures=sweep.settings.max_failures),
                verbose=0,
                callbacks=[_callback(tune, by_id, progress)] if progress else None,
            ),
        )
        quiet = os.environ.get("RAY_AIR_NEW_OUTPUT")
        os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # Ray's new console output ignores verbose=0
        try:
            results = tuner.fit()
        finally:
            if quiet is None:
                os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
            else:
                os.environ["RAY_AIR_NEW_OUTPUT"] = quiet
        return {
            str(r.config["trial"]): _last_line(r.error)
            for r in results
            if r.error is not None and r.config
        }
    finally:
        if started:
            ray.shutdown()
