"""The result of running one program, shared by both machines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outcome:
    """What one program did on one context.

    ``answer`` is the value answered with ``[ANS]`` (``None`` when the episode ended unsolved);
    ``trace`` holds one readable entry per step, e.g. ``"MUL acc=8"``.
    """

    answer: int | None
    correct: bool
    reward: float
    steps: int
    trace: tuple[str, ...] = field(default_factory=tuple)

    def format_trace(self) -> str:
        """The trace as one line, steps joined by a middle dot."""
        return " · ".join(self.trace)
