"""Fuzzing the expression language: ``parse`` on text near the grammar and far from it, and the
``solve`` and ``expressions`` commands (contracts in ``surfaces``)."""

from __future__ import annotations

import surfaces as s
from hypothesis import given


@s.fuzz_settings(200)
@given(s.expression_texts())
def test_parse_gives_a_tree_or_one_line_naming_the_position(text: str) -> None:
    s.check_parse(text)


@s.fuzz_settings(40)
@given(s.solve_args())
def test_solve_exits_0_1_or_2_with_one_error_line(args: list[str]) -> None:
    s.check_solve(args)


@s.fuzz_settings(25)
@given(s.expressions_args())
def test_expressions_exits_0_or_2_with_one_error_line(args: list[str]) -> None:
    s.check_expressions(args)
