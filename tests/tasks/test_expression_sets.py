"""Expression sets to evaluate a trained agent on: parsed lists, every or a sample of the
reachable expressions over N operands, and the expressions a machine cannot compute."""

import pytest

from nativeagent.tasks.expression import ExpressionError
from nativeagent.tasks.generate import (
    TaskSpecError,
    all_reachable,
    check_computable,
    parse_expressions,
    reachable_set,
)
from nativeagent.tasks.solver import solve


def test_parse_splits_on_commas_and_spaces_and_keeps_each_shape_once() -> None:
    tasks = parse_expressions(["a*b+c, a-b", "(a*b+c)-(d*e)", "(a*b)+c  a+b"])
    assert [t.expression for t in tasks] == ["a*b+c", "a-b", "(a*b+c)-(d*e)", "a+b"]


def test_parse_refuses_malformed_and_empty_input() -> None:
    with pytest.raises(ExpressionError, match=r"a\*b\("):
        parse_expressions(["a*b("])
    with pytest.raises(TaskSpecError, match="no expression"):
        parse_expressions([" , "])


def test_uncomputable_expression_is_refused_by_name_with_the_solvers_reason() -> None:
    tasks = parse_expressions(["a*b+c", "a*(b+c)*(d-e)"])
    with pytest.raises(TaskSpecError) as info:
        check_computable(tasks, "canonical", 10)
    message = str(info.value)
    assert message.startswith("expression a*(b+c)*(d-e): ")
    assert str(solve("a*(b+c)*(d-e)", "canonical", 10).reason) in message
    assert check_computable(tasks[:1], "canonical", 10) == tasks[:1]


def test_a_longer_program_needs_the_raised_limit() -> None:
    (task,) = parse_expressions(["(a-b)*(c+d)*(e+f)"])  # 10 tools on canonical
    with pytest.raises(TaskSpecError, match=r"\(a-b\)\*\(c\+d\)\*\(e\+f\)"):
        check_computable([task], "canonical", 9)
    assert check_computable([task], "canonical", 10) == [task]


def test_reachable_set_lists_all_or_a_seeded_sample() -> None:
    every = reachable_set(5, "canonical", 10)
    assert every == list(all_reachable(5, "canonical", 10)) and len(every) == 700
    sample = reachable_set(6, "canonical", 12, sample=15, seed=4)
    assert len({t.shape for t in sample}) == 15
    assert all(t.n_operands == 6 and solve(t.tree, "canonical", 12).reachable for t in sample)
    assert reachable_set(6, "canonical", 12, sample=15, seed=4) == sample
    assert reachable_set(6, "canonical", 12, sample=15, seed=5) != sample


def test_six_operands_need_a_sample() -> None:
    with pytest.raises(TaskSpecError, match="over 6 operands"):
        reachable_set(6, "canonical", 12)
