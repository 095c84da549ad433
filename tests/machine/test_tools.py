"""The tool table itself: its rows, what derives from them, and the errors of a bad row."""

from __future__ import annotations

import operator

import pytest
import torch

from nativeagent import tokens
from nativeagent.machine import CANONICAL, EXTENDED, PROFILES, Profile, profile
from nativeagent.machine.batched import PRODUCT, SUM, linear_form
from nativeagent.machine.tools import (
    ANS,
    RCL2,
    Case,
    Effect,
    Guard,
    Tool,
    all_operators,
    describe,
    token_names,
)
from nativeagent.tasks import Task, TaskSet
from nativeagent.tasks.expression import BinOp, Operand, evaluate, polynomial, to_text
from nativeagent.tasks.solver import solve


def test_the_canonical_rows_are_the_tutorials_tokens() -> None:
    assert [(t.token, t.name) for t in CANONICAL.tools] == [
        (11, "MUL"),
        (12, "ADD"),
        (13, "SUB"),
        (14, "ANS"),
        (15, "STO"),
        (16, "RCL"),
    ]
    assert (tokens.MUL, tokens.ANS, tokens.RCL, tokens.VOCAB_SIZE) == (11, 14, 16, 18)
    assert CANONICAL.tokens == tokens.TOOLS and tokens.OPS == (11, 12, 13)
    assert CANONICAL.vocabulary == {i: tokens.name(i) for i in range(18)}


def test_extended_is_canonical_plus_three_rows() -> None:
    assert EXTENDED.tools[:6] == CANONICAL.tools
    assert [t.name for t in EXTENDED.tools[6:]] == ["LOAD", "STO2", "RCL2"]
    assert EXTENDED.cells == ("mem", "mem2") and EXTENDED.vocab_size == 21
    assert token_names() == EXTENDED.vocabulary
    assert profile("seed-legacy") is CANONICAL and set(PROFILES) == {"canonical", "extended"}


def test_reads_and_writes_derive_from_the_cases() -> None:
    mul, sto, rcl2, load = (EXTENDED.tool(n) for n in ("MUL", "STO", "RCL2", "LOAD"))
    assert mul.reads == ("armed", "acc", "x[p]", "x[p+1]") and mul.writes == ("acc", "armed", "p")
    assert sto.reads == ("acc",) and sto.writes == ("mem", "acc")
    assert rcl2.reads == () and rcl2.writes == ("armed",)
    assert load.reads == ("x[p]",) and load.writes == ("acc", "p")
    assert ANS.answers and not mul.answers and RCL2.cases[0].then.arms == "mem2"


def test_the_table_in_words() -> None:
    assert describe(EXTENDED.tool("STO2")) == (
        "`mem2 = acc`; acc becomes empty",
        "acc set, not armed",
    )
    effect, legal = describe(EXTENDED.tool("SUB"))
    assert effect.startswith("If armed: `acc = cell - acc`; disarm. Else if acc empty")
    assert legal == (
        "armed; or acc empty, two operands unread, not armed; or acc set, an operand unread, "
        "not armed"
    )


def test_operators_are_the_expression_languages() -> None:
    ops = all_operators()
    assert list(ops) == ["*", "+", "-"]
    assert {s: t.operator.precedence for s, t in ops.items() if t.operator} == {
        "*": 2,
        "+": 1,
        "-": 1,
    }
    assert [linear_form(t.operator.apply) for t in ops.values() if t.operator] == [
        (PRODUCT, 0),
        (SUM, 1),
        (SUM, -1),
    ]
    assert linear_form(operator.floordiv) is None and linear_form(max) is None


@pytest.mark.parametrize(
    "use",
    [
        lambda tree: evaluate(tree, [6, 3]),
        lambda tree: polynomial(tree),
        lambda tree: to_text(BinOp("+", tree, Operand(0))),
        lambda tree: solve(tree),
        lambda tree: TaskSet([[Task("a/b", tree)]]),
    ],
    ids=["evaluate", "polynomial", "to_text", "solve", "task set"],
)
def test_an_unknown_operator_is_an_error_everywhere(use: object) -> None:
    """Before the tool table, four places fell through to subtraction for an unknown operator."""
    with pytest.raises(ValueError, match=r"unknown operator '/'; the operators are \* \+ -"):
        use(BinOp("/", Operand(0), Operand(1)))  # type: ignore[operator]


def test_apply_operators_has_no_fallback() -> None:
    from nativeagent.tasks.taskset import apply_operators

    left, right = torch.tensor([6, 6, 6, 6]), torch.tensor([3, 3, 3, 3])
    code = torch.tensor([11, 12, 13, 99])  # 99 is no operator's token
    assert apply_operators(code, left, right).tolist() == [18, 9, 3, 0]


def test_a_bad_profile_is_refused() -> None:
    ans = CANONICAL.tool("ANS")
    twin = Tool(ans.token, "ANSWER", ans.cases, "ANSWER")
    with pytest.raises(ValueError, match="tool ids must be unique"):
        Profile("twins", ("mem",), (ans, twin), 8, "")
    digit = Tool(7, "SEVEN", (Case(Guard(), Effect()),), "SEVEN")
    with pytest.raises(ValueError, match=r"not 0\.\.10 or 17"):
        Profile("digit", ("mem",), (digit,), 8, "")
    same_name = Tool(30, "ANS", ans.cases, "ANS")
    with pytest.raises(ValueError, match="names must be unique"):
        Profile("names", ("mem",), (ans, same_name), 8, "")
    with pytest.raises(KeyError, match="has no tool 'LOAD'"):
        CANONICAL.tool("LOAD")
