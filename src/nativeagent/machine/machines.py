"""Batched machines by name: a tool profile's ``ToolMachine``, or the tutorial's ``seed-legacy``."""

from __future__ import annotations

from nativeagent.machine.base import BatchedMachine
from nativeagent.machine.batched import Shaping, ToolMachine
from nativeagent.machine.legacy import LegacyMachine
from nativeagent.machine.tools import LEGACY, PROFILES, default_max_steps


def check_max_steps(max_steps: object) -> None:
    """``ValueError`` unless ``max_steps`` is ``None`` or a positive int."""
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
    ):
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")


def make_machine(
    machine: str,
    max_steps: int | None = None,
    shaping: Shaping | None = None,
    observe_unused: bool = False,
) -> BatchedMachine:
    """A batched machine by name; ``shaping`` and ``observe_unused`` (``ToolMachine``) apply to
    the tool profiles only."""
    check_max_steps(max_steps)
    steps = default_max_steps(machine) if max_steps is None else max_steps
    if machine == LEGACY:
        return LegacyMachine(steps)
    return ToolMachine(PROFILES[machine], steps, shaping or Shaping(), observe_unused)


__all__ = ["check_max_steps", "make_machine"]
