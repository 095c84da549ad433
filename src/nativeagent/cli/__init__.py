"""``nativeagent``: the command line, one module per group of commands.

``train`` (train.py), ``eval`` and ``explain`` (evaluate.py), ``export`` (export.py),
``solve`` and ``expressions`` (tasks.py), ``plot`` and ``report`` (analysis.py), ``bench``,
``sweep`` and ``study`` (experiments.py).
None of them imports torch before it runs, so ``--help``, ``--version`` and the commands that
need no model (``solve``, ``expressions``) answer at once.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.markup import escape

from nativeagent.cli import analysis, evaluate, experiments, export, tasks
from nativeagent.cli import train as train_command
from nativeagent.cli.common import console, err_console, one_line, say

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train model-native agents that learn tool use end to end by reinforcement learning.",
)


def package_version() -> str:
    """The installed distribution's version, or the package's own where none is installed."""
    try:
        return version("nativeagent")
    except PackageNotFoundError:  # the package (always imported before this module) says
        return str(sys.modules["nativeagent"].__version__)


def _print_version(show: bool) -> None:
    if show:
        say(f"nativeagent {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Train model-native agents that learn tool use end to end by reinforcement learning."""


app.command()(train_command.train)
app.command("eval")(evaluate.eval_)
app.command()(evaluate.explain)
app.command()(export.export)
app.command()(tasks.solve)
app.command()(tasks.expressions)
app.command()(analysis.plot)
app.command()(analysis.report)
app.command()(experiments.bench)
app.command()(experiments.sweep)
app.command()(experiments.study)


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
        message = one_line(f"{err.format_message()} (see {where})")
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
