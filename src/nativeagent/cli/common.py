"""What every command shares: consoles, one-line errors, the accuracy table, the progress bar.

Nothing here imports torch, so that ``nativeagent --help`` and the commands that need no model
start fast; commands import what they need when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nativeagent.errors import ConfigError, RunDirError
from nativeagent.tasks.task import HELD_OUT

if TYPE_CHECKING:
    from nativeagent.config import Config
    from nativeagent.training.evaluate import StageAccuracy

console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ConfigError, RunDirError, ValueError, FileExistsError)
EXIT_NONFINITE = 3  # training stopped on a NaN or infinity


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit: user mistakes never show a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def say(text: str) -> None:
    """Print plain text (no markup, no highlighting, no wrapping)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


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
    from nativeagent.build import build_task_set

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


def check_matplotlib() -> None:
    """Fail now, before any work, when the plots a command ends with cannot be drawn."""
    from nativeagent.analysis.plot import _matplotlib

    _matplotlib()
