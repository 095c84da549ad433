"""One task: an expression over the context digits, and what follows from it; the built-in stages.

>>> STAGES[2].expression, STAGES[2].target([4, 2, 7, 3, 5]), STAGES[2].subgoals([4, 2, 7, 3, 5])
('(a*b+c)-(d*e)', 0, (8, 15, 15))
>>> STAGES[2].shortest_program() == solve(STAGES[2].tree).program
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from nativeagent.tasks import expression as ex
from nativeagent.tasks.solver import solve


@dataclass(frozen=True)
class Task:
    """One task: an expression over the context digits."""

    expression: str
    tree: ex.Node = field(compare=False, repr=False)

    @classmethod
    def parse(cls, expression: str) -> Task:
        """A task from its expression; raises ``ExpressionError`` for a malformed one."""
        return cls(expression, ex.parse(expression))

    @cached_property
    def n_operands(self) -> int:
        """Context length: the last operand letter used."""
        return ex.n_operands(self.tree)

    @cached_property
    def shape(self) -> str:
        """The expression with only the parentheses its tree needs (how splits name shapes)."""
        return ex.to_text(self.tree)

    @cached_property
    def postfix(self) -> tuple[int | str, ...]:
        """Operand indices and operators in postfix order."""
        return tuple(ex.postfix(self.tree))

    def shortest_program(
        self, machine: str = "canonical", max_steps: int | None = None
    ) -> tuple[int, ...] | None:
        """The solver's shortest program on ``machine`` (``None`` when there is none)."""
        return solve(self.tree, machine, max_steps).program

    def target(self, context: Sequence[int]) -> int:
        """The stated target for one context."""
        return ex.evaluate(self.tree, context)

    def subgoals(self, context: Sequence[int]) -> tuple[int, ...]:
        """Values of the target's proper sub-expressions, in the order a program meets them."""
        return ex.subgoal_values(self.tree, context)


#: The stage (and evaluation group) of the tasks held out of training.
HELD_OUT = -1

STAGES: tuple[Task, ...] = tuple(Task.parse(e) for e in ("a*b+c", "(a*b+c)-d", "(a*b+c)-(d*e)"))
N_STAGES = len(STAGES)


def check_stage(stage: object) -> int:
    """Return ``stage`` as a valid built-in stage index or raise ``ValueError`` naming it."""
    if isinstance(stage, bool) or not isinstance(stage, int):
        raise ValueError(f"stage must be an int 0..{N_STAGES - 1}, got {stage!r}")
    if not 0 <= stage < N_STAGES:
        raise ValueError(f"stage must be 0..{N_STAGES - 1}, got {stage}")
    return stage


__all__ = ["HELD_OUT", "N_STAGES", "STAGES", "Task", "check_stage"]
