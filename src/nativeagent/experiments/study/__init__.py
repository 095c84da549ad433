"""Generalization studies: ``nativeagent study STUDY.toml`` (extra ``[sweep]``).

A study trains every *variant* (settings laid over a base) on every split and seed, each run an
ordinary training run scheduled by the sweep machinery on Ray Tune (``experiments.sweep``: a
local Ray or a cluster, retries from checkpoints, ``--resume``, one writer per run directory).
After training, each run is scored on every *evaluation set* as ``nativeagent eval RUN
--operands N [--sample K] --json`` would score it; the expression sets are built once per study
and saved with it, so every variant is scored on identical expressions. A finished run or
evaluation is never redone.

STUDY.toml (field names are ``section.key`` as in ``--set``)::

    [study]
    name = "generalization"   # default: the file's name; --out defaults to studies/<name>
    preset = "generalization" # base settings, as for nativeagent train --preset
    config = "base.toml"      # a TOML file over the preset, relative to STUDY.toml
    overrides = []            # like --set, for every run
    splits = [0, 1, 2]        # task.split_seed of the runs (or n_splits = 3)
    seeds = [0, 1, 2, 3, 4]   # training seeds (or n_seeds = 5)
    max_failures = 2          # retries of a crashed run, each from its last checkpoint

    [variants.preset]         # a variant: a name and its overrides (none: the base itself)
    description = "the preset"
    [variants."gru+read-head"]
    overrides = ['model.kind="gru"']

    [[sets]]                  # the run's held-out shapes, from its final evaluation;
    kind = "held-out"         # with episodes or seed: scored again as eval --seed does
    [[sets]]
    kind = "every"            # every expression over 5 operands the machine computes
    operands = 5
    episodes = 5000           # default 1000
    seed = 2024               # default 2024, as nativeagent eval
    [[sets]]
    kind = "sample"           # 200 expressions over 8 operands, half needing memory
    operands = 8
    sample = 200
    # name = "8-operands"     # default: held-out, N-operands, expressions
    [[sets]]
    kind = "expressions"      # these, as nativeagent eval --expressions takes them
    expressions = ["a*b+c*d*e", "(a+b)*(c+d+e)"]

    [resources]               # as in a sweep file
    cpus_per_trial = 1
    max_concurrent = 2

The output directory holds ``plan.json`` (every run's configuration, the variants and the sets),
a copy of the study file (``study.toml``), the expression sets (``sets/``), one run directory
per run (``trials/<variant>/split<K>/seed<N>``, with ``evals/<set>.json``), and the outputs:
``study.json`` (every run's result and every evaluation), ``summary.md``, ``summary.csv``,
``length.png`` and ``study.html``. ``nativeagent study DIR --summary`` rebuilds the outputs
from the directory alone.

``plan.py`` reads a study file, ``evaluate.py`` builds the sets and scores the runs,
``summary.py``, ``page.py`` and ``outputs.py`` write the outputs; ``run_study`` runs it all.
"""

from __future__ import annotations

import functools
from pathlib import Path

from nativeagent.experiments.study.evaluate import build_sets, pending, study_trial
from nativeagent.experiments.study.outputs import write_summary
from nativeagent.experiments.study.plan import (
    PLAN,
    STUDY_COPY,
    EvalSet,
    Study,
    default_out,
    parse_study,
    read_plan,
    read_study,
)
from nativeagent.experiments.study.summary import (
    LENGTH_PNG,
    STUDY_JSON,
    SUMMARY_CSV,
    SUMMARY_MD,
    Summary,
    collect,
)
from nativeagent.experiments.sweep.run import Progress, run_trials


def run_study(
    study: Study, out_dir: Path, address: str | None = None, progress: Progress | None = None
) -> dict[str, str]:
    """Build the sets, then train and score every unfinished run on Ray Tune; return
    ``{run id: error}`` of the runs that failed for good."""
    specs = study.sweep.specs(out_dir)
    expressions = build_sets(specs, study.sets, out_dir)
    trial = functools.partial(study_trial, sets=study.sets, expressions=expressions)
    todo = pending(specs, study.sets)
    return run_trials(study.sweep, todo, out_dir, address, trial_fn=trial, progress=progress)


__all__ = [
    "LENGTH_PNG",
    "PLAN",
    "STUDY_COPY",
    "STUDY_JSON",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "EvalSet",
    "Study",
    "Summary",
    "collect",
    "default_out",
    "parse_study",
    "pending",
    "read_plan",
    "read_study",
    "run_study",
    "write_summary",
]
