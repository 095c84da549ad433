"""Fuzzing sweep files: ``read_sweep`` and ``nativeagent sweep FILE --out EXISTING_FILE``, which
stops before Ray starts (contracts in ``surfaces``).
"""

from __future__ import annotations

import surfaces as s
from hypothesis import given


@s.fuzz_settings(20)
@given(s.sweep_inputs())
def test_sweep_gives_a_plan_or_one_line_sweep_error(inp: s.SweepInput) -> None:
    s.check_sweep(inp)
