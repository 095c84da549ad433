"""Expressions: precedence, errors with positions, printing, postfix, exact polynomials."""

import pytest

from nativeagent.tasks.expression import (
    BinOp,
    ExpressionError,
    Operand,
    evaluate,
    n_operands,
    parse,
    polynomial,
    postfix_text,
    subgoal_values,
    to_text,
)
from nativeagent.tasks.generate import all_trees

a, b, c, d = (Operand(i) for i in range(4))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a*b+c", BinOp("+", BinOp("*", a, b), c)),
        ("a+b*c", BinOp("+", a, BinOp("*", b, c))),  # * binds tighter
        ("a-b-c", BinOp("-", BinOp("-", a, b), c)),  # left associative
        ("a-(b-c)", BinOp("-", a, BinOp("-", b, c))),
        (" ( a * b ) - ( c * d ) ", BinOp("-", BinOp("*", a, b), BinOp("*", c, d))),
        ("((a))", a),
    ],
)
def test_parse(text: str, tree: object) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("a*(b+", 6, "expression ended"),
        ("a*(b+c", 7, "missing ')'"),
        ("a*b)", 4, "unmatched ')'"),
        ("a**b", 3, "found '*'"),
        ("", 1, "expression ended"),
        ("-a", 1, "unary minus"),
        ("a+Z", 3, "unknown operand 'Z'"),  # operands are a..z, lower case
        ("a*2", 3, "constant '2'"),
        ("a b", 3, "unexpected 'b'"),
        ("a/b", 2, "unexpected '/'"),
    ],
)
def test_malformed_expressions_name_the_position(text: str, position: int, problem: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.position + 1 == position
    assert problem in str(info.value) and f"at position {position}" in str(info.value)


def test_values_subgoals_and_postfix_by_hand() -> None:
    tree = parse("(a*b+c)-(d*e)")
    assert n_operands(tree) == 5
    assert evaluate(tree, [2, 3, 5, 7, 4]) == -17  # 6+5 - 28
    assert subgoal_values(tree, [2, 3, 5, 7, 4]) == (6, 11, 28)
    assert postfix_text(tree) == "a b * c + d e * -"
    assert subgoal_values(parse("a*b"), [3, 4]) == ()
    assert n_operands(parse("a*c")) == 3  # b is in the context even when unused


def test_minimal_parentheses_round_trip_every_tree() -> None:
    trees = [t for n in (1, 2, 3, 4) for t in all_trees(0, n)]
    texts = [to_text(t) for t in trees]
    assert len(set(texts)) == len(trees)  # distinct trees print differently
    assert all(parse(text) == tree for text, tree in zip(texts, trees, strict=True))
    assert to_text(parse("(a*b)-(c*d)")) == "a*b-c*d"
    assert to_text(parse("a*(b*c)")) == "a*(b*c)"


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("a*b", "b*a", True),
        ("a-(b-c)", "a-b+c", True),
        ("a*(b+c)", "a*b+a*c", True),
        ("(a-b)*(a+b)", "a*a-b*b", True),
        ("a-b", "b-a", False),
        ("a*b+c", "a*(b+c)", False),
    ],
)
def test_polynomials_are_equal_exactly_when_the_functions_are(
    left: str, right: str, equal: bool
) -> None:
    assert (polynomial(parse(left)) == polynomial(parse(right))) is equal
    grid = [[x, y, z] for x in range(10) for y in range(10) for z in range(10)]
    same = all(evaluate(parse(left), g) == evaluate(parse(right), g) for g in grid)
    assert same is equal
