"""A study file read, validated and expanded into a sweep of training runs and evaluation sets.

>>> text = '''
... [study]
... preset = "generalization"
... splits = [0, 1]
... n_seeds = 2
... [variants.preset]
... [variants.gru]
... overrides = ['model.kind="gru"']
... [[sets]]
... kind = "held-out"
... [[sets]]
... kind = "sample"
... operands = 8
... sample = 50
... '''
>>> s = parse_study(tomllib.loads(text), Path("demo.toml"))
>>> [c.id for c in s.sweep.configurations]
['preset/split0', 'preset/split1', 'gru/split0', 'gru/split1']
>>> s.sweep.trials[-1].id, s.sweep.configurations[-1].overrides[-2:]
('gru/split1/seed1', ('model.kind="gru"', 'task.split_seed=1'))
>>> [(e.name, e.episodes, e.seed) for e in s.sets]
[('held-out', None, None), ('8-operands', 1000, 2024)]
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomllib
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from nativeagent.config import _format, _key_text
from nativeagent.experiments.sweep.plan import (
    Configuration,
    Resources,
    Sweep,
    SweepError,
    SweepSettings,
    base_config,
    expand,
)
from nativeagent.tasks.generate import (
    MAX_LISTED_OPERANDS,
    check_computable,
    parse_expressions,
)

SECTIONS = ("study", "variants", "sets", "resources")
#: The study's plan in its directory: the sweep's trials, the variants and the sets.
PLAN = "plan.json"
STUDY_COPY = "study.toml"
#: ``nativeagent eval``'s defaults, so that a set without them is scored as ``eval`` scores.
EVAL_SEED, EVAL_EPISODES = 2024, 1000
NAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"
#: Settings a variant may not set: the study gives them to every run.
STUDY_KEYS = {
    "train.seed": "[study] seeds or n_seeds",
    "task.split_seed": "[study] splits or n_splits",
    "train.threads": "[resources] cpus_per_trial",
}

_FORBID = ConfigDict(extra="forbid")


@pydantic_dataclass(config=_FORBID)
class StudySettings:
    """The ``[study]`` table: the base settings and the splits and seeds of every variant."""

    name: str | None = Field(None, pattern=NAME)
    """The study's name (default: the file's); ``--out`` defaults to ``studies/<name>``."""
    preset: str = "default"
    """Base settings, as ``nativeagent train --preset``."""
    config: str | None = None
    """A TOML file laid over the preset, relative to the study file."""
    overrides: list[str] = field(default_factory=list)
    """``section.key=value`` settings for every run, as ``--set``."""
    splits: list[int] | None = Field(None, min_length=1)
    """``task.split_seed`` of the runs: every variant is trained on each split."""
    n_splits: int | None = Field(None, ge=1)
    """Splits 0..n_splits-1 instead of a list (neither: the base settings' split)."""
    seeds: list[int] | None = Field(None, min_length=1)
    """Training seeds of every (variant, split)."""
    n_seeds: int | None = Field(None, ge=1)
    """Seeds 0..n_seeds-1 instead of a list (neither: seed 0)."""
    max_failures: int = Field(2, ge=0)
    """Retries of a crashed run, each from its last checkpoint."""


@pydantic_dataclass(config=_FORBID)
class Variant:
    """One ``[variants.NAME]`` table: settings laid over the base, and what they change."""

    overrides: list[str] = field(default_factory=list)
    """``section.key=value`` settings, as ``--set``."""
    description: str = ""
    """What the variant changes, for the tables."""


@pydantic_dataclass(config=_FORBID)
class EvalSet:
    """One ``[[sets]]`` entry: what every run is scored on after training."""

    kind: Literal["held-out", "every", "sample", "expressions"]
    """``held-out``: the run's held-out shapes; ``every``: every expression over ``operands``
    operands the machine computes; ``sample``: ``sample`` of them, drawn with ``seed``;
    ``expressions``: the ``expressions`` given."""
    operands: int | None = Field(None, ge=2, le=26)
    sample: int | None = Field(None, ge=1)
    expressions: list[str] | None = Field(None, min_length=1)
    """kind = "expressions": the expressions, as ``nativeagent eval --expressions`` takes them."""
    episodes: int | None = Field(None, ge=1)
    """Greedy episodes in all (default 1000); held-out: per run, from its final evaluation
    unless ``episodes`` or ``seed`` is given."""
    seed: int | None = Field(None, ge=0)
    """Seed of the evaluation's digits (and the sample's draw), as ``eval --seed`` (2024)."""
    name: str | None = Field(None, pattern=NAME)
    """The set's name in the tables and file names (default: ``held-out``, ``N-operands``)."""


@dataclass(frozen=True)
class Study:
    """A validated study file: its variants, its evaluation sets and the sweep of its runs."""

    path: Path
    settings: StudySettings
    variants: dict[str, Variant]
    sets: tuple[EvalSet, ...]  # every field filled in
    sweep: Sweep  # configurations ``<variant>/split<K>``, one trial per seed

    @property
    def name(self) -> str:
        return self.sweep.name

    @property
    def splits(self) -> tuple[int, ...]:
        """The ``task.split_seed`` of the runs (none given: the base settings' own)."""
        return _splits(self.settings)

    def plan(self) -> dict[str, Any]:
        """What ``plan.json`` holds: the sweep's plan (its ``trials`` are what ``--resume``
        checks), the variants and the sets; ``--summary`` needs nothing else."""
        return {
            **self.sweep.plan(),
            "study": json.loads(json.dumps(dataclasses.asdict(self.settings))),
            "variants": {n: dataclasses.asdict(v) for n, v in self.variants.items()},
            "sets": [dataclasses.asdict(e) for e in self.sets],
        }


def read_study(path: Path) -> Study:
    """Read, validate and expand a study file; every problem is a one-line ``SweepError``."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"study file not found: {path}") from None
    except IsADirectoryError:
        raise SweepError(
            f"{path} is a directory: give a study file, or --summary to rebuild a study's outputs"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SweepError(f"{path} is not valid TOML: {err}") from None
    except RecursionError:
        raise SweepError(f"{path} nests its values too deeply") from None
    except OSError as err:
        raise SweepError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_study(data, path)


def _validate(cls: type, data: Any, where: str) -> Any:
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as err:
        raise SweepError(f"{where} {_format(err)}") from None


def _check_overrides(overrides: list[str], where: str) -> None:
    """Refuse the settings the study itself gives every run (its seeds, splits, threads)."""
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key in STUDY_KEYS:
            raise SweepError(f"{where} {key}: set by the study, give it with {STUDY_KEYS[key]}")


def _filled(entry: EvalSet, where: str) -> EvalSet:
    """A set with its name, episodes and seed filled in, or a one-line error naming the key."""
    if entry.kind != "expressions" and entry.expressions is not None:
        raise SweepError(f'{where} expressions: only used with kind = "expressions"')
    if entry.kind == "expressions":
        for key in ("operands", "sample"):
            if getattr(entry, key) is not None:
                raise SweepError(f'{where} {key}: not used with kind = "expressions"')
        if entry.expressions is None:
            raise SweepError(f'{where} expressions: kind = "expressions" needs expressions = [...]')
        try:
            tasks = parse_expressions(entry.expressions)
        except ValueError as err:
            raise SweepError(f"{where} expressions: {err}") from None
        entry = dataclasses.replace(
            entry,
            expressions=[t.expression for t in tasks],
            operands=max(t.n_operands for t in tasks),
            name=entry.name or "expressions",
        )
    elif entry.kind == "held-out":
        for key in ("operands", "sample"):
            if getattr(entry, key) is not None:
                raise SweepError(f'{where} {key}: not used with kind = "held-out"')
        entry = dataclasses.replace(entry, name=entry.name or "held-out")
        if entry.episodes is None and entry.seed is None:
            return entry  # the run's own final evaluation
    elif entry.operands is None:
        raise SweepError(f'{where} operands: kind = "{entry.kind}" needs operands = N')
    if entry.kind == "sample" and entry.sample is None:
        raise SweepError(f'{where} sample: kind = "sample" needs sample = K')
    if entry.kind == "every" and entry.operands is not None:
        if entry.sample is not None:
            raise SweepError(f'{where} sample: kind = "every" takes no sample (use "sample")')
        if entry.operands > MAX_LISTED_OPERANDS:
            raise SweepError(
                f'{where} operands: kind = "every" lists every expression only up to '
                f'{MAX_LISTED_OPERANDS} operands (got {entry.operands}); use kind = "sample"'
            )
    return dataclasses.replace(
        entry,
        name=entry.name or f"{entry.operands}-operands",  # held-out: named already
        episodes=entry.episodes or EVAL_EPISODES,
        seed=EVAL_SEED if entry.seed is None else entry.seed,
    )


def _splits(settings: StudySettings) -> tuple[int, ...]:
    s = settings
    return tuple(s.splits) if s.splits is not None else tuple(range(s.n_splits or 0))


def _unique(values: list[int] | None, where: str) -> None:
    if values is None:
        return
    for v in values:
        if v < 0:
            raise SweepError(f"{where}: must be at least 0 (got {v})")
        if values.count(v) > 1:
            raise SweepError(f"{where}: {v} is listed twice")


def parse_study(data: dict[str, Any], path: Path) -> Study:
    """Validate a parsed study file and expand it into its sweep (every run's configuration
    through ``load_config``)."""
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        allowed = ", ".join(f"[{s}]" for s in SECTIONS)
        raise SweepError(f"{path}: unknown section [{_key_text(unknown[0])}]; allowed: {allowed}")
    for section in ("study", "variants", "resources"):
        if not isinstance(data.get(section, {}), dict):
            raise SweepError(f"{path}: {section} must be a table, [{section}]")
    here = f"{path}: [study]"
    settings: StudySettings = _validate(StudySettings, data.get("study", {}), here)
    resources: Resources = _validate(Resources, data.get("resources", {}), f"{path}: [resources]")
    for key in ("splits", "seeds"):
        if getattr(settings, key) is not None and getattr(settings, f"n_{key}") is not None:
            raise SweepError(f"{here} give {key} or n_{key}, not both")
        _unique(getattr(settings, key), f"{here} {key}")
    _check_overrides(settings.overrides, f"{here} overrides:")

    raw_variants = data.get("variants", {"base": {}})
    if not raw_variants:
        raise SweepError(f"{path}: [variants] is empty; give at least one [variants.NAME]")
    variants: dict[str, Variant] = {}
    for vname, table in raw_variants.items():
        where = f"{path}: [variants.{_key_text(vname)}]"
        if not re.fullmatch(NAME, vname):
            raise SweepError(f"{where}: a variant's name is letters, digits and . _ + -")
        if not isinstance(table, dict):
            raise SweepError(f"{where}: must be a table with overrides = [...]")
        variants[vname] = _validate(Variant, table, where)
        _check_overrides(variants[vname].overrides, f"{where} overrides:")

    raw_sets = data.get("sets", [{"kind": "held-out"}])
    if not isinstance(raw_sets, list) or not raw_sets:
        raise SweepError(f"{path}: sets must be one or more [[sets]] tables")
    sets: list[EvalSet] = []
    for i, entry in enumerate(raw_sets):
        where = f"{path}: [[sets]] #{i + 1}"
        if not isinstance(entry, dict):
            raise SweepError(f"{where}: must be a table")
        sets.append(_filled(_validate(EvalSet, entry, where), where))
        if [e.name for e in sets].count(sets[-1].name) > 1:
            raise SweepError(f"{where} name: {sets[-1].name!r} is used twice; give each a name")

    sweep_settings = SweepSettings(
        name=settings.name,
        seeds=settings.seeds,
        n_seeds=settings.n_seeds,
        preset=settings.preset,
        config=settings.config,
        overrides=settings.overrides,
        max_failures=settings.max_failures,
    )
    base_path = base_config(sweep_settings, path, here)
    splits: tuple[int | None, ...] = _splits(settings) or (None,)
    configurations = [
        Configuration(
            f"{vname}/split{k}" if k is not None else vname,
            {"variant": vname, "task.split_seed": k},
            (
                *settings.overrides,
                *v.overrides,
                *([f"task.split_seed={k}"] if k is not None else []),
            ),
        )
        for vname, v in variants.items()
        for k in splits
    ]
    sweep = expand(sweep_settings, resources, configurations, path, base_path, "study")
    if any(e.kind != "held-out" for e in sets):
        from nativeagent.config import from_dict
        from nativeagent.training.expressions import check_machine_for, step_limit

        given = [e for e in sets if e.expressions is not None]
        for t in sweep.trials[:: len(sweep.seeds)]:  # one per configuration
            try:
                cfg = from_dict(t.config)
                machine = check_machine_for(cfg)
                for e in given:  # each computable within the run's step limit
                    assert e.expressions is not None and e.operands is not None
                    tasks = parse_expressions(e.expressions)
                    check_computable(tasks, machine, step_limit(cfg, e.operands))
            except ValueError as err:
                raise SweepError(f"{path}: configuration {t.config_id}: {err}") from None
    if any(e.kind == "held-out" for e in sets):
        for t in sweep.trials:
            task = t.config["task"]
            if not (task["held_out"] or task["held_out_expressions"]):
                raise SweepError(
                    f"{path}: configuration {t.config_id} holds no shapes out (task.held_out = 0 "
                    'and no task.held_out_expressions), so it cannot be scored on kind = "held-out"'
                )
    return Study(path, settings, variants, tuple(sets), sweep)


def default_out(study: Study) -> Path:
    """``studies/<name>``: the same every time, so ``--resume`` needs no ``--out``."""
    return Path("studies") / study.name


def read_plan(out_dir: Path) -> dict[str, Any]:
    """A study directory's ``plan.json``, or a one-line ``SweepError``."""
    path = out_dir / PLAN
    if not out_dir.is_dir():
        raise SweepError(f"study directory {out_dir} does not exist")
    try:
        plan = json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{out_dir} holds no study (no {PLAN})") from None
    except (OSError, ValueError) as err:
        raise SweepError(f"cannot read {path}: {err}") from None
    if not isinstance(plan, dict) or not {"trials", "study", "variants", "sets"} <= plan.keys():
        raise SweepError(f"{path} is not a study's plan (written by nativeagent study)")
    return plan
