"""``nativeagent solve`` and ``expressions``: the solver's programs, without torch or a model."""

from __future__ import annotations

import json
import random
from typing import Annotated

import typer

from nativeagent.cli.common import console, fail, say
from nativeagent.machine.tools import MACHINES, check_machine
from nativeagent.tasks.generate import all_reachable, random_reachable
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


def expressions(
    operands: Annotated[int, typer.Option(min=2, max=5, help="Operands per expression.")] = 3,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Draw this many at random instead of listing all.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random draw.")] = 0,
    operators: Annotated[str, typer.Option(help="Operators that may appear.")] = "*+-",
    machine: Annotated[str, typer.Option(help=MACHINE_HELP)] = "canonical",
) -> None:
    """Reachable expressions over N operands with their shortest programs (all, or a sample)."""
    try:
        check_machine(machine)
        if sample is None:
            found = list(all_reachable(operands, machine, operators=operators))
        else:
            found = random_reachable(operands, sample, random.Random(seed), operators, machine)
    except ValueError as err:
        fail(str(err))
    for task in found:
        program = " ".join(name(t) for t in task.shortest_program(machine) or ())
        console.print(f"{task.expression:<16} {program}", highlight=False, markup=False)
