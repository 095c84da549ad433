"""Fuzzing the configuration: ``load_config`` on random and mutated TOML and ``--set`` strings,
``nativeagent train`` with the same input (stopped at ``--out`` when it is valid), and real
tiny training runs of random valid-looking settings (contracts in ``surfaces``)."""

from __future__ import annotations

import surfaces as s
from hypothesis import given


@s.fuzz_settings(70)
@given(s.config_inputs())
def test_load_config_gives_a_config_or_one_line_error(inp: s.ConfigInput) -> None:
    s.check_config(inp)


@s.fuzz_settings(30)
@given(s.config_inputs())
def test_train_reports_load_configs_error_and_writes_nothing(inp: s.ConfigInput) -> None:
    s.check_train_config(inp)


@s.fuzz_settings(5)
@given(s.train_run_args())
def test_tiny_training_runs_finish_or_fail_cleanly(sets: list[str]) -> None:
    s.check_train_run(sets)
