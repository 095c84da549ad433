"""``nativeagent plot`` and ``report``: training curves as a PNG, a run as one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nativeagent.cli.common import USER_ERRORS, console, fail


def plot(
    run_dirs: Annotated[
        list[Path], typer.Argument(metavar="RUN_DIR", help="Run directories written by train.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "curves.png"
    ),
) -> None:
    """Plot greedy accuracy and curriculum stage vs updates and wall time (several runs: mean)."""
    from nativeagent.analysis.plot import plot_runs

    try:
        plot_runs(run_dirs, out)
    except USER_ERRORS as err:
        fail(str(err))
    console.print(f"wrote {out}", highlight=False, soft_wrap=True)


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by train.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    search: Annotated[
        int, typer.Option(min=1, help="Fresh contexts per stage searched for example programs.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the example contexts.")] = 7,
) -> None:
    """One self-contained HTML page: accuracy, curves, curriculum, example programs, config."""
    from nativeagent.analysis.report import write_report

    try:
        write_report(run_dir, out, search=search, seed=seed)
    except USER_ERRORS as err:
        fail(str(err))
    console.print(f"wrote {out}", highlight=False, soft_wrap=True)
