"""One self-contained HTML page about a run: accuracy, curves, curriculum, programs, config.

Stages, their names and the held-out tasks come from the run's task set (its configuration), so
any curriculum works, not only the three built-in stages.

Everything is inline (CSS, and the plots as base64 PNG data URIs), so the file can be mailed or
archived alone. Rendering needs the ``[plot]`` extra (matplotlib and jinja2).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import torch

from nativeagent import __version__
from nativeagent.checkpoint import RESULT, RunDirError, load_policy
from nativeagent.config import CONFIG_TOML, Config, ConfigError
from nativeagent.evaluate import HELD_OUT, StageAccuracy
from nativeagent.explain import Explanation, explain
from nativeagent.plot import (
    INSTALL_HINT,
    check_out_path,
    load_curves,
    read_metrics,
    render_png,
    stage_color,
    write_output,
)
from nativeagent.taskgen import build_task_set
from nativeagent.tasks import Task, TaskSet
from nativeagent.tokens import name

RESULT_KEYS = ("accuracy", "interval", "eval_episodes", "solved", "updates", "episodes", "wall_s")
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


def read_result(run_dir: Path) -> dict[str, Any]:
    """``run_dir/result.json``, checked for the keys the report shows."""
    path = run_dir / RESULT
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a finished nativeagent run (no {RESULT})")
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path} is not valid JSON") from None
    missing = [k for k in RESULT_KEYS if not isinstance(result, dict) or k not in result]
    if missing:
        raise RunDirError(f"{path} lacks {', '.join(missing)}")
    return result


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


def _environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise ConfigError(f"the HTML report needs jinja2: {INSTALL_HINT}") from None
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["tokens"] = lambda program: " ".join(name(t) for t in program)
    env.filters["steps"] = trace_steps
    return env


def _shortest(task: Task) -> str | None:
    program = task.shortest_program
    return None if program is None else " · ".join(name(t) for t in program)


def render_report(data: ReportData) -> str:
    """The page as one HTML string."""
    tasks = data.tasks
    groups = tasks.groups
    members = {s: group_tasks(tasks, s) for s in groups}
    total = max(1, data.timeline[-1].last) if data.timeline else 1
    return (
        _environment()
        .from_string(TEMPLATE)
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
            shortest={s: _shortest(t[0]) if len(t) == 1 else None for s, t in members.items()},
            expressions={s: [t.expression for t in ts] for s, ts in members.items()},
            listed=LISTED_EXPRESSIONS,
            generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            version=__version__,
        )
    )


def write_report(
    run_dir: Path, out_html: Path, search: int = 2000, seed: int = 7, examples: int = 3
) -> None:
    """Write the HTML report of ``run_dir`` to ``out_html`` atomically."""
    check_out_path(out_html)
    page = render_report(build_report(Path(run_dir), search, seed, examples))
    write_output(out_html, page.encode())


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nativeagent report: {{ name }}</title>
<style>
  :root { --ink: #1d2433; --muted: #5b6475; --line: #e2e6ee; --ok: #1a7f37; --bad: #c62828; }
  * { box-sizing: border-box; }
  body { margin: 0; background: #f4f6fa; color: var(--ink);
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
  header h1 { margin: 0 0 4px; font-size: 26px; }
  header .path { margin: 0 0 12px; color: var(--muted); font-size: 13px; word-break: break-all; }
  .badge { display: inline-block; padding: 3px 12px; border-radius: 999px; font-weight: 600;
           font-size: 14px; color: #fff; }
  .badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
  nav { margin: 14px 0 0; font-size: 14px; }
  nav a { color: #2456a6; margin-right: 16px; text-decoration: none; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
            padding: 18px 22px; margin: 18px 0; box-shadow: 0 1px 2px rgba(20, 30, 60, .05); }
  h2 { margin: 0 0 12px; font-size: 19px; }
  h3 { margin: 18px 0 8px; font-size: 16px; }
  h4 { margin: 12px 0 6px; font-size: 14px; color: var(--muted); }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
           gap: 10px; margin: 0; }
  .facts div { background: #f7f9fc; border: 1px solid var(--line); border-radius: 8px;
               padding: 8px 12px; }
  .facts dt { color: var(--muted); font-size: 12px; text-transform: uppercase;
              letter-spacing: .04em; }
  .facts dd { margin: 2px 0 0; font-size: 17px; font-weight: 600;
              font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left;
           vertical-align: top; }
  th { font-size: 13px; color: var(--muted); font-weight: 600; background: #f7f9fc; }
  td.num, th.num { text-align: right; }
  tbody tr:nth-child(even) { background: #fafbfd; }
  .yes { color: var(--ok); font-weight: 600; } .no { color: var(--bad); font-weight: 600; }
  .note { color: var(--muted); font-size: 13px; margin: 10px 0 0; }
  code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
            margin-right: 6px; vertical-align: baseline; }
  figure { margin: 0; } figure img { width: 100%; height: auto; display: block; }
  figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
  .bar { display: flex; height: 34px; border-radius: 6px; overflow: hidden; margin: 4px 0 14px;
         border: 1px solid var(--line); }
  .bar div { color: #fff; font-size: 12px; font-weight: 600; padding: 8px 6px;
             white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 3px; }
  .stage-block { border-top: 1px solid var(--line); padding-top: 4px; margin-top: 14px; }
  .stage-block:first-of-type { border-top: 0; }
  table.programs { table-layout: fixed; }
  table.programs th.ctx { width: 14%; } table.programs th.val { width: 9%; }
  .summary { color: var(--muted); font-size: 14px; margin: 0 0 6px; }
  .steps { display: flex; flex-wrap: wrap; gap: 4px; }
  .step { display: inline-block; background: #eef2f8; border: 1px solid #d9e0ec;
          border-radius: 5px; padding: 1px 7px; font-size: 13px; white-space: nowrap; }
  .step.ok { background: #e6f4ea; border-color: #a8d5b5; color: var(--ok); }
  .step.bad { background: #fdecea; border-color: #f1b0ab; color: var(--bad); }
  .empty { color: var(--muted); font-style: italic; margin: 4px 0 8px; }
  pre { background: #f7f9fc; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
        font-size: 13px; overflow-x: auto; margin: 0; }
  footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
</style>
</head>
<body>
<main>
<header>
  <h1>Run <code>{{ name }}</code></h1>
  <p class="path">{{ path }}</p>
  {% if r.solved %}<span class="badge ok">solved every stage</span>
  {% else %}<span class="badge bad">did not solve every stage</span>{% endif %}
  <nav>
    <a href="#accuracy-section">Accuracy</a><a href="#curves">Training curves</a>
    <a href="#curriculum">Curriculum</a><a href="#examples">Example programs</a>
    <a href="#config">Configuration</a>
  </nav>
</header>

<section id="summary">
  <dl class="facts">
    <div><dt>seed</dt><dd>{{ r.seed }}</dd></div>
    <div><dt>updates</dt><dd>{{ r.updates }}</dd></div>
    <div><dt>episodes</dt><dd>{{ "{:,}".format(r.episodes) }}</dd></div>
    <div><dt>wall time</dt><dd>{{ "%.1f"|format(r.wall_s) }} s</dd></div>
    <div><dt>machine</dt><dd>{{ d.cfg.machine.name }}</dd></div>
    <div><dt>decoding</dt><dd>{{ d.cfg.decode.mode }} loop</dd></div>
    <div><dt>curriculum</dt><dd>{{ d.cfg.curriculum.kind }}</dd></div>
    <div><dt>device</dt><dd>{{ r.device if r.device is defined else "?" }}</dd></div>
  </dl>
</section>

<section id="accuracy-section">
  <h2>Final greedy accuracy</h2>
  <table id="accuracy">
    <thead><tr><th>stage</th><th>task</th><th class="num">accuracy</th>
      <th class="num">95% interval</th><th class="num">episodes</th><th>mastered</th></tr></thead>
    <tbody>
    {% for row in d.rows %}
      <tr id="{{ 'held-out' if row.held_out else 'stage-' ~ row.stage }}">
        <td><span class="swatch" style="background: {{ color(row.stage) }}"></span>
          {{- "held-out" if row.held_out else row.stage }}</td>
        <td><code{% if row.expressions %} title="{{ row.expressions|join(', ') }}"{% endif %}>
          {{- row.task }}</code></td>
        <td class="num">{{ "%.3f"|format(row.accuracy) }}</td>
        <td class="num">[{{ "%.3f"|format(row.low) }}, {{ "%.3f"|format(row.high) }}]</td>
        <td class="num">{{ row.episodes }}</td>
        <td>{% if row.mastered %}<span class="yes">yes</span>
          {%- else %}<span class="no">no</span>{% endif %}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  <p class="note">Greedy (argmax) decoding on {{ r.eval_episodes }} fresh contexts per stage;
    95% Wilson score intervals. Mastery means accuracy &ge;
    {{ d.cfg.curriculum.mastery }}.
    {%- if has_held_out %} The held-out expressions were never trained on.{% endif %}</p>
</section>

<section id="curves">
  <h2>Training curves</h2>
  <figure>
    <img src="{{ plot_uri }}" alt="greedy accuracy per stage and curriculum stage against updates
and wall time">
    <figcaption>Periodic greedy evaluations ({{ d.cfg.train.eval_episodes }} episodes per stage,
      every {{ d.cfg.train.eval_every }} updates) and the stage being learned.
      Dotted vertical lines mark promotions.
      {%- if has_held_out %} The grey dashed line is the accuracy on held-out shapes.{% endif -%}
    </figcaption>
  </figure>
</section>

<section id="curriculum">
  <h2>Curriculum timeline</h2>
  <div class="bar" title="updates spent on each stage">
  {% for seg in d.timeline %}
    <div style="width: {{ '%.2f'|format(100 * seg.updates / total_updates) }}%;
      background: {{ color(seg.stage) }}">T{{ seg.stage }} · {{ seg.updates }}</div>
  {% endfor %}
  </div>
  <table id="timeline">
    <thead><tr><th>stage</th><th>task</th><th class="num">updates</th>
      <th class="num">count</th><th class="num">wall time (s)</th><th class="num">episodes</th>
      <th>how it ended</th></tr></thead>
    <tbody>
    {% for seg in d.timeline %}
      <tr>
        <td><span class="swatch" style="background: {{ color(seg.stage) }}"></span>
          {{- seg.stage }}</td>
        <td><code>{{ names[seg.stage] }}</code></td>
        <td class="num">{{ seg.first }}–{{ seg.last }}</td>
        <td class="num">{{ seg.updates }}</td>
        <td class="num">{{ "%.2f"|format(seg.wall_start) }}–{{ "%.2f"|format(seg.wall_end) }}</td>
        <td class="num">{{ "{:,}".format(seg.episodes) }}</td>
        <td>{{ seg.end }}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  <p class="note">Stage boundaries are exact to the logged update (every
    {{ d.cfg.train.log_every }} updates, and at every evaluation).
    {% if d.cfg.curriculum.kind == "mastery" -%}
    Promotion happens after a periodic evaluation; {{ (d.cfg.curriculum.replay * 100)|round|int }}%
    of every later batch replays earlier stages.
    {%- endif %}</p>
</section>

<section id="examples">
  <h2>Example programs</h2>
  <p class="note">Greedy programs on fresh contexts (seed {{ d.seed }}), traced on the
    {{ d.cfg.machine.name }} machine: each step shows the tool and the registers it changed.</p>
  {% for ex in d.examples %}
  {% set held = ex.stage == held_out %}
  <div class="stage-block" id="examples-{{ 'held-out' if held else ex.stage }}">
    <h3><span class="swatch" style="background: {{ color(ex.stage) }}"></span>
      {{- "Held-out shapes" if held else "Stage " ~ ex.stage }}:
      <code>{{ names[ex.stage] }}</code></h3>
    {% set exprs = expressions[ex.stage] %}
    <p class="summary">{% if shortest[ex.stage] %}Shortest program
      <code>{{ shortest[ex.stage] }}</code>.
      {%- elif exprs|length > 1 %}{{ exprs|length }} expressions:
      {% for e in exprs[:listed] %}<code>{{ e }}</code>{% if not loop.last %}, {% endif %}
      {%- endfor %}
      {%- if exprs|length > listed %} and {{ exprs|length - listed }} more{% endif %}.
      {%- endif %}
      {{ "{:,}".format(ex.searched) }} fresh episodes searched:
      {{ "{:,}".format(ex.searched - ex.n_failed) }} correct, {{ "{:,}".format(ex.n_failed) }}
      failed ({{ "%.2f"|format(100 * ex.n_failed / ex.searched) }}%).</p>
    {% set n = "{:,}".format(ex.searched) %}
    {% for title, items, empty in [
        ("Correct", ex.correct, "no correct programs in " ~ n ~ " episodes"),
        ("Failed", ex.failed, "no failures in " ~ n ~ " episodes")] %}
      <h4>{{ title }}</h4>
      {% if items %}
      <table class="programs">
        <thead><tr>{% if ex.several %}<th class="ctx">expression</th>{% endif %}
          <th class="ctx">context</th><th class="num val">target</th>
          <th class="num val">answer</th><th>register trace</th></tr></thead>
        <tbody>
        {% for e in items %}
          <tr>
            {% if ex.several %}<td class="mono">{{ e.expression }}</td>{% endif %}
            <td class="mono">{{ e.context|join(" ") }}</td>
            <td class="num mono">{{ e.target }}</td>
            <td class="num mono">{{ "—" if e.answer is none else e.answer }}</td>
            <td><span class="steps">{% for step in e|steps %}<span class="step
              {%- if step.endswith("✓") %} ok{% elif step.endswith("✗") %} bad{% endif %}">
              {{- step }}</span> {% endfor %}</span></td>
          </tr>
        {% endfor %}
        </tbody>
      </table>
      {% else %}<p class="empty">{{ empty }}</p>{% endif %}
    {% endfor %}
  </div>
  {% endfor %}
</section>

<section id="config">
  <h2>Configuration</h2>
  <pre>{{ d.config_text }}</pre>
</section>

<footer>nativeagent {{ version }} · generated {{ generated }}</footer>
</main>
</body>
</html>
"""
