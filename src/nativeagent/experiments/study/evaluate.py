"""A study's expression sets, built once, and each run scored on every set after it trains.

Every expression set is drawn (or listed) once per machine and step limit, before any run
starts, and saved under ``sets/`` in the study's directory, so every variant is scored on
identical expressions. A study trial is a sweep trial (``sweep.run_trial``: train, resuming from
its checkpoint) followed by one evaluation per set, each written to ``evals/<set>.json`` in the
run directory under the run's lock; a finished run or evaluation is never redone. Evaluations
run on the CPU with the trial's thread count, as ``nativeagent eval RUN --operands N [--sample
K] --seed S --episodes E --json`` would score them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nativeagent.config import Config, from_dict
from nativeagent.experiments.study.plan import EvalSet
from nativeagent.experiments.sweep.plan import DIVERGED, TrialSpec, finished_result
from nativeagent.experiments.sweep.run import LOCK_WAIT_S, run_trial
from nativeagent.fileio import atomic_write_json
from nativeagent.rundir import RESULT
from nativeagent.runlock import run_lock

SETS_DIR = "sets"
EVALS_DIR = "evals"


@dataclass(frozen=True)
class SetKey:
    """Which expressions a run is scored on: a set, drawn for one machine and step limit."""

    set_name: str
    machine: str
    max_steps: int

    @property
    def file(self) -> str:
        return f"{self.set_name}-{self.machine}-{self.max_steps}-steps.json"


def set_key(config: dict[str, Any], entry: EvalSet) -> SetKey | None:
    """The expressions run ``config`` is scored on for ``entry`` (``None``: its held-out
    shapes), with the step limit ``nativeagent eval --operands`` gives that run."""
    from nativeagent.training.expressions import step_limit

    if entry.kind == "held-out":
        return None
    assert entry.name is not None and entry.operands is not None
    cfg = from_dict(config)
    return SetKey(entry.name, cfg.machine.name, step_limit(cfg, entry.operands))


def build_sets(
    specs: Sequence[TrialSpec], sets: Sequence[EvalSet], out_dir: Path
) -> dict[SetKey, list[str]]:
    """Every expression set the runs need, read from ``out_dir/sets`` or drawn and saved there."""
    from nativeagent.tasks.generate import check_computable, parse_expressions, reachable_set

    by_name = {e.name: e for e in sets}
    keys = {k for s in specs for e in sets if (k := set_key(s.config, e)) is not None}
    built = {}
    for key in sorted(keys, key=lambda k: (k.set_name, k.machine, k.max_steps)):
        path = out_dir / SETS_DIR / key.file
        if not path.exists():
            e = by_name[key.set_name]
            assert e.operands is not None
            if e.expressions is not None:  # given: each must be computable within the limit
                tasks = check_computable(
                    parse_expressions(e.expressions), key.machine, key.max_steps
                )
            else:
                tasks = reachable_set(e.operands, key.machine, key.max_steps, e.sample, e.seed or 0)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, [t.expression for t in tasks])
        built[key] = json.loads(path.read_text())
    return built


def eval_path(run_dir: Path, entry: EvalSet) -> Path:
    return run_dir / EVALS_DIR / f"{entry.name}.json"


def diverged(run_dir: Path) -> bool:
    """A run whose loss became non-finite: it has no model to score."""
    return (run_dir / DIVERGED).exists() and not (run_dir / RESULT).exists()


def finished(run_dir: Path, sets: Iterable[EvalSet]) -> bool:
    """Trained (or diverged) and scored on every set."""
    if finished_result(run_dir) is None:
        return False
    return diverged(run_dir) or all(eval_path(run_dir, e).exists() for e in sets)


def pending(specs: Sequence[TrialSpec], sets: Sequence[EvalSet]) -> list[TrialSpec]:
    """The runs still to train or to score."""
    return [s for s in specs if not finished(Path(s.run_dir), sets)]


def _record(correct: Sequence[tuple[str, int, int]], low: float, high: float) -> dict[str, Any]:
    """One evaluation as a study keeps it: accuracy, interval, episodes and per expression
    ``[correct, episodes]``."""
    k, n = sum(c for _, c, _ in correct), sum(m for _, _, m in correct)
    return {
        "accuracy": k / n,
        "interval": [low, high],
        "episodes": n,
        "expressions": {e: [c, m] for e, c, m in correct},
    }


def score(cfg: Config, model: Any, entry: EvalSet, expressions: list[str] | None) -> dict[str, Any]:
    """Greedy accuracy of the run on one set (``expressions``: ``None`` for held-out)."""
    import torch

    from nativeagent.tasks.task import HELD_OUT, Task
    from nativeagent.training.evaluate import evaluate
    from nativeagent.training.expressions import evaluate_expressions

    gen = torch.Generator().manual_seed(entry.seed or 0)
    assert entry.episodes is not None
    if expressions is None:
        a = evaluate(model, cfg, entry.episodes, gen, held_out=True)[HELD_OUT]
        return _record(a.per_task, a.low, a.high)
    tasks = [Task.parse(e) for e in expressions]
    acc = evaluate_expressions(model, cfg, tasks, entry.episodes, gen)
    return {**_record(acc.per_expression, acc.low, acc.high), "max_steps": acc.max_steps}


def from_final(result: dict[str, Any]) -> dict[str, Any]:
    """The held-out set from the run's final evaluation (``result.json``), as a study keeps it."""
    held = result["held_out"]
    return {
        "accuracy": held["accuracy"],
        "interval": held["interval"],
        "episodes": held["episodes"],
        "expressions": held["tasks"],
        "from": "the run's final evaluation (result.json)",
    }


def evaluate_run(
    spec: TrialSpec, sets: Sequence[EvalSet], expressions: dict[SetKey, list[str]]
) -> None:
    """Score a trained run on every set it has no evaluation of yet, under its lock."""
    import torch

    from nativeagent.training.checkpoint import load_policy

    run_dir = Path(spec.run_dir)
    if diverged(run_dir):
        return
    with run_lock(run_dir, wait_s=LOCK_WAIT_S, command=f"nativeagent study eval {spec.id}"):
        todo = [e for e in sets if not eval_path(run_dir, e).exists()]
        if not todo:
            return
        torch.set_num_threads(spec.threads)
        result = json.loads((run_dir / RESULT).read_text())
        loaded: tuple[Any, Config] | None = None
        for e in todo:
            start = time.perf_counter()
            if e.kind == "held-out" and e.episodes is None and e.seed is None:
                record = from_final(result)
            else:
                loaded = loaded or load_policy(run_dir)
                key = set_key(spec.config, e)
                record = score(loaded[1], loaded[0], e, None if key is None else expressions[key])
            record = {"set": e.name, **record, "wall_s": time.perf_counter() - start}
            eval_path(run_dir, e).parent.mkdir(exist_ok=True)
            atomic_write_json(eval_path(run_dir, e), record)


def study_trial(
    spec: TrialSpec, sets: Sequence[EvalSet], expressions: dict[SetKey, list[str]]
) -> dict[str, Any]:
    """What a study runs on a Ray worker: train (or resume), then score on every set."""
    result = run_trial(spec)
    evaluate_run(spec, sets, expressions)
    return result
