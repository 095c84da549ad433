"""One self-contained HTML page about a run: accuracy, curves, curriculum, programs, config.

Stages, their names and the held-out tasks come from the run's task set (its configuration), so
any curriculum works, not only the three built-in stages.

Everything is inline (CSS, and the plots as base64 PNG data URIs), so the file can be mailed or
archived alone. Rendering uses matplotlib and jinja2 (core dependencies, imported only when a
page is rendered); the page's template is ``templates/report.html.j2``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import tomli_w
import torch

from nativeagent.analysis.plot import (
    check_out_path,
    load_curves,
    missing_dependency,
    read_metrics,
    render_png,
    stage_color,
    write_output,
)
from nativeagent.build import build_task_set
from nativeagent.config import CONFIG_TOML, Config
from nativeagent.tasks.task import Task
from nativeagent.tasks.taskset import TaskSet
from nativeagent.tokens import name
from nativeagent.training.checkpoint import RunDirError, load_policy, read_result
from nativeagent.training.evaluate import HELD_OUT, OPTIMALITY_NOTE, StageAccuracy
from nativeagent.training.explain import Explanation, explain

#: The page's Jinja2 template, in ``analysis/templates``.
TEMPLATE = "report.html.j2"
#: Most expressions a stage's summary lists before it says how many more there are.
LISTED_EXPRESSIONS = 8


@dataclass(frozen=True)
class AccuracyRow:
    """One stage of the final table (stage ``HELD_OUT``: the held-out tasks)."""

    stage: int
    task: str
    accuracy: float
    low: float
    high: float
    episodes: int
    mastered: bool
    expressions: tuple[str, ...] = ()  # every expression of the row, when it has several
    optimality: float | None = None  # see training.evaluate.OPTIMALITY_NOTE; None: not recorded

    @property
    def held_out(self) -> bool:
        return self.stage == HELD_OUT


@dataclass(frozen=True)
class Segment:
    """A stretch of updates spent on one curriculum stage, and how it ended."""

    stage: int
    first: int  # first update on this stage
    last: int  # last update on this stage
    wall_start: float
    wall_end: float
    episodes: int
    end: str

    @property
    def updates(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class StageExamples:
    """Correct and failed greedy programs found among ``searched`` fresh contexts of a stage."""

    stage: int
    searched: int
    n_failed: int
    correct: list[Explanation] = field(default_factory=list)
    failed: list[Explanation] = field(default_factory=list)

    @property
    def several(self) -> bool:
        """Whether the programs come from several expressions (then each names its own)."""
        return any(e.show_expression for e in self.correct + self.failed)


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows."""

    run_dir: Path
    result: dict[str, Any]
    rows: list[AccuracyRow]
    plot_png: bytes
    timeline: list[Segment]
    examples: list[StageExamples]
    config_text: str
    cfg: Config
    seed: int
    tasks: TaskSet


def group_tasks(tasks: TaskSet, stage: int) -> tuple[Task, ...]:
    """The tasks of a stage, or the held-out tasks for ``HELD_OUT``."""
    return tuple(tasks.tasks[i] for i in tasks.stage_tasks(stage))


def _several(expressions: Sequence[str]) -> tuple[str, ...]:
    """``expressions`` when there are several (a row's tooltip), else none."""
    return tuple(expressions) if len(expressions) > 1 else ()


def accuracy_rows(result: dict[str, Any], mastery: float, tasks: TaskSet) -> list[AccuracyRow]:
    """The final accuracy table from ``result.json``: a row per stage of ``tasks``, then one for
    the held-out tasks when the result has them."""
    try:
        table = StageAccuracy.from_result(result, held_out=True)
    except (KeyError, IndexError, TypeError, ValueError):
        raise RunDirError(
            "result.json has no accuracy or interval for every stage (or an incomplete held_out)"
        ) from None
    n_stages = len(table) - (HELD_OUT in table)
    if n_stages != tasks.n_stages or (HELD_OUT in table and not tasks.held_out):
        held = " and held-out tasks" if HELD_OUT in table else ""
        raise RunDirError(
            f"result.json has accuracy for {n_stages} stages{held}, but the run has "
            f"{tasks.n_stages} stages and {len(tasks.held_out)} held-out tasks"
        )
    return [
        AccuracyRow(
            stage=s,
            task=tasks.stage_name(s),
            accuracy=a.accuracy,
            low=a.low,
            high=a.high,
            episodes=a.episodes,
            mastered=a.accuracy >= mastery,
            expressions=_several([t.expression for t in group_tasks(tasks, s)]),
            optimality=a.optimality,
        )
        for s, a in table.items()
    ]


def _segment_end(last: dict[str, Any], is_final: bool, mastery: float) -> str:
    if last.get("promoted"):
        acc = last.get("eval", {}).get(str(last["stage"]))
        shown = "?" if acc is None else f"{acc:.3f}"
        return f"promoted: greedy T{last['stage']} = {shown} ≥ {mastery:g}"
    if not is_final:
        return "next block of the fixed schedule"
    confirm = last.get("confirm")
    if isinstance(confirm, dict) and all(float(a) >= mastery for a in confirm.values()):
        return "stopped: every stage at mastery (confirmed on a larger sample)"
    return f"training ended at update {last['update']}"


def timeline(records: list[dict[str, Any]], mastery: float) -> list[Segment]:
    """Split the logged updates into stretches of one stage (exact to the logged update)."""
    segments: list[Segment] = []
    start = {"update": 0, "wall_s": 0.0, "episodes": 0}
    for i, r in enumerate(records):
        is_final = i == len(records) - 1
        if not is_final and records[i + 1]["stage"] == r["stage"]:
            continue
        segments.append(
            Segment(
                stage=int(r["stage"]),
                first=int(start["update"]) + 1,
                last=int(r["update"]),
                wall_start=float(start["wall_s"]),
                wall_end=float(r["wall_s"]),
                episodes=int(r.get("episodes", 0)) - int(start.get("episodes", 0)),
                end=_segment_end(r, is_final, mastery),
            )
        )
        start = r
    return segments


def pick_examples(stage: int, found: list[Explanation], k: int) -> StageExamples:
    """Keep the first ``k`` correct and the first ``k`` failed programs of ``found``."""
    failed = [e for e in found if not e.correct]
    correct = [e for e in found if e.correct]
    return StageExamples(stage, len(found), len(failed), correct[:k], failed[:k])


def trace_steps(e: Explanation) -> list[str]:
    """The trace's steps, ending in ✓ or ✗ even when the episode ended without an answer.

    >>> trace_steps(Explanation(0, (2, 4, 7), 15, (11,), None, False, "MUL acc=8"))
    ['MUL acc=8', '✗']
    """
    steps = e.trace.split(" · ")
    if not steps[-1].endswith(("✓", "✗")):
        steps.append("✓" if e.correct else "✗")
    return steps


def _config_text(run_dir: Path, cfg: Config) -> str:
    path = run_dir / CONFIG_TOML
    return path.read_text() if path.is_file() else tomli_w.dumps(cfg.to_dict())


def build_report(run_dir: Path, search: int = 2000, seed: int = 7, k: int = 3) -> ReportData:
    """Read a run directory and decode ``search`` fresh contexts per stage for examples."""
    if search < 1 or k < 1:
        raise ValueError("search and the number of examples must be positive")
    records = read_metrics(run_dir)
    result = read_result(run_dir)
    model, cfg = load_policy(run_dir, "cpu")
    tasks = build_task_set(cfg)
    curves = load_curves(run_dir, tasks.stage_names)
    mastery = cfg.curriculum.mastery
    gen = torch.Generator().manual_seed(seed)
    groups = tasks.groups
    examples = [pick_examples(s, explain(model, cfg, s, search, gen), k) for s in groups]
    return ReportData(
        run_dir=run_dir,
        result=result,
        rows=accuracy_rows(result, mastery, tasks),
        plot_png=render_png([curves]),
        timeline=timeline(records, mastery),
        examples=examples,
        config_text=_config_text(run_dir, cfg),
        cfg=cfg,
        seed=seed,
        tasks=tasks,
    )


def template_environment() -> Any:
    """Jinja2 over ``analysis/templates`` (the report's and the study's pages), autoescaped."""
    try:
        import jinja2
    except ImportError:
        raise missing_dependency("jinja2>=3.1", "the HTML report") from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nativeagent.analysis", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tokens"] = lambda program: " ".join(name(t) for t in program)
    env.filters["steps"] = trace_steps
    return env


def _shortest(tasks: TaskSet, task: Task) -> str | None:
    program = tasks.shortest_program(task)
    return None if program is None else " · ".join(name(t) for t in program)


def render_report(data: ReportData) -> str:
    """The page as one HTML string."""
    tasks = data.tasks
    groups = tasks.groups
    members = {s: group_tasks(tasks, s) for s in groups}
    total = max(1, data.timeline[-1].last) if data.timeline else 1
    return (
        template_environment()
        .get_template(TEMPLATE)
        .render(
            d=data,
            r=data.result,
            name=data.run_dir.resolve().name,
            path=str(data.run_dir.resolve()),
            plot_uri="data:image/png;base64," + base64.b64encode(data.plot_png).decode(),
            names={s: tasks.stage_name(s) for s in groups},
            color=stage_color,
            held_out=HELD_OUT,
            has_held_out=HELD_OUT in groups,
            total_updates=total,
            # The shortest program of a group of one task; the expressions of a larger group.
            shortest={
                s: _shortest(tasks, t[0]) if len(t) == 1 else None for s, t in members.items()
            },
            expressions={s: [t.expression for t in ts] for s, ts in members.items()},
            listed=LISTED_EXPRESSIONS,
            optimality_note=OPTIMALITY_NOTE,
            generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            version=version("nativeagent"),
        )
    )


def write_report(
    run_dir: Path, out_html: Path, search: int = 2000, seed: int = 7, examples: int = 3
) -> None:
    """Write the HTML report of ``run_dir`` to ``out_html`` atomically."""
    check_out_path(out_html)
    page = render_report(build_report(Path(run_dir), search, seed, examples))
    write_output(out_html, page.encode())
