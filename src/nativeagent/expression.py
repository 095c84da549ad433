"""Task expressions: parse ``"(a*b+c)-(d*e)"`` into a tree, print it, and read it exactly.

An expression is built from context operands ``a, b, c, …`` (``a`` is the first context digit),
``*``, ``+``, ``-`` and parentheses, with the usual precedence (``*`` before ``+`` and ``-``) and
left associativity. Its postfix form is what an agent in task mode reads, and its polynomial
(exact integer coefficients) is what the solver compares programs against.

>>> tree = parse("(a*b+c)-(d*e)")
>>> n_operands(tree), evaluate(tree, [4, 2, 7, 3, 5]), subgoal_values(tree, [4, 2, 7, 3, 5])
(5, 0, (8, 15, 15))
>>> to_text(parse("(a*b)-(c*d)")), to_text(parse("a+(b+c)")), postfix_text(parse("a*b+c"))
('a*b-c*d', 'a+(b+c)', 'a b * c +')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Operand letters, in context order: ``a`` is the first digit.
LETTERS = "abcdefgh"
OPERATORS = ("*", "+", "-")
_PRECEDENCE = {"*": 2, "+": 1, "-": 1}


class ExpressionError(ValueError):
    """A malformed expression; ``position`` is the 0-based offset of the problem."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text, self.position, self.problem = text, position, problem
        super().__init__(f"bad expression {text!r}: {problem} at position {position + 1}")


@dataclass(frozen=True)
class Operand:
    """The context digit at ``index`` (``a`` is 0)."""

    index: int


@dataclass(frozen=True)
class BinOp:
    """``left op right`` with ``op`` one of ``*``, ``+``, ``-``."""

    op: str
    left: Node
    right: Node


Node = Operand | BinOp


class _Parser:
    """Recursive descent over the characters of one expression."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, problem: str) -> ExpressionError:
        return ExpressionError(self.text, self.pos, problem)

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.text[self.pos]
            self.pos += 1
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek() == "*":
            self.pos += 1
            node = BinOp("*", node, self.factor())
        return node

    def factor(self) -> Node:
        char = self.peek()
        if char == "(":
            self.pos += 1
            node = self.expr()
            if self.peek() != ")":
                raise self.fail("expected ')'" if self.peek() else "missing ')'")
            self.pos += 1
            return node
        if char in LETTERS and char:
            self.pos += 1
            return Operand(LETTERS.index(char))
        if not char:
            raise self.fail("expected an operand or '(' but the expression ended")
        if char == "-":
            raise self.fail("unary minus is not supported")
        if char.isalpha():
            raise self.fail(f"unknown operand {char!r} (operands are {LETTERS[0]}..{LETTERS[-1]})")
        if char.isdigit():
            raise self.fail(f"constant {char!r} is not supported (operands are letters)")
        raise self.fail(f"expected an operand or '(' but found {char!r}")


def parse(text: str) -> Node:
    """Parse ``text`` into a tree; raise ``ExpressionError`` naming the position of a problem."""
    if not isinstance(text, str):
        problem = f"an expression is a string, not {type(text).__name__}"
        raise ExpressionError(repr(text), 0, problem)
    parser = _Parser(text)
    node = parser.expr()
    if parser.peek():
        char = parser.peek()
        problem = "unmatched ')'" if char == ")" else f"unexpected {char!r}"
        raise parser.fail(problem)
    return node


def operands(node: Node) -> list[int]:
    """Operand indices in the order they appear (left to right)."""
    if isinstance(node, Operand):
        return [node.index]
    return operands(node.left) + operands(node.right)


def n_operands(node: Node) -> int:
    """Context length: the last operand letter used, counted from ``a``."""
    return max(operands(node)) + 1


def n_operators(node: Node) -> int:
    """Binary operators in the tree."""
    return 0 if isinstance(node, Operand) else 1 + n_operators(node.left) + n_operators(node.right)


def apply(op: str, left: int, right: int) -> int:
    """One binary operation on integers."""
    return left * right if op == "*" else left + right if op == "+" else left - right


def evaluate(node: Node, context: Sequence[int]) -> int:
    """The value of the expression on one context."""
    if isinstance(node, Operand):
        return int(context[node.index])
    return apply(node.op, evaluate(node.left, context), evaluate(node.right, context))


def postfix(node: Node) -> list[int | str]:
    """Postfix order: operand indices (ints) and operators (``*``, ``+``, ``-``)."""
    if isinstance(node, Operand):
        return [node.index]
    return [*postfix(node.left), *postfix(node.right), node.op]


def postfix_text(node: Node) -> str:
    """Postfix order as text, operands as letters: ``'a b * c +'``."""
    return " ".join(LETTERS[i] if isinstance(i, int) else i for i in postfix(node))


def subgoal_values(node: Node, context: Sequence[int]) -> tuple[int, ...]:
    """Values of the proper sub-expressions (every operator but the root), in postfix order."""
    values: list[int] = []

    def walk(n: Node) -> int:
        if isinstance(n, Operand):
            return int(context[n.index])
        value = apply(n.op, walk(n.left), walk(n.right))
        values.append(value)
        return value

    walk(node)
    return tuple(values[:-1])


def to_text(node: Node) -> str:
    """The expression with only the parentheses its tree needs: ``a*b-c*d``, ``a-(b-c)``."""
    if isinstance(node, Operand):
        return LETTERS[node.index]
    prec = _PRECEDENCE[node.op]
    left, right = to_text(node.left), to_text(node.right)
    if isinstance(node.left, BinOp) and _PRECEDENCE[node.left.op] < prec:
        left = f"({left})"
    if isinstance(node.right, BinOp) and _PRECEDENCE[node.right.op] <= prec:
        right = f"({right})"
    return f"{left}{node.op}{right}"


# --- exact polynomial form --------------------------------------------------------------------

Monomial = tuple[int, ...]  # exponent of each operand, len(LETTERS)
Poly = tuple[tuple[Monomial, int], ...]  # sorted (monomial, non-zero coefficient) pairs


def poly_operand(index: int) -> Poly:
    """The polynomial of one operand."""
    return ((tuple(int(i == index) for i in range(len(LETTERS))), 1),)


def _normal(terms: dict[Monomial, int]) -> Poly:
    return tuple(sorted((m, c) for m, c in terms.items() if c))


def poly_apply(op: str, left: Poly, right: Poly) -> Poly:
    """``left op right`` as a polynomial in normal form (so equal polynomials are equal tuples)."""
    terms: dict[Monomial, int] = {}
    if op == "*":
        for m1, c1 in left:
            for m2, c2 in right:
                m = tuple(e1 + e2 for e1, e2 in zip(m1, m2, strict=True))
                terms[m] = terms.get(m, 0) + c1 * c2
        return _normal(terms)
    sign = 1 if op == "+" else -1
    for m, c in left:
        terms[m] = terms.get(m, 0) + c
    for m, c in right:
        terms[m] = terms.get(m, 0) + sign * c
    return _normal(terms)


def polynomial(node: Node) -> Poly:
    """The expression as an exact polynomial in the operands."""
    if isinstance(node, Operand):
        return poly_operand(node.index)
    return poly_apply(node.op, polynomial(node.left), polynomial(node.right))


__all__ = [
    "LETTERS",
    "OPERATORS",
    "BinOp",
    "ExpressionError",
    "Node",
    "Operand",
    "Poly",
    "evaluate",
    "n_operands",
    "n_operators",
    "operands",
    "parse",
    "poly_apply",
    "poly_operand",
    "polynomial",
    "postfix",
    "postfix_text",
    "subgoal_values",
    "to_text",
]
