"""``nativeagent train``: train a run (or resume one) with a live progress display."""

from __future__ import annotations

import json
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
)
from nativeagent.errors import PRESETS, RunDirError
from nativeagent.rundir import CHECKPOINT, RESULT

if TYPE_CHECKING:
    from nativeagent.config import Config


def _default_out(cfg: Config, preset: str) -> Path:
    return Path("runs") / f"{preset}-seed{cfg.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


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
    _train(out_dir, cfg, quiet)


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


def _train(out_dir: Path, cfg: Config | None, quiet: bool, resume: bool = False) -> None:
    """Run (or resume) training with a progress display; print the final table."""
    from nativeagent.training.evaluate import StageAccuracy, stage_rows
    from nativeagent.training.metrics_log import eval_line, eval_summary
    from nativeagent.training.train import NonFiniteError, resume_config
    from nativeagent.training.train import train as run_training

    if resume:
        _check_no_writer(out_dir)
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
