"""``nativeagent eval`` and ``explain``: a trained agent's greedy accuracy and traced programs."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from nativeagent.cli.common import USER_ERRORS, accuracy_table, console, fail, say
from nativeagent.rundir import is_finished
from nativeagent.tasks.task import HELD_OUT

if TYPE_CHECKING:
    from nativeagent.config import Config
    from nativeagent.training.expressions import ExpressionsAccuracy


@dataclass(frozen=True)
class TrainingProgress:
    """How far the training of an evaluated agent got."""

    finished: bool  # ``rundir.is_finished``; an export always is
    update: int | None  # the update of the evaluated weights (None: an export that lacks it)
    max_updates: int
    trainer: dict[str, Any] | None  # the live process training the run (``runlock.holder``)

    def to_json(self) -> dict[str, Any]:
        """The keys ``eval --json`` adds."""
        return {
            "finished": self.finished,
            "update": self.update,
            "max_updates": self.max_updates,
            "training_process": self.trainer,
        }

    def note(self, run_dir: Path) -> str | None:
        """The line ``eval`` prints under its table when training has not finished."""
        if self.finished:
            return None
        if self.trainer is not None:
            pid, host = self.trainer.get("pid", "?"), self.trainer.get("host", "?")
            state = f"still being trained by process {pid} on {host}"
        else:
            resume = shlex.join(["nativeagent", "train", "--resume", str(run_dir)])
            state = f"not being trained now; continue it with: {resume}"
        return (
            f"note: {run_dir} is not finished training: checkpoint at update {self.update} of at "
            f"most {self.max_updates} ({state}); these are the accuracies of that checkpoint"
        )


def _load(run_dir: Path, device: str) -> tuple[Any, Config, Any, TrainingProgress]:
    """The trained model of ``run_dir`` (a run directory or an export) on ``device``, its
    config, the torch device and how far its training got."""
    import torch

    from nativeagent.runlock import holder
    from nativeagent.training.export import is_export, load_trained_at
    from nativeagent.training.train import resolve_device

    try:
        dev = resolve_device(device)
        model, cfg, update = load_trained_at(run_dir, str(dev))
        finished = is_export(run_dir) or is_finished(run_dir)
        trainer = None if finished else holder(run_dir)
        progress = TrainingProgress(finished, update, cfg.train.max_updates, trainer)
    except USER_ERRORS as err:
        fail(str(err))
    return model, cfg, torch.device(dev), progress


EXPRESSIONS_HELP = (
    "Evaluate on these expressions instead of the run's stages (repeatable; one value may hold "
    "several, separated by commas or spaces). Needs a run with task.show_expression."
)
OPERANDS_HELP = "Evaluate on every expression over N operands the machine can compute."
SAMPLE_HELP = (
    "With --operands: K of them drawn by running random programs (seeded by --seed), half "
    "needing memory, as `nativeagent expressions --sample` draws them; needed for N >= 6."
)
MACHINE_HELP = (
    "Machine to evaluate on (default: the run's); another only when its vocabulary extends the "
    "run's (extended for a canonical run), with --expressions or --operands."
)
EPISODES_HELP = (
    "Fresh episodes per stage; with --expressions or --operands, in total, spread over the "
    "expressions in turn."
)
MAX_STEPS_HELP = (
    "With --expressions or --operands: the step limit (default: the run's, raised in proportion "
    "to the operand count; the solver's search grows fast with it)."
)
#: Expressions an expression-set table shows, worst first.
WORST_SHOWN = 20


def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    episodes: Annotated[int, typer.Option(min=1, help=EPISODES_HELP)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    seed: Annotated[
        int, typer.Option(help="Seed for the evaluation contexts (and --sample's draw).")
    ] = 2024,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
    expressions: Annotated[
        list[str] | None, typer.Option("--expressions", metavar="EXPR", help=EXPRESSIONS_HELP)
    ] = None,
    operands: Annotated[int | None, typer.Option(min=2, metavar="N", help=OPERANDS_HELP)] = None,
    sample: Annotated[int | None, typer.Option(min=1, metavar="K", help=SAMPLE_HELP)] = None,
    machine: Annotated[str | None, typer.Option(help=MACHINE_HELP)] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, metavar="N", help=MAX_STEPS_HELP)] = None,
) -> None:
    """Greedy accuracy per stage of a trained agent, with 95% intervals; or, with --expressions
    or --operands, on any expression set (an agent that reads the expression only)."""
    import torch

    from nativeagent.training.evaluate import evaluate, stage_rows

    if expressions and operands is not None:
        fail("give --expressions or --operands, not both")
    if sample is not None and operands is None:
        fail("--sample needs --operands")
    if max_steps is not None and not (expressions or operands is not None):
        fail("--max-steps needs --expressions or --operands")
    model, cfg, dev, progress = _load(run_dir, device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    if expressions or operands is not None:
        spec = (expressions or [], operands, sample, seed, max_steps)
        acc = _eval_expressions(model, cfg, gen, spec, machine, episodes)
        _print_expressions(acc, run_dir, as_json, progress)
        return
    if machine is not None and machine != cfg.machine.name:
        fail(
            f"--machine {machine} differs from the run's machine {cfg.machine.name}: another "
            "machine needs --expressions or --operands"
        )
    rows = stage_rows(evaluate(model, cfg, episodes, gen, held_out=True), cfg)
    if as_json:
        print(
            json.dumps(
                {
                    "accuracy": {
                        str(r["stage"]): r["accuracy"] for r in rows if r["stage"] != "held-out"
                    },
                    "stages": rows,
                    **progress.to_json(),
                }
            )
        )
    else:
        console.print(accuracy_table(f"greedy accuracy: {run_dir}", rows))
        _say_note(progress, run_dir)


def _say_note(progress: TrainingProgress, run_dir: Path) -> None:
    note = progress.note(run_dir)
    if note is not None:
        say(note)


def _eval_expressions(
    model: Any,
    cfg: Config,
    gen: Any,
    spec: tuple[list[str], int | None, int | None, int, int | None],
    machine: str | None,
    episodes: int,
) -> ExpressionsAccuracy:
    """Greedy accuracy on the expression set of ``spec`` (``--expressions``, ``--operands``,
    ``--sample``, ``--seed``, ``--max-steps``); every user mistake is one line."""
    from nativeagent.tasks.generate import MAX_LISTED_OPERANDS, reachable_set
    from nativeagent.training.expressions import (
        check_machine_for,
        evaluate_expressions,
        expressions_to_evaluate,
        step_limit,
    )

    texts, operands, sample, seed, max_steps = spec
    try:
        if operands is None:
            tasks, name, limit = expressions_to_evaluate(cfg, texts, machine, max_steps)
        else:
            name = check_machine_for(cfg, machine)
            if operands > MAX_LISTED_OPERANDS and sample is None:
                fail(
                    f"--operands {operands}: too many expressions to evaluate them all (all are "
                    f"listed for up to {MAX_LISTED_OPERANDS} operands); add --sample K"
                )
            limit = step_limit(cfg, operands, max_steps)
            tasks = reachable_set(operands, name, limit, sample, seed)
        return evaluate_expressions(model, cfg, tasks, episodes, gen, name, limit)
    except USER_ERRORS as err:
        fail(str(err))


def _print_expressions(
    acc: ExpressionsAccuracy, run_dir: Path, as_json: bool, progress: TrainingProgress
) -> None:
    """``eval --json`` of an expression set, or the overall line, the worst expressions and a
    one-line summary (and the note of a run that has not finished training)."""
    from nativeagent.stats import wilson_interval

    if as_json:
        print(json.dumps({**acc.to_json(), **progress.to_json()}))
        return
    n = len(acc.per_expression)
    table = Table(
        title=f"greedy accuracy on {n} expressions: {escape(str(run_dir))} "
        f"(machine {acc.machine}, max_steps {acc.max_steps})"
    )
    for col in ("expression", "accuracy", "95% interval", "episodes"):
        table.add_column(col, justify="left" if col == "expression" else "right")
    table.add_row(
        "[bold]overall[/]",
        f"{acc.accuracy:.3f}",
        f"[{acc.low:.3f}, {acc.high:.3f}]",
        str(acc.episodes),
        end_section=True,
    )
    for expr, k, m in acc.worst(WORST_SHOWN):
        low, high = wilson_interval(k, m)
        table.add_row(escape(expr), f"{k / m:.3f}", f"[{low:.3f}, {high:.3f}]", str(m))
    console.print(table)
    perfect = sum(k == m for _, k, m in acc.per_expression)
    never = sum(k == 0 for _, k, _ in acc.per_expression)
    shown = min(n, WORST_SHOWN)
    say(
        f"{n} expressions ({'all' if shown == n else f'worst {shown}'} shown): {perfect} solved "
        f"in every episode, {never} in none; overall {acc.accuracy:.3f} "
        f"[{acc.low:.3f}, {acc.high:.3f}] on {acc.episodes} episodes"
    )
    _say_note(progress, run_dir)


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

    model, cfg, dev, _ = _load(run_dir, device)
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
