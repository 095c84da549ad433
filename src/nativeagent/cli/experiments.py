"""``nativeagent bench``, ``sweep`` and ``study``: many training runs, and their statistics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from nativeagent.cli.common import USER_ERRORS, check_matplotlib, console, fail, progress_bar


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

    from nativeagent.experiments import bench as b

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
        check_matplotlib()  # before the runs, not after them
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


#: ``--address`` of ``sweep`` and ``study``: the Ray cluster to run on.
RayAddress = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS", help="Ray cluster HOST:PORT (default: a local Ray on this machine)."
    ),
]


def _trial_printer(progress: Any, task: Any) -> Any:
    """The sweep machinery's ``progress`` callback: advance the bar, print a line per trial."""
    from nativeagent.experiments import sweep as sw

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

    return on_event


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
    address: RayAddress = None,
) -> None:
    """Grid or random search over settings and seeds, every trial a training run on Ray Tune."""
    import shlex

    from nativeagent.experiments import sweep as sw

    try:
        plan = sw.read_sweep(sweep_file)
        out_dir = out or sw.default_out(plan)
        sw.check_out_dir(plan, out_dir, resume)
        sw.require_ray()
        check_matplotlib()  # the summary's PNG: before the runs, not after them
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

    on_event = _trial_printer(progress, task)

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
    _refuse_unfinished(failed, len(specs), len(unfinished), again)
    console.print(
        (out_dir / sw.SUMMARY_MD).read_text(), highlight=False, markup=False, soft_wrap=True
    )
    names = ", ".join(str(out_dir / n) for n in (sw.SUMMARY_MD, sw.SUMMARY_CSV, sw.SUMMARY_PNG))
    console.print(f"wrote {names}", highlight=False, soft_wrap=True)


def _refuse_unfinished(failed: dict[str, str], total: int, unfinished: int, again: str) -> None:
    """Exit 1 when trials failed for good, 130 when some were left unfinished (interrupted)."""
    if failed:
        trial, error = next(iter(failed.items()))
        fail(
            f"{len(failed)} of {total} trials failed (the first, {trial}: {error}); "
            f"fix the cause, then continue with: {again}",
            code=1,
        )
    if unfinished:
        n = unfinished
        fail(f"interrupted with {n} unfinished trial{'s' * (n != 1)}; continue with: {again}", 130)


STUDY_HELP = "The study file (STUDY.toml); with --summary, a study's directory."


def study(
    target: Annotated[Path, typer.Argument(metavar="STUDY.toml|DIR", help=STUDY_HELP)],
    out: Annotated[
        Path | None, typer.Option(help="Directory to write (default: studies/<name>).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the unfinished runs of the study in --out.")
    ] = False,
    address: RayAddress = None,
    summary: Annotated[
        bool,
        typer.Option("--summary", help="Rebuild the outputs of the study in DIR from it alone."),
    ] = False,
) -> None:
    """Train variants over splits and seeds on Ray Tune, score every run on held-out shapes
    and longer expressions, and write length curves, tables and a page."""
    import shlex

    from nativeagent.experiments import study as st
    from nativeagent.experiments import sweep as sw

    if summary:
        if out is not None or resume or address is not None:
            fail("--summary takes only the study's directory (no --out, --resume or --address)")
        _write_study_outputs(target)
        return
    try:
        plan = st.read_study(target)
        out_dir = out or st.default_out(plan)
        sw.check_out_dir(plan.sweep, out_dir, resume, plan=st.PLAN, what="study")
        sw.require_ray()
        check_matplotlib()  # the length curves: before the runs, not after them
        command = shlex.join(["nativeagent", "study", str(target), "--out", str(out_dir)])
        if not resume:
            record = {**plan.plan(), "command": command}
            sw.write_plan(plan.sweep, out_dir, record, (st.PLAN, st.STUDY_COPY))
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the study in {out_dir}: {err.strerror or err}")
    specs = plan.sweep.specs(out_dir)
    todo = st.pending(specs, plan.sets)
    console.print(
        f"study directory: {out_dir} | {len(plan.variants)} variants x "
        f"{max(1, len(plan.splits))} splits x {len(plan.sweep.seeds)} seeds = {len(specs)} runs, "
        f"{len(specs) - len(todo)} already done; {len(plan.sets)} evaluation sets",
        highlight=False,
        soft_wrap=True,
    )
    progress = progress_bar("study")
    task = progress.add_task("", total=len(specs), completed=len(specs) - len(todo))
    again = shlex.join(["nativeagent", "study", str(target), "--out", str(out_dir), "--resume"])
    try:
        with progress:
            failed = st.run_study(plan, out_dir, address, _trial_printer(progress, task))
        unfinished = st.pending(specs, plan.sets)
    except KeyboardInterrupt:
        fail(f"interrupted; continue with: {again}", code=130)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the study in {out_dir}: {err.strerror or err}")
    if not unfinished:
        _write_study_outputs(out_dir)
    _refuse_unfinished(failed, len(specs), len(unfinished), again)


def _write_study_outputs(out_dir: Path) -> None:
    """Write a study's outputs from its directory, print its summary and what it wrote."""
    from nativeagent.experiments import study as st
    from nativeagent.experiments.study.page import PAGE

    try:
        check_matplotlib()
        st.write_summary(out_dir)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write the study's outputs in {out_dir}: {err.strerror or err}")
    console.print(
        (out_dir / st.SUMMARY_MD).read_text(), highlight=False, markup=False, soft_wrap=True
    )
    names = (st.STUDY_JSON, st.SUMMARY_MD, st.SUMMARY_CSV, st.LENGTH_PNG, PAGE)
    console.print(
        f"wrote {', '.join(str(out_dir / n) for n in names)}", highlight=False, soft_wrap=True
    )
