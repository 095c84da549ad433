"""Fuzzing damaged run directories: a small run copied, one file truncated, flipped, replaced,
emptied, deleted or one value inside it changed, then fed to eval, explain, plot, report,
export and ``train --resume`` (contracts in ``surfaces``).
"""

from __future__ import annotations

import pytest
import surfaces as s
from hypothesis import given

EXAMPLES = {"eval": 8, "eval-json": 4, "explain": 6, "export": 8, "plot": 3, "report": 2}


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_damaged_run_directory(command: str) -> None:
    @s.fuzz_settings(EXAMPLES[command])
    @given(s.run_dir_inputs(command))
    def check(c: s.Corruption) -> None:
        s.check_run_dir(command, c)

    check()


@s.fuzz_settings(10)
@given(s.run_dir_inputs("resume"))
def test_resume_of_a_damaged_run(c: s.Corruption) -> None:
    s.check_run_dir("resume", c)
