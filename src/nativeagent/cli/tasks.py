"""``nativeagent solve`` and ``expressions``: the solver's programs, without torch or a model."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nativeagent.cli.common import err_console, fail, say
from nativeagent.machine.tools import MACHINES, check_machine
from nativeagent.tasks.expression import LETTERS
from nativeagent.tasks.generate import MAX_LISTED_OPERANDS, all_reachable
from nativeagent.tasks.random_programs import default_limit, draw_computable, kind_counts
from nativeagent.tasks.solver import solve as run_solver
from nativeagent.tokens import name

MACHINE_HELP = f"Machine: {', '.join(MACHINES)} (seed-legacy is searched as canonical)."


def solve(
    expressions: Annotated[
        list[str], typer.Argument(metavar="EXPR", help='Expressions such as "(a*b+c)-(d*e)".')
    ],
    machine: Annotated[str, typer.Option(help=MACHINE_HELP)] = "canonical",
    max_steps: Annotated[
        int | None,
        typer.Option(
            min=1, max=16, help="Longest program searched, ANS included (default: the machine's)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """The shortest program for each expression on a machine, or why there is none.

    Exit code 1 when some expression cannot be computed.
    """
    try:
        check_machine(machine)
        solutions = [run_solver(e, machine, max_steps) for e in expressions]
    except ValueError as err:  # ExpressionError or an unknown machine
        fail(str(err))
    for sol in solutions:
        if as_json:
            record = {
                "expression": sol.expression,
                "machine": sol.machine,
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
            say(
                f"{sol.expression}: {sol.program_text} ({len(sol.program or ())} tools, "
                f"{unique} shortest)"
            )
        else:
            say(f"{sol.expression}: not computable: {sol.reason}")
    if not all(sol.reachable for sol in solutions):
        raise typer.Exit(1)


SAMPLE_HELP = (
    "Draw this many instead of listing all, by running random programs (any N; listing stops "
    f"at {MAX_LISTED_OPERANDS}); --memory of them need memory. Each is shown with the program "
    "that drew it, which computes it but may be longer than the shortest."
)
MAX_STEPS_HELP = (
    "Longest program, ANS included (default: the machine's own limit; for --sample, raised in "
    "proportion beyond 4 operands: canonical 16 at 8 operands, extended 24)."
)


def expressions(
    operands: Annotated[
        int, typer.Option(min=2, max=len(LETTERS), help="Operands per expression.")
    ] = 3,
    sample: Annotated[int | None, typer.Option(min=1, help=SAMPLE_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random draw.")] = 0,
    operators: Annotated[str, typer.Option(help="Operators that may appear.")] = "*+-",
    machine: Annotated[str, typer.Option(help=MACHINE_HELP)] = "canonical",
    max_steps: Annotated[int | None, typer.Option(min=1, help=MAX_STEPS_HELP)] = None,
    memory: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --sample: the share needing memory.")
    ] = 0.5,
) -> None:
    """Expressions over N operands that the machine computes, with a program each: all of them
    with their shortest programs, or a sample (any N) with the programs that drew them."""
    try:
        check_machine(machine)
        if sample is None:
            if operands > MAX_LISTED_OPERANDS:
                fail(
                    f"--operands {operands}: too many expressions to list them all (all are "
                    f"listed for up to {MAX_LISTED_OPERANDS} operands); add --sample K"
                )
            found = [
                (t, t.shortest_program(machine, max_steps) or (), None)
                for t in all_reachable(operands, machine, max_steps, operators)
            ]
        else:
            limit = default_limit(machine, operands) if max_steps is None else max_steps
            drawn = draw_computable(operands, sample, seed, machine, limit, memory, operators)
            found = [(d.task, d.program, d.kind) for d in drawn]
    except ValueError as err:
        fail(str(err))
    width = max(16, *(len(t.expression) + 1 for t, _, _ in found))
    for task, program, kind in found:
        shown = " ".join(name(t) for t in program)
        suffix = "" if kind is None else f"  ({kind})"
        say(f"{task.expression:<{width}} {shown}{suffix}")
    if sample is not None:
        mix = ", ".join(f"{k} {v}" for k, v in kind_counts(drawn).items())
        err_console.print(
            f"{len(drawn)} expressions over {operands} operands on {machine}, programs of at "
            f"most {limit} tools: {mix}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
