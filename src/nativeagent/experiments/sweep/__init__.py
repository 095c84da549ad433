"""Seed and hyperparameter sweeps on Ray Tune: ``nativeagent sweep SWEEP.toml`` (extra ``[sweep]``).

A sweep expands a grid or a random search over configuration fields, crosses every point with
seeds, and runs each (configuration, seed) as one ordinary training run (a *trial*) on Ray Tune:
a local Ray started for the sweep, or an existing cluster (``--address`` or ``RAY_ADDRESS``).
Every configuration is checked with ``load_config`` before Ray starts. The search is expanded
here, not by Ray, so the plan is fixed: an interrupted sweep resumes the trials it had not
finished, and a crashed trial resumes from its own checkpoint (``train(..., resume=True)``).

SWEEP.toml (every key optional; field names are ``section.key`` as in ``--set``)::

    [sweep]
    name = "entropy"        # default: the file's name; --out defaults to sweeps/<name>
    search = "grid"         # "grid": every combination of [grid]; "random": draws from [random]
    seeds = [0, 1, 2]       # training seeds of every configuration (or n_seeds = 3: 0, 1, 2)
    preset = "default"      # base settings, as for nativeagent train --preset
    config = "base.toml"    # a TOML file over the preset, relative to SWEEP.toml
    overrides = ["train.max_updates=1000"]  # like --set, for every trial
    max_failures = 2        # retries of a crashed trial, each from its last checkpoint
    samples = 8             # random search: configurations drawn
    sample_seed = 0         # random search: seed of the draws

    [grid]                  # field = list of values; every combination, last key fastest
    "algo.entropy_coef" = [0.01, 0.05]

    [random]                # field = distribution, drawn independently for every sample
    "algo.lr" = {loguniform = [1e-4, 1e-2]}
    "algo.value_coef" = {uniform = [0.25, 1.0]}
    "train.batch_size" = {randint = [64, 256]}  # both ends included
    "model.kind" = {choice = ["gru", "transformer"]}  # a plain list is a choice too

    [resources]
    cpus_per_trial = 1      # CPUs Ray reserves for a trial; also its train.threads
    gpus_per_trial = 0
    max_concurrent = 2      # trials at once (default: as many as the CPUs allow)

A random search may have a [grid] too: every sample is run with every grid point.

The output directory holds ``sweep.json`` (the plan: configurations, seeds, every trial's full
configuration), a copy of the sweep file, one run directory per trial,
``trials/<configuration>/seed<N>`` (what ``nativeagent train`` writes, plus ``attempts.jsonl``:
one line per attempt, with the update it resumed from, its host, process and Ray node;
``completions.jsonl``: one line per attempt that trained it to the end), ``trials.json`` and
the summary per configuration (``summary.md``, ``summary.csv``, ``summary.png``: solved
fraction, median and IQM of updates, episodes and wall seconds to solve, with 95% bootstrap
intervals, computed by ``experiments.bench``). Ray Tune's own records go to ``ray/``; nothing
depends on them. A run whose loss became non-finite counts as unsolved, recorded in
``diverged.json``, not ``result.json``.

``plan.py`` reads and expands a sweep file and owns the output directory, ``run.py`` runs the
trials on Ray Tune, ``summary.py`` writes the tables and the plot.
"""

from nativeagent.experiments.sweep.plan import (
    ATTEMPTS,
    COMPLETIONS,
    DIVERGED,
    PLAN,
    TRIALS_DIR,
    Configuration,
    Resources,
    Sweep,
    SweepError,
    SweepSettings,
    TrialSpec,
    attempts,
    check_out_dir,
    default_out,
    finished_result,
    parse_sweep,
    pending,
    read_sweep,
    write_plan,
)
from nativeagent.experiments.sweep.run import (
    INSTALL_HINT,
    Progress,
    require_ray,
    run_trial,
    run_trials,
)
from nativeagent.experiments.sweep.summary import (
    SUMMARY_CSV,
    SUMMARY_MD,
    SUMMARY_PNG,
    collect,
    summary_csv,
    summary_markdown,
    write_summary,
)

__all__ = [
    "ATTEMPTS",
    "COMPLETIONS",
    "DIVERGED",
    "INSTALL_HINT",
    "PLAN",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "SUMMARY_PNG",
    "TRIALS_DIR",
    "Configuration",
    "Progress",
    "Resources",
    "Sweep",
    "SweepError",
    "SweepSettings",
    "TrialSpec",
    "attempts",
    "check_out_dir",
    "collect",
    "default_out",
    "finished_result",
    "parse_sweep",
    "pending",
    "read_sweep",
    "require_ray",
    "run_trial",
    "run_trials",
    "summary_csv",
    "summary_markdown",
    "write_plan",
    "write_summary",
]
