"""Training curves of one or more run directories as one PNG (matplotlib, imported only to draw).

Four panels: greedy accuracy per stage (and on held-out shapes, when the run has some) and the
curriculum stage, each against updates and against wall time. The stages and their names come
from the run's task set (``config.json``; the built-in stages without it). Several runs, which
must share the number of stages, are drawn as their mean with a min–max band, every run
resampled onto a common grid; a run that stopped early holds its last value until the grid ends.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nativeagent.build import build_task_set
from nativeagent.config import CONFIG_JSON, ConfigError, from_dict
from nativeagent.fileio import atomic_write_bytes
from nativeagent.rundir import METRICS, RunDirError
from nativeagent.tasks.task import STAGES

#: Stage colours (matplotlib's tab10 without its grey), cycled when there are more stages;
#: shared by the plots and the HTML report.
STAGE_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
#: Colour and legend label of the held-out tasks (group key -1).
HELD_OUT_COLOR = "#7f7f7f"
HELD_OUT_LABEL = "held-out shapes"
#: Stage names of a run without ``config.json``: the built-in stages.
BUILTIN_NAMES = tuple(t.expression for t in STAGES)
GRID_POINTS = 400

Axis = Literal["update", "wall"]
AXIS_LABEL = {"update": "update", "wall": "wall time (s)"}


def stage_color(stage: int) -> str:
    """A stage's colour, cycling through ``STAGE_COLORS``; grey for the held-out tasks (-1).

    >>> stage_color(0) == stage_color(len(STAGE_COLORS)), stage_color(-1)
    (True, '#7f7f7f')
    """
    return HELD_OUT_COLOR if stage < 0 else STAGE_COLORS[stage % len(STAGE_COLORS)]


def stage_names(run_dir: Path) -> tuple[str, ...]:
    """The stage names of the run's task set (``TaskSet.stage_name``), from its ``config.json``.

    A run without ``config.json`` (an old run) has the built-in stages.
    """
    path = run_dir / CONFIG_JSON
    if not path.is_file():
        return BUILTIN_NAMES
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise RunDirError(f"cannot read {path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path} is not valid JSON") from None
    try:
        tasks = build_task_set(from_dict(data))
    except ValueError as err:  # ConfigError, or an expression the task set cannot use
        raise RunDirError(f"{path}: {err}") from None
    return tuple(tasks.stage_names)


@dataclass(frozen=True)
class RunCurves:
    """One run's logged curves: the stage of every logged update, accuracy at every evaluation."""

    name: str
    update: np.ndarray  # (L,) logged updates
    wall: np.ndarray  # (L,) seconds since the run started
    stage: np.ndarray  # (L,) stage being learned at that update
    eval_update: np.ndarray  # (E,)
    eval_wall: np.ndarray  # (E,)
    eval_acc: np.ndarray  # (E, n_stages) greedy accuracy per stage
    promoted: np.ndarray  # (E,) bool: the curriculum promoted after this evaluation
    mastery: float | None  # promotion threshold from config.json, when known
    stage_names: tuple[str, ...]  # one per stage of the run's task set
    eval_held_out: np.ndarray  # (E,) greedy accuracy on held-out tasks (nan: not logged)

    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def has_held_out(self) -> bool:
        """Whether any evaluation logged the held-out accuracy."""
        return bool(np.isfinite(self.eval_held_out).any())

    def stage_curve(self, axis: Axis) -> tuple[np.ndarray, np.ndarray]:
        """``(x, stage)`` from the run's start (x = 0): each stage covers ``(x[i-1], x[i]]``."""
        x = self.update if axis == "update" else self.wall
        return np.concatenate([[0.0], x]), np.concatenate([self.stage[:1], self.stage])

    def eval_x(self, axis: Axis) -> np.ndarray:
        """Evaluation updates or wall times."""
        return self.eval_update if axis == "update" else self.eval_wall

    def held_out_curve(self, axis: Axis) -> tuple[np.ndarray, np.ndarray]:
        """``(x, accuracy)`` of the evaluations that logged the held-out accuracy."""
        logged = np.isfinite(self.eval_held_out)
        return self.eval_x(axis)[logged], self.eval_held_out[logged]


def check_run_dir(run_dir: Path) -> Path:
    """Return ``run_dir/metrics.jsonl``; raise ``RunDirError`` if ``run_dir`` is not a run."""
    if not run_dir.exists():
        raise RunDirError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    path = run_dir / METRICS
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a nativeagent run directory (no {METRICS})")
    return path


def read_metrics(run_dir: Path, n_stages: int | None = None) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl``, checked for the keys the plots need.

    Stages must lie in ``0..n_stages-1`` (default: the stages of the run's task set).
    """
    path = check_run_dir(run_dir)
    if n_stages is None:
        n_stages = len(stage_names(run_dir))
    records = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise RunDirError(f"{path} line {i} is not valid JSON") from None
        if not isinstance(record, dict) or not {"update", "wall_s", "stage"} <= record.keys():
            raise RunDirError(f"{path} line {i} lacks update, wall_s or stage")
        problem = _record_problem(record)
        if problem:
            raise RunDirError(f"{path} line {i}: {problem}")
        if record["stage"] not in range(n_stages):
            raise RunDirError(
                f"{path} line {i} has stage {record['stage']!r}, not 0..{n_stages - 1}"
            )
        records.append(record)
    if not records:
        raise RunDirError(f"{path} is empty: the run logged no updates")
    return records


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and bool(np.isfinite(x))


def _record_problem(record: dict[str, Any]) -> str | None:
    """What in a metrics record is not of the kind training logs (the key named), if any."""
    for key in ("update", "wall_s", "episodes"):
        if key in record and not _finite(record[key]):
            return f"{key} is not a number (got {record[key]!r})"
    for key in ("eval", "confirm"):
        table = record.get(key)
        if key in record and not (
            isinstance(table, dict) and all(_finite(v) for v in table.values())
        ):
            return f"{key} is not a table of accuracies"
    return None


def _mastery(run_dir: Path) -> float | None:
    try:
        return float(json.loads((run_dir / CONFIG_JSON).read_text())["curriculum"]["mastery"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_curves(run_dir: Path, names: Sequence[str] | None = None) -> RunCurves:
    """Read a run directory's metrics into arrays ready to plot.

    ``names``: the stage names (default: those of the run's ``config.json``, see ``stage_names``).
    """
    check_run_dir(run_dir)
    names = stage_names(run_dir) if names is None else tuple(names)
    n = len(names)
    records = read_metrics(run_dir, n)
    evals = [r for r in records if isinstance(r.get("eval"), dict)]
    path = run_dir / METRICS
    try:
        acc = [[float(r["eval"][str(s)]) for s in range(n)] for r in evals]
    except (KeyError, TypeError, ValueError):
        raise RunDirError(f"{path} has an eval entry without stages 0..{n - 1}") from None
    extra = next((len(r["eval"]) for r in evals if len(r["eval"]) != n), None)
    if extra is not None:
        raise RunDirError(
            f"{path} has an eval entry of {extra} stages, but the run's task set has {n}"
        )
    try:
        held = [
            np.nan if r.get("eval_held_out") is None else float(r["eval_held_out"]) for r in evals
        ]
    except (TypeError, ValueError):
        raise RunDirError(f"{path} has an eval_held_out that is not a number") from None
    return RunCurves(
        name=run_dir.resolve().name,
        update=np.array([r["update"] for r in records], dtype=float),
        wall=np.array([r["wall_s"] for r in records], dtype=float),
        stage=np.array([r["stage"] for r in records], dtype=float),
        eval_update=np.array([r["update"] for r in evals], dtype=float),
        eval_wall=np.array([r["wall_s"] for r in evals], dtype=float),
        eval_acc=np.array(acc, dtype=float).reshape(len(evals), n),
        promoted=np.array([bool(r.get("promoted")) for r in evals], dtype=bool),
        mastery=_mastery(run_dir),
        stage_names=names,
        eval_held_out=np.array(held, dtype=float),
    )


def common_grid(xs: list[np.ndarray], n: int = GRID_POINTS) -> np.ndarray:
    """``n`` points from the earliest first x to the latest last x over the non-empty ``xs``.

    >>> common_grid([np.array([10.0, 20.0]), np.array([10.0, 40.0])], n=4).tolist()
    [10.0, 20.0, 30.0, 40.0]
    """
    xs = [x for x in xs if len(x)]
    return np.linspace(min(x[0] for x in xs), max(x[-1] for x in xs), n)


def hold_linear(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``y(x)`` on ``grid``; past either end the end value is held.

    >>> hold_linear(np.array([10.0, 15.0, 30.0]), np.array([10.0, 20.0]), np.array([0.0, 1.0]))
    array([0. , 0.5, 1. ])
    """
    return np.interp(grid, x, y)


def hold_step(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Step resampling: ``y[i]`` covers ``(x[i-1], x[i]]``; past the last x the last value holds.

    A logged stage describes the updates since the previous record, hence the left-open steps.

    >>> hold_step(np.array([5.0, 10.0, 11.0, 40.0]), np.array([10.0, 20.0]), np.array([0.0, 1.0]))
    array([0., 0., 1., 1.])
    """
    i = np.searchsorted(x, grid, side="left")
    return y[np.minimum(i, len(y) - 1)]


def missing_dependency(package: str, needed_for: str) -> ConfigError:
    """The error for a core dependency that is not installed (a damaged installation).

    >>> print(missing_dependency("jinja2>=3.1", "the report"))  # doctest: +NORMALIZE_WHITESPACE
    the report needs jinja2, a dependency of nativeagent that is not installed:
    pip install 'jinja2>=3.1'
    """
    name = package.split(">")[0]
    return ConfigError(
        f"{needed_for} needs {name}, a dependency of nativeagent that is not installed: "
        f"pip install '{package}'"
    )


def _matplotlib() -> tuple[Any, Any]:
    """``(Figure, FigureCanvasAgg)``, imported now (not when the module is), or a
    ``ConfigError`` that says how to install matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_dependency("matplotlib>=3.7", "plotting") from None
    return Figure, FigureCanvasAgg


def _band(ax: Any, grid: np.ndarray, ys: np.ndarray, color: str, step: bool, **line: Any) -> None:
    """Mean of ``ys`` ``(R, G)`` as a line (``line``: more line styles), min–max as a band."""
    style = {"drawstyle": "steps-pre"} if step else {}
    ax.plot(grid, ys.mean(0), color=color, lw=1.8, **style, **line)
    ax.fill_between(
        grid, ys.min(0), ys.max(0), color=color, alpha=0.2, lw=0, step="pre" if step else None
    )


def _draw_accuracy(ax: Any, runs: list[RunCurves], axis: Axis) -> None:
    runs = [r for r in runs if len(r.eval_update)]
    if not runs:
        ax.text(0.5, 0.5, "no evaluations logged", ha="center", transform=ax.transAxes)
        return
    n_stages = runs[0].n_stages
    held = [r.held_out_curve(axis) for r in runs if r.has_held_out]
    if len(runs) == 1:
        for s in range(n_stages):
            ax.plot(runs[0].eval_x(axis), runs[0].eval_acc[:, s], color=stage_color(s), lw=1.6)
        if held:
            ax.plot(*held[0], color=HELD_OUT_COLOR, ls="--", lw=1.6, label=HELD_OUT_LABEL)
    else:
        grid = common_grid([r.eval_x(axis) for r in runs])
        for s in range(n_stages):
            ys = np.stack([hold_linear(grid, r.eval_x(axis), r.eval_acc[:, s]) for r in runs])
            _band(ax, grid, ys, stage_color(s), step=False)
        if held:
            ys = np.stack([hold_linear(grid, x, y) for x, y in held])
            _band(ax, grid, ys, HELD_OUT_COLOR, step=False, ls="--", label=HELD_OUT_LABEL)
    masteries = {r.mastery for r in runs}
    if len(masteries) == 1 and None not in masteries:
        ax.axhline(masteries.pop(), color="0.3", ls=":", lw=1)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("greedy accuracy")


def _draw_stage(ax: Any, runs: list[RunCurves], axis: Axis) -> None:
    curves = [r.stage_curve(axis) for r in runs]
    if len(runs) == 1:
        ax.plot(*curves[0], color="#6a3d9a", lw=1.8, drawstyle="steps-pre")
    else:
        grid = common_grid([x for x, _ in curves])
        ys = np.stack([hold_step(grid, x, y) for x, y in curves])
        _band(ax, grid, ys, "#6a3d9a", step=True)
    names = _shared_names(runs)
    ax.set_ylim(-0.25, len(names) - 0.75)
    ax.set_yticks(range(len(names)), [f"{s}: {n}" if n else str(s) for s, n in enumerate(names)])
    ax.set_ylabel("curriculum stage")


def _mark_events(ax: Any, runs: list[RunCurves], axis: Axis) -> None:
    """One run: dotted lines at promotions. Several: dashed grey lines where each run ended."""
    if len(runs) == 1:
        for x in runs[0].eval_x(axis)[runs[0].promoted]:
            ax.axvline(x, color="#6a3d9a", ls=":", lw=1, alpha=0.7)
        return
    for r in runs:
        ax.axvline(r.stage_curve(axis)[0][-1], color="0.55", ls="--", lw=0.8)


def _shared_names(runs: list[RunCurves]) -> list[str]:
    """The runs' stage names, or empty names where the runs disagree."""
    return [
        n if all(r.stage_names[s] == n for r in runs) else ""
        for s, n in enumerate(runs[0].stage_names)
    ]


def _legend(fig: Any, runs: list[RunCurves]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Line2D([], [], color=stage_color(s), lw=2, label=f"T{s} {n}".rstrip())
        for s, n in enumerate(_shared_names(runs))
    ]
    if any(r.has_held_out for r in runs):
        handles.append(Line2D([], [], color=HELD_OUT_COLOR, ls="--", lw=2, label=HELD_OUT_LABEL))
    handles.append(Line2D([], [], color="#6a3d9a", lw=2, label="curriculum stage"))
    if any(r.mastery is not None for r in runs):
        handles.append(Line2D([], [], color="0.3", ls=":", lw=1, label="mastery threshold"))
    if len(runs) == 1 and runs[0].promoted.any():
        handles.append(Line2D([], [], color="#6a3d9a", ls=":", lw=1, label="promotion"))
    elif len(runs) > 1:
        handles.append(Patch(color="0.6", alpha=0.4, label=f"min–max over {len(runs)} runs"))
        handles.append(Line2D([], [], color="0.55", ls="--", lw=0.8, label="a run ends"))
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False, fontsize=9)


def _title(runs: list[RunCurves]) -> str:
    if len(runs) == 1:
        return f"run {runs[0].name}"
    names = ", ".join(r.name for r in runs)
    if len(names) > 90:
        names = names[:87] + "..."
    return (
        f"{len(runs)} runs ({names}): line = mean, band = min–max across runs; "
        "a run that stopped early holds its last value"
    )


def check_same_stages(runs: list[RunCurves], run_dirs: Sequence[Path] | None = None) -> None:
    """Raise ``RunDirError`` unless every run has as many stages as the first."""
    names = [str(d) for d in run_dirs] if run_dirs is not None else [r.name for r in runs]
    for i, r in enumerate(runs):
        if r.n_stages != runs[0].n_stages:
            raise RunDirError(
                f"run {names[i]} has {r.n_stages} stages but run {names[0]} has "
                f"{runs[0].n_stages}: only runs with as many stages can be plotted together"
            )


def make_figure(runs: list[RunCurves], dpi: int = 110) -> Any:
    """The four-panel matplotlib ``Figure`` of ``runs`` (on an Agg canvas); every panel has its
    own x tick labels."""
    check_same_stages(runs)
    figure_cls, canvas_cls = _matplotlib()
    fig = figure_cls(figsize=(12, 7.5), dpi=dpi, layout="constrained")
    canvas_cls(fig)
    axes = fig.subplots(2, 2, sharex="col", sharey="row")
    for col, axis in enumerate(("update", "wall")):
        _draw_accuracy(axes[0, col], runs, axis)
        _draw_stage(axes[1, col], runs, axis)
        for row in range(2):
            ax = axes[row, col]
            _mark_events(ax, runs, axis)
            ax.set_xlabel(AXIS_LABEL[axis])
            ax.tick_params(labelbottom=True)  # sharex hides them above the bottom row
            ax.grid(alpha=0.3)
    axes[0, 0].set_title("greedy accuracy per stage vs updates", fontsize=11)
    axes[0, 1].set_title("greedy accuracy per stage vs wall time", fontsize=11)
    axes[1, 0].set_title("curriculum stage vs updates", fontsize=11)
    axes[1, 1].set_title("curriculum stage vs wall time", fontsize=11)
    fig.suptitle(_title(runs), fontsize=11)
    _legend(fig, runs)
    return fig


def render_png(runs: list[RunCurves], dpi: int = 110) -> bytes:
    """The four-panel figure of ``runs`` as PNG bytes (matplotlib's Agg canvas)."""
    fig = make_figure(runs, dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def check_out_path(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` can be created: its parent directory must exist."""
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: directory {path.parent} does not exist")


def write_output(path: Path, data: bytes) -> None:
    """Write ``data`` atomically; an OS failure becomes a one-line ``ValueError``."""
    try:
        atomic_write_bytes(path, data)
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err.strerror or err}") from None


def plot_runs(run_dirs: list[Path], out_png: Path) -> None:
    """Plot the curves of ``run_dirs`` (overlaid as mean and band when several) into ``out_png``."""
    if not run_dirs:
        raise ValueError("give at least one run directory")
    check_out_path(out_png)
    runs = [load_curves(Path(d)) for d in run_dirs]
    check_same_stages(runs, [Path(d) for d in run_dirs])
    write_output(out_png, render_png(runs))
