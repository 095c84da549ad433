"""``nativeagent eval`` and ``explain``: a trained agent's greedy accuracy and traced programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from nativeagent.cli.common import USER_ERRORS, accuracy_table, console, fail, stage_rows
from nativeagent.tasks.task import HELD_OUT

if TYPE_CHECKING:
    from nativeagent.config import Config


def _load(run_dir: Path, device: str) -> tuple[Any, Config, Any]:
    """The trained model of ``run_dir`` on ``device``, its config and the torch device."""
    import torch

    from nativeagent.training.checkpoint import load_policy
    from nativeagent.training.train import resolve_device

    try:
        dev = resolve_device(device)
        model, cfg = load_policy(run_dir, str(dev))
    except USER_ERRORS as err:
        fail(str(err))
    return model, cfg, torch.device(dev)


def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    episodes: Annotated[int, typer.Option(min=1, help="Fresh episodes per stage.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the evaluation contexts.")] = 2024,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
) -> None:
    """Greedy accuracy per stage of a trained agent, with 95% intervals."""
    import torch

    from nativeagent.training.evaluate import evaluate

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

    from nativeagent.build import build_task_set
    from nativeagent.training.explain import explain as run_explain

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
