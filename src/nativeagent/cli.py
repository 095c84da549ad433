"""``nativeagent train | eval | explain``: the command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nativeagent.checkpoint import CHECKPOINT, RESULT, RunDirError, load_policy
from nativeagent.config import PRESETS, Config, ConfigError, load_config
from nativeagent.evaluate import HELD_OUT, StageAccuracy

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train model-native agents that learn tool use end to end by reinforcement learning.",
)
console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ConfigError, RunDirError, ValueError, FileExistsError)
EXIT_NONFINITE = 3  # training stopped on a NaN or infinity


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit: user mistakes never show a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def accuracy_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Per-stage greedy accuracy with 95% intervals, as a rich table."""
    table = Table(title=title)
    for col in ("stage", "task", "accuracy", "95% interval", "episodes", "optimality"):
        table.add_column(col, justify="right" if col != "task" else "left")
    for r in rows:
        opt = r.get("optimality")
        table.add_row(
            str(r["stage"]),
            escape(r["task"]),
            f"{r['accuracy']:.3f}",
            f"[{r['low']:.3f}, {r['high']:.3f}]",
            str(r["episodes"]),
            "-" if opt is None else f"{opt:.3f}",
        )
    return table


def stage_rows(acc: dict[int, StageAccuracy], cfg: Config) -> list[dict[str, Any]]:
    """Rows of the accuracy table (and of ``eval --json``), one per stage, then held-out."""
    from nativeagent.taskgen import build_task_set

    tasks = build_task_set(cfg)
    return [
        {
            "stage": "held-out" if s == HELD_OUT else s,
            "task": tasks.stage_name(s),
            "accuracy": a.accuracy,
            "low": a.low,
            "high": a.high,
            "episodes": a.episodes,
            "optimality": a.optimality,
        }
        for s, a in acc.items()
    ]


def progress_bar(label: str, disable: bool = False) -> Progress:
    """The live display every long command uses: label, bar, done/total, status, time."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
        transient=True,
    )


def _eval_summary(r: dict[str, Any], digits: int, sep: str) -> str:
    """``T0=1.000 T1=0.990 held-out=0.600`` from a metrics record's evaluation."""
    parts = [f"T{s}{sep}{v:.{digits}f}" for s, v in r["eval"].items()]
    if "eval_held_out" in r:
        parts.append(f"held-out{sep}{r['eval_held_out']:.{digits}f}")
    return " ".join(parts)


def _eval_line(r: dict[str, Any]) -> str:
    ev = _eval_summary(r, 3, "=")
    return (
        f"update={r['update']} stage={r['stage']} train_acc={r['train_acc']:.3f} "
        f"| eval {ev} loss={r['loss']:.4f}"
    )


def _default_out(cfg: Config, preset: str) -> Path:
    return Path("runs") / f"{preset}-seed{cfg.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


@app.command()
def train(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML file over the preset.")
    ] = None,
    preset: Annotated[str, typer.Option(help=f"Base settings: {', '.join(PRESETS)}.")] = "default",
    seed: Annotated[int | None, typer.Option(help="Random seed (train.seed).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to write.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda (train.device).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a setting: section.key=value (repeatable)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a finished run in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard", help="Also write TensorBoard scalars.")
    ] = False,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the run in this directory from its checkpoint.")
    ] = None,
) -> None:
    """Train an agent and write metrics.jsonl, checkpoint.pt and result.json into --out."""
    if resume is not None:
        given = [config, seed, out, device, set_ or None, tensorboard or None]
        if preset != "default" or any(v is not None for v in given):
            fail("--resume continues a run with its own saved settings; give no other options")
        _train(resume, None, quiet, resume=True)
        return
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if device is not None:
        overrides.append(f"train.device={json.dumps(device)}")
    if tensorboard:
        overrides.append("train.tensorboard=true")
    try:
        cfg = load_config(config, preset, overrides)
        from nativeagent.train import resolve_device

        resolve_device(cfg.train.device)
        if cfg.train.tensorboard:
            from nativeagent.metrics_log import check_tensorboard

            check_tensorboard()
    except USER_ERRORS as err:
        fail(str(err))
    out_dir = out or _default_out(cfg, preset)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} exists and is not a directory")
    if not overwrite and ((out_dir / RESULT).exists() or (out_dir / CHECKPOINT).exists()):
        fail(f"{out_dir} already holds a run; pick another --out, --resume it or pass --overwrite")
    _train(out_dir, cfg, quiet)


def _train(out_dir: Path, cfg: Config | None, quiet: bool, resume: bool = False) -> None:
    """Run (or resume) training with a progress display; print the final table."""
    from nativeagent.train import NonFiniteError, resume_config
    from nativeagent.train import train as run_training

    if resume:
        if (out_dir / RESULT).exists():
            fail(f"the run in {out_dir} has already finished (see {out_dir / RESULT})")
        try:
            cfg = resume_config(out_dir)
        except USER_ERRORS as err:
            fail(str(err))
    assert cfg is not None

    progress = progress_bar("train", disable=quiet)
    task = progress.add_task("stage 0", total=cfg.train.max_updates)

    def report(r: dict[str, Any]) -> None:
        desc = f"stage {r['stage']} train_acc {r['train_acc']:.2f}"
        if "eval" in r:
            desc += " | " + _eval_summary(r, 2, " ")
            if not quiet:
                progress.console.print(_eval_line(r), highlight=False, soft_wrap=True)
        progress.update(task, completed=r["update"], description=desc)

    verb = "resuming" if resume else "run directory:"
    console.print(f"{verb} {out_dir}", highlight=False, soft_wrap=True)
    try:
        with progress:
            result = run_training(cfg, out_dir, report, resume=resume)
    except KeyboardInterrupt:
        fail(f"interrupted; continue with: nativeagent train --resume {out_dir}", code=130)
    except NonFiniteError as err:
        fail(str(err), code=EXIT_NONFINITE)
    except RunDirError as err:
        fail(str(err))
    except OSError as err:  # e.g. a full disk: the last complete checkpoint is still in place
        fail(f"cannot write the run in {out_dir}: {err.strerror or err}; resume it with --resume")
    final = StageAccuracy.from_result(result, held_out=True)
    console.print(accuracy_table("greedy accuracy (final)", stage_rows(final, cfg)))
    verdict = "solved every stage" if result["solved"] else "did NOT solve every stage"
    console.print(
        f"{verdict} | updates={result['updates']} episodes={result['episodes']} "
        f"wall={result['wall_s']:.1f}s seed={result['seed']} -> {out_dir / RESULT}",
        highlight=False,
        soft_wrap=True,
    )


def _load(run_dir: Path, device: str) -> tuple[Any, Config, Any]:
    import torch

    from nativeagent.train import resolve_device

    try:
        dev = resolve_device(device)
        model, cfg = load_policy(run_dir, str(dev))
    except USER_ERRORS as err:
        fail(str(err))
    return model, cfg, torch.device(dev)


@app.command("eval")
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    episodes: Annotated[int, typer.Option(min=1, help="Fresh episodes per stage.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the evaluation contexts.")] = 2024,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
) -> None:
    """Greedy accuracy per stage of a trained agent, with 95% intervals."""
    import torch

    from nativeagent.evaluate import evaluate

    model, cfg, dev = _load(run_dir, device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rows = stage_rows(evaluate(model, cfg, episodes, gen, held_out=True), cfg)
    if as_json:
        print(
            json.dumps(
                {
                    "accuracy": {
                        str(r["stage"]): r["accuracy"] for r in rows if r["stage"] != "held-out"
                    },
                    "stages": rows,
                }
            )
        )
    else:
        console.print(accuracy_table(f"greedy accuracy: {run_dir}", rows))


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    stage: Annotated[
        int | None, typer.Option(help="Stage to show, -1 for held-out (default: every stage).")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Contexts per stage.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for the contexts.")] = 7,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
) -> None:
    """Greedy programs on sampled contexts, with the machine's register trace."""
    import torch

    from nativeagent.explain import explain as run_explain
    from nativeagent.taskgen import build_task_set

    model, cfg, dev = _load(run_dir, device)
    tasks = build_task_set(cfg)
    groups = tasks.groups
    if stage is not None and stage not in groups:
        fail(f"--stage must be one of {', '.join(map(str, groups))} for this run, got {stage}")
    gen = torch.Generator(device=dev).manual_seed(seed)
    for s in [stage] if stage is not None else groups:
        title = "held-out" if s == HELD_OUT else f"stage {s}"
        console.print(f"[bold]{title}[/]: {escape(tasks.stage_name(s))}", highlight=False)
        for e in run_explain(model, cfg, s, n, gen):
            console.print(f"  {e}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def solve(
    expressions: Annotated[
        list[str], typer.Argument(metavar="EXPR", help='Expressions such as "(a*b+c)-(d*e)".')
    ],
    max_steps: Annotated[
        int, typer.Option(min=1, max=16, help="Longest program searched, ANS included.")
    ] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """The shortest canonical-machine program for each expression, or why there is none.

    Exit code 1 when some expression cannot be computed.
    """
    from nativeagent.expression import ExpressionError
    from nativeagent.solver import solve as run_solver

    try:
        solutions = [run_solver(e, max_steps) for e in expressions]
    except ExpressionError as err:
        fail(str(err))
    for sol in solutions:
        if as_json:
            record = {
                "expression": sol.expression,
                "reachable": sol.reachable,
                "program": sol.program_text.split() if sol.reachable else None,
                "length": len(sol.program or ()) or None,
                "n_shortest": sol.n_shortest,
                "states": sol.states,
                "reason": sol.reason,
            }
            print(json.dumps(record))
        elif sol.reachable:
            unique = "unique" if sol.n_shortest == 1 else f"one of {sol.n_shortest}"
            console.print(
                f"{sol.expression}: {sol.program_text} ({len(sol.program or ())} tools, "
                f"{unique} shortest)",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"{sol.expression}: not computable: {sol.reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if not all(sol.reachable for sol in solutions):
        raise typer.Exit(1)


@app.command()
def expressions(
    operands: Annotated[int, typer.Option(min=2, max=5, help="Operands per expression.")] = 3,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Draw this many at random instead of listing all.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random draw.")] = 0,
    operators: Annotated[str, typer.Option(help="Operators that may appear.")] = "*+-",
) -> None:
    """Reachable expressions over N operands with their shortest programs (all, or a sample)."""
    import torch

    from nativeagent.taskgen import all_reachable, random_reachable
    from nativeagent.tokens import name

    try:
        if sample is None:
            found = list(all_reachable(operands, operators=operators))
        else:
            gen = torch.Generator().manual_seed(seed)
            found = random_reachable(operands, sample, gen, operators)
    except ValueError as err:
        fail(str(err))
    for task in found:
        program = " ".join(name(t) for t in task.shortest_program or ())
        console.print(f"{task.expression:<16} {program}", highlight=False, markup=False)


@app.command()
def plot(
    run_dirs: Annotated[
        list[Path], typer.Argument(metavar="RUN_DIR", help="Run directories written by train.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
) -> None:
    """Plot greedy accuracy and curriculum stage vs updates and wall time (several runs: mean)."""
    from nativeagent.plot import plot_runs

    try:
        plot_runs(run_dirs, out)
    except USER_ERRORS as err:
        fail(str(err))
    console.print(f"wrote {out}", highlight=False, soft_wrap=True)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")],
    search: Annotated[
        int, typer.Option(min=1, help="Fresh contexts per stage searched for example programs.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the example contexts.")] = 7,
) -> None:
    """One self-contained HTML page: accuracy, curves, curriculum, example programs, config."""
    from nativeagent.report import write_report

    try:
        write_report(run_dir, out, search=search, seed=seed)
    except USER_ERRORS as err:
        fail(str(err))
    console.print(f"wrote {out}", highlight=False, soft_wrap=True)


def _names(text: str, known: tuple[str, ...], option: str) -> list[str]:
    """``"a2c,ppo"`` -> ``["a2c", "ppo"]``, checked against ``known``, duplicates dropped."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ValueError(f"{option} needs at least one of {','.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{option}: unknown {', '.join(map(repr, unknown))}; choose from {','.join(known)}"
        )
    return names


@app.command()
def bench(
    algos: Annotated[str, typer.Option(help="Algorithms, comma-separated.")] = "a2c,ppo,grpo",
    models: Annotated[str, typer.Option(help="Models, comma-separated.")] = "gru,transformer",
    seeds: Annotated[int, typer.Option(help="Seeds per combination: 0..N-1.")] = 5,
    out: Annotated[
        Path | None, typer.Option(help="Directory to write (default: bench/<timestamp>).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a setting for every run: section.key=value."),
    ] = None,
) -> None:
    """Time to solve of every algorithm x model over seeds, one run at a time, with 95% CIs."""
    import shlex

    from nativeagent import bench as b
    from nativeagent.plot import _matplotlib

    overrides = list(set_ or [])
    out_dir = out or Path("bench") / time.strftime("%Y%m%d-%H%M%S")
    try:
        combos = [
            b.Combination(a, m, tuple(overrides))
            for a in _names(algos, b.ALGOS, "--algos")
            for m in _names(models, b.MODELS, "--models")
        ]
        if seeds < 1:
            raise ValueError(f"--seeds must be at least 1 (got {seeds})")
        b.check_out_dir(out_dir, combos, range(seeds))
        b.check_combinations(combos)
        _matplotlib()  # before the runs, not after them
    except USER_ERRORS as err:
        fail(str(err))
    command = shlex.join(
        ["nativeagent", "bench", "--algos", algos, "--models", models, "--seeds", str(seeds)]
        + ["--out", str(out_dir)]
        + [arg for o in overrides for arg in ("--set", o)]
    )
    progress = progress_bar("bench")
    task = progress.add_task("", total=len(combos) * seeds)

    def on_progress(done: int, total: int, running: str | None, finished: b.Trial | None) -> None:
        if finished is not None:
            r = finished.result
            if finished.solved:
                what = f"solved in {r['updates']} updates, {r['episodes']} episodes"
            else:
                what = f"not solved after {r.get('updates')} updates"
                if "error" in r:
                    what = f"not solved: {r['error']}"
            if "wall_s" in r:
                what += f", {r['wall_s']:.1f}s"
            progress.console.print(
                f"{finished.combination.name} seed {finished.seed}: {what}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        progress.update(task, completed=done, description=running or "done")

    console.print(f"bench directory: {out_dir}", highlight=False, soft_wrap=True)
    try:
        with progress:
            trials = b.run_bench(combos, range(seeds), out_dir, b.train_runner, on_progress)
        stats = b.summarize(trials)
        b.write_markdown(stats, out_dir / b.MARKDOWN, command)
        b.write_png(stats, trials, out_dir / b.PNG)
    except KeyboardInterrupt:
        fail(f"interrupted; the finished runs are listed in {out_dir / b.TRIALS}", code=130)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the bench in {out_dir}: {err.strerror or err}")
    console.print(b.markdown(stats, command), highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"wrote {out_dir / b.MARKDOWN}, {out_dir / b.PNG} and {out_dir / b.TRIALS}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def sweep(
    sweep_file: Annotated[
        Path, typer.Argument(metavar="SWEEP.toml", help="The sweep: [sweep], [grid], [random].")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Directory to write (default: sweeps/<name>).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the unfinished trials of the sweep in --out.")
    ] = False,
    address: Annotated[
        str | None,
        typer.Option(
            envvar="RAY_ADDRESS",
            help="Ray cluster HOST:PORT (default: a local Ray on this machine).",
        ),
    ] = None,
) -> None:
    """Grid or random search over settings and seeds, every trial a training run on Ray Tune."""
    import shlex

    from nativeagent import sweep as sw
    from nativeagent.plot import _matplotlib

    try:
        plan = sw.read_sweep(sweep_file)
        out_dir = out or sw.default_out(plan)
        sw.check_out_dir(plan, out_dir, resume)
        sw.require_ray()
        _matplotlib()  # the summary's PNG: before the runs, not after them
        if not resume:
            sw.write_plan(plan, out_dir)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the sweep in {out_dir}: {err.strerror or err}")
    command = shlex.join(["nativeagent", "sweep", str(sweep_file), "--out", str(out_dir)])
    specs = plan.specs(out_dir)
    todo = sw.pending(specs)
    console.print(
        f"sweep directory: {out_dir} | {len(plan.configurations)} configurations x "
        f"{len(plan.seeds)} seeds = {len(specs)} trials, {len(specs) - len(todo)} already done",
        highlight=False,
        soft_wrap=True,
    )
    progress = progress_bar("sweep")
    task = progress.add_task("", total=len(specs), completed=len(specs) - len(todo))

    def on_event(event: str, spec: sw.TrialSpec, r: dict[str, Any]) -> None:
        if event == "finished":
            progress.advance(task)
            if r.get("solved"):
                what = f"solved in {r['updates']} updates, {r['episodes']:,} episodes"
            else:
                what = f"not solved: {r['error']}" if "error" in r else "not solved"
                what += f" after {r['updates']} updates" if "updates" in r else ""
            what += f", {r['wall_s']:.1f}s" if "wall_s" in r else ""
        elif event == "retry":
            what = f"failed ({r['error']}); retrying from its last checkpoint"
        else:
            what = f"failed for good: {r['error']}"
        progress.console.print(f"{spec.id}: {what}", highlight=False, markup=False, soft_wrap=True)

    again = shlex.join(["nativeagent", "sweep", str(sweep_file), "--out", str(out_dir), "--resume"])
    try:
        with progress:
            failed = sw.run_trials(plan, todo, out_dir, address, progress=on_event)
        unfinished = sw.pending(specs)
        if not unfinished:
            sw.write_summary(plan, out_dir, command)
    except KeyboardInterrupt:
        fail(f"interrupted; continue with: {again}", code=130)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the sweep in {out_dir}: {err.strerror or err}")
    if failed:
        trial, error = next(iter(failed.items()))
        fail(
            f"{len(failed)} of {len(specs)} trials failed (the first, {trial}: {error}); "
            f"fix the cause, then continue with: {again}",
            code=1,
        )
    if unfinished:
        n = len(unfinished)
        fail(f"interrupted with {n} unfinished trial{'s' * (n != 1)}; continue with: {again}", 130)
    console.print(
        (out_dir / sw.SUMMARY_MD).read_text(), highlight=False, markup=False, soft_wrap=True
    )
    names = ", ".join(str(out_dir / n) for n in (sw.SUMMARY_MD, sw.SUMMARY_CSV, sw.SUMMARY_PNG))
    console.print(f"wrote {names}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the ``nativeagent`` script: usage errors too are one line, exit code 2."""
    try:
        code = app(prog_name="nativeagent", standalone_mode=False)
    except Exception as err:
        # Typer's click (vendored in recent typer) raises usage errors with these two members.
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            raise
        if type(err).__name__ == "NoArgsIsHelpError":
            console.print(err.format_message(), highlight=False, markup=False)
            sys.exit(0)
        ctx = getattr(err, "ctx", None)
        where = (
            f"nativeagent {ctx.info_name} --help" if ctx and ctx.parent else "nativeagent --help"
        )
        message = f"{err.format_message()} (see {where})"
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
