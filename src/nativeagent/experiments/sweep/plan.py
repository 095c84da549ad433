"""A sweep file read, validated and expanded into trials; the sweep's output directory.

>>> text = '''
... [sweep]
... n_seeds = 2
... [grid]
... "algo.entropy_coef" = [0.01, 0.05]
... algo.lr = [3e-3]
... '''
>>> s = parse_sweep(tomllib.loads(text), Path("demo.toml"))
>>> [c.id for c in s.configurations], s.seeds
(['c0_entropy_coef-0.01_lr-0.003', 'c1_entropy_coef-0.05_lr-0.003'], (0, 1))
>>> s.trials[1].id, s.configurations[1].overrides
('c0_entropy_coef-0.01_lr-0.003/seed1', ('algo.entropy_coef=0.05', 'algo.lr=0.003'))
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tomllib
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from nativeagent.config import Config, ConfigError, _format, _key_text, load_config
from nativeagent.fileio import atomic_write_bytes, atomic_write_json
from nativeagent.rundir import RESULT

SECTIONS = ("sweep", "grid", "random", "resources")
DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice")
MAX_TRIALS = 10_000
PLAN = "sweep.json"
SWEEP_COPY = "sweep.toml"
TRIALS_DIR = "trials"
ATTEMPTS = "attempts.jsonl"
#: One line per attempt that trained a trial to its end: exactly one in a sound sweep.
COMPLETIONS = "completions.jsonl"
DIVERGED = "diverged.json"

_FORBID = ConfigDict(extra="forbid")


class SweepError(ValueError):
    """A problem with a sweep file, its output directory or the Ray cluster, in one line."""


@pydantic_dataclass(config=_FORBID)
class SweepSettings:
    """The ``[sweep]`` table: what to search, over which seeds, from which base settings."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The sweep's name (default: the file's); ``--out`` defaults to ``sweeps/<name>``."""
    search: Literal["grid", "random"] = "grid"
    """``grid``: every combination of ``[grid]``; ``random``: draws from ``[random]``."""
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    """Training seeds of every configuration."""
    n_seeds: int | None = Field(None, ge=1)
    """Seeds 0..n_seeds-1 instead of a list (neither: seed 0)."""
    samples: int | None = Field(None, ge=1)
    """Random search: configurations drawn."""
    sample_seed: int = Field(0, ge=0)
    """Random search: seed of the draws, so a sweep file always means the same plan."""
    preset: str = "default"
    """Base settings, as ``nativeagent train --preset``."""
    config: str | None = None
    """A TOML file laid over the preset, relative to the sweep file."""
    overrides: list[str] = field(default_factory=list)
    """``section.key=value`` settings for every trial, as ``--set``."""
    max_failures: int = Field(2, ge=0)
    """Retries of a crashed trial, each from its last checkpoint."""


@pydantic_dataclass(config=_FORBID)
class Resources:
    """The ``[resources]`` table: what Ray reserves for each trial and how many run at once."""

    cpus_per_trial: int = Field(1, ge=1)
    """CPUs Ray reserves for a trial; also its ``train.threads``."""
    gpus_per_trial: float = Field(0.0, ge=0.0)
    """GPUs Ray reserves for a trial (``train.device = "auto"`` then finds CUDA)."""
    max_concurrent: int | None = Field(None, ge=1)
    """Trials at once; unset: as many as the cluster's resources allow."""


@dataclass(frozen=True)
class Configuration:
    """One point of the search: its id, the swept values, and the overrides that make it."""

    id: str
    settings: dict[str, Any] = field(hash=False)  # swept field -> value
    overrides: tuple[str, ...]  # base overrides, then the swept values (``--set`` form)


@dataclass(frozen=True)
class TrialSpec:
    """Everything a Ray worker needs to run one trial; it reads no file of the sweep's."""

    config_id: str
    seed: int
    config: dict[str, Any] = field(hash=False)  # the run's full, validated configuration
    run_dir: str = ""  # absolute; set by ``Sweep.specs``
    threads: int = 1  # train.threads: the CPUs Ray reserved

    @property
    def id(self) -> str:
        """``<configuration>/seed<N>``."""
        return f"{self.config_id}/seed{self.seed}"

    @property
    def rel_dir(self) -> str:
        """The run directory inside the sweep's output directory."""
        return f"{TRIALS_DIR}/{self.config_id}/seed{self.seed}"


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file, expanded into configurations and trials."""

    name: str
    path: Path
    settings: SweepSettings
    resources: Resources
    configurations: tuple[Configuration, ...]
    trials: tuple[TrialSpec, ...]  # configuration-major

    @property
    def seeds(self) -> tuple[int, ...]:
        """The training seeds of every configuration."""
        s = self.settings
        return tuple(s.seeds) if s.seeds is not None else tuple(range(s.n_seeds or 1))

    def specs(self, out_dir: Path) -> list[TrialSpec]:
        """The trials with absolute run directories under ``out_dir`` and their thread count."""
        root = out_dir.resolve()
        return [
            dataclasses.replace(
                t, run_dir=str(root / t.rel_dir), threads=self.resources.cpus_per_trial
            )
            for t in self.trials
        ]

    def plan(self) -> dict[str, Any]:
        """What ``sweep.json`` holds; a resumed sweep must have the same ``trials``."""
        return json.loads(
            json.dumps(
                {
                    "name": self.name,
                    "sweep_file": str(self.path),
                    "search": self.settings.search,
                    "seeds": list(self.seeds),
                    "configurations": [
                        {"id": c.id, "settings": c.settings, "overrides": list(c.overrides)}
                        for c in self.configurations
                    ],
                    "trials": [
                        {"id": t.id, "run_dir": t.rel_dir, "config": t.config} for t in self.trials
                    ],
                }
            )
        )


# --- reading and expanding a sweep file -----------------------------------------------------


def read_sweep(path: Path) -> Sweep:
    """Read, validate and expand a sweep file; every problem is a one-line ``SweepError``."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"sweep file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SweepError(f"{path} is not valid TOML: {err}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise SweepError(f"{path} nests its values too deeply") from None
    except OSError as err:
        raise SweepError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_sweep(data, path)


def _table(cls: type, data: dict[str, Any], path: Path, section: str) -> Any:
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as err:
        raise SweepError(f"{path}: [{section}] {_format(err)}") from None


def _fields(table: dict[str, Any], path: Path, section: str) -> dict[str, Any]:
    """``{"algo": {"lr": v}}`` and ``{"algo.lr": v}`` -> ``{"algo.lr": v}``, names checked."""
    flat: dict[str, Any] = {}
    for key, val in table.items():
        if "." not in key and isinstance(val, dict):  # a section written as a table
            flat.update({f"{key}.{sub}": v for sub, v in val.items()})
        else:
            flat[key] = val
    known = Config().to_dict()
    for key in flat:
        where = f"{path}: [{section}] {key!r}"
        sec, _, name = key.partition(".")
        if sec not in known or not name:
            raise SweepError(f"{where}: not a section.key setting (sections: {', '.join(known)})")
        if name not in known[sec]:
            raise SweepError(f"{where}: unknown key; [{sec}] has {', '.join(known[sec])}")
        if key == "train.seed":
            raise SweepError(f"{where}: give seeds with [sweep] seeds or n_seeds")
        if key == "train.threads":
            raise SweepError(f"{where}: a trial's threads are [resources] cpus_per_trial")
    return flat


def _value_text(value: Any, where: str) -> str:
    """A value as TOML for an override (JSON's numbers, strings, booleans and lists are TOML)."""
    try:
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SweepError(
            f"{where}: values must be numbers, strings, booleans or lists (got {value!r})"
        ) from None


Draw = Callable[[np.random.Generator], Any]


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _distribution(spec: Any, where: str) -> Draw:
    """A ``[random]`` entry as a function of a numpy generator."""
    if isinstance(spec, list):
        spec = {"choice": spec}
    usage = "give {loguniform|uniform|randint = [low, high]} or {choice = [...]}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SweepError(f"{where}: {usage} (got {spec!r})")
    ((kind, args),) = spec.items()
    if kind not in DISTRIBUTIONS:
        raise SweepError(f"{where}: unknown distribution {kind!r}; {usage}")
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise SweepError(f"{where}: choice needs a non-empty list (got {args!r})")
        for a in args:
            _value_text(a, where)
        return lambda rng: args[int(rng.integers(len(args)))]
    if not (isinstance(args, list) and len(args) == 2 and all(_number(a) for a in args)):
        raise SweepError(f"{where}: {kind} needs [low, high] numbers (got {args!r})")
    low, high = args
    if kind == "randint":
        if not (isinstance(low, int) and isinstance(high, int) and low <= high):
            raise SweepError(f"{where}: randint needs integers low <= high (got {args!r})")
        return lambda rng: int(rng.integers(low, high, endpoint=True))
    if not low < high:
        raise SweepError(f"{where}: {kind} needs low < high (got {args!r})")
    if kind == "uniform":
        return lambda rng: float(rng.uniform(low, high))
    if low <= 0:
        raise SweepError(f"{where}: loguniform needs 0 < low < high (got {args!r})")
    return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _slug(settings: dict[str, Any]) -> str:
    """``{"algo.lr": 0.00123}`` -> ``lr-0.00123``: a readable, file-name-safe label."""
    parts = []
    for key, value in settings.items():
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, list):
            text = "-".join(map(str, value))
        parts.append(f"{key.rpartition('.')[2]}-{text}")
    return re.sub(r"[^A-Za-z0-9._+-]", "", "_".join(parts))[:60]


def parse_sweep(data: dict[str, Any], path: Path) -> Sweep:
    """Validate a parsed sweep file and expand it; every configuration goes through
    ``load_config`` (errors name the key and the configuration)."""
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        allowed = ", ".join(f"[{s}]" for s in SECTIONS)
        raise SweepError(f"{path}: unknown section [{_key_text(unknown[0])}]; allowed: {allowed}")
    for section in SECTIONS:
        if not isinstance(data.get(section, {}), dict):
            raise SweepError(f"{path}: {section} must be a table, [{section}]")
    raw = data.get("sweep", {})
    settings: SweepSettings = _table(SweepSettings, raw, path, "sweep")
    resources: Resources = _table(Resources, data.get("resources", {}), path, "resources")
    grid = _fields(data.get("grid", {}), path, "grid")
    random = _fields(data.get("random", {}), path, "random")

    here = f"{path}: [sweep]"
    if settings.seeds is not None and settings.n_seeds is not None:
        raise SweepError(f"{here} give seeds or n_seeds, not both")
    seeds = settings.seeds or []
    for s in seeds:
        if seeds.count(s) > 1:
            raise SweepError(f"{here} seeds: {s} is listed twice")
    if settings.search == "random":
        if settings.samples is None:
            raise SweepError(f'{here} samples: search = "random" needs samples = N')
        if not random:
            raise SweepError(f'{path}: search = "random" needs a [random] table')
    else:
        for key in ("samples", "sample_seed"):
            if key in raw:
                raise SweepError(f'{here} {key}: only used with search = "random"')
        if "random" in data:
            raise SweepError(f'{path}: [random] is only used with search = "random"')
    both = sorted(grid.keys() & random.keys())
    if both:
        raise SweepError(f"{path}: {both[0]!r} is in both [grid] and [random]")
    for key, values in grid.items():
        where = f"{path}: [grid] {key!r}"
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: needs a non-empty list of values (got {values!r})")
        for v in values:
            _value_text(v, where)
    draws = {k: _distribution(v, f"{path}: [random] {k!r}") for k, v in random.items()}

    n_samples = settings.samples if settings.search == "random" else 1
    n_configs = n_samples * math.prod(len(v) for v in grid.values())
    n_seeds = len(seeds) or settings.n_seeds or 1
    if n_configs * n_seeds > MAX_TRIALS:
        raise SweepError(
            f"{path}: {n_configs} configurations x {n_seeds} seeds is more than "
            f"{MAX_TRIALS:,} trials"
        )
    rng = np.random.default_rng(settings.sample_seed)
    samples = [{k: draw(rng) for k, draw in draws.items()} for _ in range(n_samples)]
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    width = len(str(n_configs - 1))

    base_path = base_config(settings, path, here)
    base = list(settings.overrides)
    configurations = []
    for i, point in enumerate({**s, **g} for s in samples for g in points):
        slug = _slug(point)
        cid = f"c{i:0{width}d}" + (f"_{slug}" if slug else "")
        swept = [f"{k}={_value_text(v, f'{path}: {k!r}')}" for k, v in point.items()]
        configurations.append(Configuration(cid, point, (*base, *swept)))
    return expand(settings, resources, configurations, path, base_path)


def base_config(settings: SweepSettings, path: Path, here: str) -> Path | None:
    """The ``config`` file laid over the preset (relative to ``path``), with the base
    settings checked by ``load_config``; ``here`` says where in the file they are."""
    base_path = None
    if settings.config is not None:
        base_path = path.parent / settings.config
        if not base_path.is_file():
            raise SweepError(f"{here} config: file not found: {base_path}")
    try:
        load_config(base_path, settings.preset, list(settings.overrides))
    except ConfigError as err:
        raise SweepError(f"{here} base settings: {err}") from None
    return base_path


def expand(
    settings: SweepSettings,
    resources: Resources,
    configurations: Sequence[Configuration],
    path: Path,
    base_path: Path | None,
    section: str = "sweep",
) -> Sweep:
    """The sweep of ``configurations`` x seeds, every trial's configuration through
    ``load_config`` (errors name the key and the configuration; the name is in ``[section]``)."""
    name = settings.name or path.stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SweepError(
            f"{path}: [{section}] name: {name!r} is not a usable directory name; set name"
        )
    sweep = Sweep(name, path, settings, resources, tuple(configurations), ())
    trials = []
    for c in configurations:
        for seed in sweep.seeds:
            try:
                cfg = load_config(base_path, settings.preset, [*c.overrides, f"train.seed={seed}"])
            except ConfigError as err:
                raise SweepError(f"{path}: configuration {c.id}: {err}") from None
            trials.append(TrialSpec(c.id, seed, cfg.to_dict()))
    return dataclasses.replace(sweep, trials=tuple(trials))


# --- the output directory -------------------------------------------------------------------


def default_out(sweep: Sweep) -> Path:
    """``sweeps/<name>``: the same every time, so ``--resume`` needs no ``--out``."""
    return Path("sweeps") / sweep.name


def check_out_dir(
    sweep: Sweep, out_dir: Path, resume: bool, plan: str = PLAN, what: str = "sweep"
) -> None:
    """Refuse a fresh sweep into a used directory, or a resume of a different or absent sweep
    (``plan``: the file that records it; ``what``: the word messages use)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SweepError(f"{out_dir} exists and is not a directory")
    plan_path = out_dir / plan
    if not resume:
        if plan_path.exists() or (out_dir / TRIALS_DIR).exists():
            raise SweepError(
                f"{out_dir} already holds a {what}; continue it with --resume or pick another --out"
            )
        return
    try:
        saved = json.loads(plan_path.read_text())
    except FileNotFoundError:
        raise SweepError(f"no {what} to resume in {out_dir} (no {plan})") from None
    except (OSError, ValueError) as err:
        raise SweepError(f"cannot read {plan_path}: {err}") from None
    ours = sweep.plan()["trials"]
    theirs = saved.get("trials") if isinstance(saved, dict) else None
    if theirs == ours:
        return
    if not isinstance(theirs, list) or [t.get("id") for t in theirs] != [t["id"] for t in ours]:
        raise SweepError(
            f"{out_dir} holds a {what} of other configurations or seeds than {sweep.path}; "
            "start a new --out"
        )
    first = next(a["id"] for a, b in zip(ours, theirs, strict=True) if a != b)
    raise SweepError(
        f"trial {first} in {out_dir} was run with other settings than {sweep.path} gives now; "
        "start a new --out"
    )


def write_plan(
    sweep: Sweep,
    out_dir: Path,
    plan: dict[str, Any] | None = None,
    names: tuple[str, str] = (PLAN, SWEEP_COPY),
) -> None:
    """Create ``out_dir`` with the plan (``sweep.json``: ``sweep.plan()`` unless ``plan``) and a
    copy of the sweep file (``names``: the two files' names)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / names[0], sweep.plan() if plan is None else plan)
    atomic_write_bytes(out_dir / names[1], sweep.path.read_bytes())


def finished_result(run_dir: Path) -> dict[str, Any] | None:
    """A trial's ``result.json`` (or ``diverged.json``) when it has finished, else ``None``."""
    for name in (RESULT, DIVERGED):
        try:
            return json.loads((run_dir / name).read_text())
        except FileNotFoundError:
            continue
    return None


def pending(specs: Sequence[TrialSpec]) -> list[TrialSpec]:
    """The trials that have not finished yet."""
    return [s for s in specs if finished_result(Path(s.run_dir)) is None]


def attempts(run_dir: Path, name: str = ATTEMPTS) -> list[dict[str, Any]]:
    """The lines of a trial's ``attempts.jsonl`` (one per start, with the update resumed
    from), or of another of its records such as ``COMPLETIONS``."""
    try:
        lines = (run_dir / name).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
