"""What every command shares: consoles, one-line errors, the accuracy table, the progress bar.

Nothing here imports torch, so that ``nativeagent --help`` and the commands that need no model
start fast; commands import what they need when they run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from nativeagent.errors import ConfigError, RunDirError

console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ConfigError, RunDirError, ValueError, FileExistsError)
EXIT_NONFINITE = 3  # training stopped on a NaN or infinity


def one_line(message: str) -> str:
    """``message`` with its line breaks and tabs shown as ``\\n``, ``\\r`` and ``\\t`` (a path or a
    value the user gave may hold one), so that an error stays one line, as it was written (a
    terminal would turn a tab into spaces)."""
    return message.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit: user mistakes never show a traceback."""
    text = escape(one_line(message))
    err_console.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """Print a one-line warning to stderr."""
    text = f"warning: {one_line(message)}"
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def typed_path(path: Path, resolve: bool = True) -> str:
    """``path`` as a user types it in a shell: relative to the working directory when under it,
    else absolute, quoted when needed; with ``resolve``, the real directory (links followed)."""
    full = path.resolve() if resolve else path.absolute().parent.resolve() / path.name
    try:
        shown = str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(full)
    return shlex.quote(shown)


def say(text: str) -> None:
    """Print plain text (no markup, no highlighting, no wrapping)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def accuracy_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Per-stage greedy accuracy with 95% intervals, as a rich table, with a caption that says
    what its optimality is (only commands that have evaluated a model, torch loaded, call it)."""
    from nativeagent.training.evaluate import OPTIMALITY_NOTE

    table = Table(
        title=title, caption=escape(OPTIMALITY_NOTE), caption_justify="left", show_edge=False
    )  # 80 columns hold a task-set run's row ("held-out", "22 expressions") unwrapped
    for col in ("stage", "task", "accuracy", "95% interval", "episodes", "optimality"):
        table.add_column(col, justify="right" if col != "task" else "left", no_wrap=col != "task")
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


def progress_bar(label: str, disable: bool = False) -> Progress:
    """The live display every long command uses: label, bar, done/total, status, time, one line
    as wide as the terminal; the bar and the status (cut with …) give way, never the counter."""
    return Progress(
        TextColumn(f"[bold]{label}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=None, table_column=Column(ratio=1)),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TextColumn(
            "{task.description}", table_column=Column(ratio=3, no_wrap=True, overflow="ellipsis")
        ),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        console=console,
        disable=disable,
        transient=True,
        expand=True,
    )


def check_matplotlib() -> None:
    """Fail now, before any work, when the plots a command ends with cannot be drawn."""
    from nativeagent.analysis.plot import _matplotlib

    _matplotlib()
