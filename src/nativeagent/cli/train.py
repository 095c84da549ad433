"""``nativeagent train``: train a run (or resume one) with a live progress display."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nativeagent.cli.common import (
    EXIT_NONFINITE,
    USER_ERRORS,
    accuracy_table,
    console,
    fail,
    progress_bar,
    say,
    typed_path,
    warn,
)
from nativeagent.errors import PRESETS, RunDirError
from nativeagent.rundir import CHECKPOINT, RESULT, is_finished

if TYPE_CHECKING:
    from nativeagent.config import Config


#: The symlink beside a run written without ``--out`` that points at the newest such run.
LATEST = "latest"


def _default_out(cfg: Config, preset: str) -> Path:
    return Path("runs") / f"{preset}-seed{cfg.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def _point_latest(run_dir: Path) -> Path | None:
    """Point ``latest`` beside ``run_dir`` at it (a relative symlink, replaced atomically) and
    return the link; leave a ``latest`` that is not a symlink as it is, with a warning."""
    latest = run_dir.parent / LATEST
    if latest.exists() and not latest.is_symlink():
        warn(f"{latest} exists and is not a symlink, so it was left as it is (not this run)")
        return None
    temporary = run_dir.parent / f".{LATEST}.{os.getpid()}.tmp"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(temporary, latest)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        warn(f"cannot point {latest} at this run: {err.strerror or err}")
        return None
    return latest


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
    from nativeagent.config import load_config
    from nativeagent.training.metrics_log import check_tensorboard
    from nativeagent.training.train import resolve_device

    try:
        cfg = load_config(config, preset, overrides)
        resolve_device(cfg.train.device)
        if cfg.train.tensorboard:
            check_tensorboard()
    except USER_ERRORS as err:
        fail(str(err))
    out_dir = out or _default_out(cfg, preset)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} exists and is not a directory")
    _check_no_writer(out_dir)
    if not overwrite and ((out_dir / RESULT).exists() or (out_dir / CHECKPOINT).exists()):
        fail(f"{out_dir} already holds a run; pick another --out, --resume it or pass --overwrite")
    latest = None
    if out is None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            fail(f"cannot create the run directory {out_dir}: {err.strerror or err}")
        latest = _point_latest(out_dir)
    _train(out_dir, cfg, quiet, latest=latest)


def _command_line() -> str:
    """The command as typed, for the run's record (``nativeagent`` however it was started)."""
    return shlex.join(["nativeagent", *sys.argv[1:]])


def _check_no_writer(out_dir: Path) -> None:
    """Refuse, naming it, a run directory that another live process is writing."""
    from nativeagent.runlock import RunDirBusy, check_unlocked

    try:
        check_unlocked(out_dir)
    except RunDirBusy as err:
        fail(str(err))


def next_commands(run_dir: Path, cfg: Config) -> list[str]:
    """The commands to try on a trained run, its directory as a user types it."""
    from nativeagent.build import build_task_set
    from nativeagent.machine.tools import LEGACY
    from nativeagent.tasks.generate import MAX_LISTED_OPERANDS

    run = typed_path(run_dir)
    tasks = build_task_set(cfg)
    commands = [f"nativeagent eval {run}"]
    if cfg.task.show_expression and cfg.machine.name != LEGACY:  # longer expressions than trained
        n = max(t.n_operands for t in tasks.tasks) + 1
        sample = " --sample 100" if n >= MAX_LISTED_OPERANDS else ""
        commands.append(f"nativeagent eval {run} --operands {n}{sample}")
    return [
        *commands,
        f"nativeagent explain {run} --stage {tasks.n_stages - 1} -n 3",
        f"nativeagent plot {run} --out curves.png",
        f"nativeagent report {run} --out report.html",
    ]


def _train(
    out_dir: Path,
    cfg: Config | None,
    quiet: bool,
    resume: bool = False,
    latest: Path | None = None,
) -> None:
    """Run (or resume) training with a progress display; print the final table and the
    commands to try next (and that ``latest``, when given, points at the run)."""
    from nativeagent.training.evaluate import StageAccuracy, stage_rows
    from nativeagent.training.metrics_log import eval_line, eval_summary
    from nativeagent.training.train import NonFiniteError, resume_config
    from nativeagent.training.train import train as run_training

    if resume:
        _check_no_writer(out_dir)
        if is_finished(out_dir):
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
            desc += " | " + eval_summary(r, 2, " ")
            if not quiet:
                progress.console.print(eval_line(r), highlight=False, soft_wrap=True)
        progress.update(task, completed=r["update"], description=desc)

    verb = "resuming" if resume else "run directory:"
    console.print(f"{verb} {out_dir}", highlight=False, soft_wrap=True)
    try:
        with progress:
            command = None if resume else _command_line()
            result = run_training(cfg, out_dir, report, resume=resume, command=command)
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
    say("next:")
    for command in next_commands(out_dir, cfg):
        say(f"  {command}")
    if latest is not None:
        say(f"  ({typed_path(latest, resolve=False)} points at this run)")
