"""Fuzzing the machines: ``execute`` on every machine with right and wrong arguments (the
batched machine must reproduce every outcome), and the batched machines on raw action ids,
int64 extremes included, against the reference machine (contracts in ``surfaces``)."""

from __future__ import annotations

import surfaces as s
from hypothesis import given


@s.fuzz_settings(150)
@given(s.execute_inputs())
def test_execute_gives_an_outcome_or_one_line_value_error(inp: s.ExecuteInput) -> None:
    s.check_execute(inp)


@s.fuzz_settings(80)
@given(s.batch_inputs())
def test_batched_machines_agree_with_the_reference_on_raw_ids(inp: s.BatchInput) -> None:
    s.check_batched(inp)
