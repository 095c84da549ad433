"""Task expressions: parse ``"(a*b+c)-(d*e)"`` into a tree, print it, and read it exactly.

An expression is built from context operands ``a, b, c, …`` (``a`` is the first context digit),
the operators of the tool table (``*``, ``+``, ``-``: every tool with an ``operator``, with its
precedence; equal precedence associates to the left) and parentheses. Its postfix form is what
an agent in task mode reads, and its polynomial (exact integer coefficients) is what the solver
compares programs against.

An expression holds at most ``MAX_OPERATORS`` operators and ``MAX_NESTING`` levels of
parentheses (a task over all 26 operand letters needs 25 and a few), so that parsing and
every function here (they recurse over the tree) never run out of stack.

>>> tree = parse("(a*b+c)-(d*e)")
>>> n_operands(tree), evaluate(tree, [4, 2, 7, 3, 5]), subgoal_values(tree, [4, 2, 7, 3, 5])
(5, 0, (8, 15, 15))
>>> to_text(parse("(a*b)-(c*d)")), to_text(parse("a+(b+c)")), postfix_text(parse("a*b+c"))
('a*b-c*d', 'a+(b+c)', 'a b * c +')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nativeagent.machine.polynomial import Poly
from nativeagent.machine.tools import Tool, all_operators, linear_form

#: Operand letters, in context order: ``a`` is the first digit, ``z`` the 26th.
LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: The most operators, and the deepest nesting of parentheses, that an expression may have.
MAX_OPERATORS = 64
MAX_NESTING = 64
#: Longer expressions are shown shortened in error messages (the position still counts in full).
SHOWN = 80
#: The operator tool of each symbol, in table order (``*``, ``+``, ``-``).
OPERATOR_TOOLS: dict[str, Tool] = all_operators()
OPERATORS: tuple[str, ...] = tuple(OPERATOR_TOOLS)
#: The tool token of each operator (what task mode shows for it).
OP_TOKENS: dict[str, int] = {s: t.token for s, t in OPERATOR_TOOLS.items()}
#: The form of each operator (``tools.linear_form``: ``(SUM, c)`` for ``l + c*r``,
#: ``(PRODUCT, 0)``, or ``None``), for what reads expressions by their algebra.
OPERATOR_FORMS: dict[str, tuple[int, int] | None] = {
    s: linear_form(t.operator.apply) for s, t in OPERATOR_TOOLS.items() if t.operator
}


def precedence(op: str) -> int:
    """How tightly ``op`` binds (``*`` 2, ``+`` and ``-`` 1)."""
    return operator_of(op).precedence


def operator_tool(op: str) -> Tool:
    """The tool that computes ``op``; ``ValueError`` for a symbol no tool computes."""
    tool = OPERATOR_TOOLS.get(op)
    if tool is None or tool.operator is None:
        raise ValueError(f"unknown operator {op!r}; the operators are {' '.join(OPERATORS)}")
    return tool


def operator_of(op: str) -> Any:
    """The table's ``Operator`` of a symbol; ``ValueError`` for one no tool computes."""
    return operator_tool(op).operator


class ExpressionError(ValueError):
    """A malformed expression; ``position`` is the 0-based offset of the problem."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text, self.position, self.problem = text, position, problem
        shown = text if len(text) <= SHOWN else f"{text[: SHOWN - 20]}...{text[-15:]}"
        super().__init__(f"bad expression {shown!r}: {problem} at position {position + 1}")


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
        self.operators = self.nesting = 0

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, problem: str) -> ExpressionError:
        return ExpressionError(self.text, self.pos, problem)

    def expr(self, lowest: int = 0) -> Node:
        """Precedence climbing: operators binding at least as tightly as ``lowest``."""
        node = self.factor()
        while (op := self.peek()) in OPERATOR_TOOLS and precedence(op) >= lowest:
            self.operators += 1
            if self.operators > MAX_OPERATORS:
                raise self.fail(f"more than {MAX_OPERATORS} operators")
            self.pos += 1
            node = BinOp(op, node, self.expr(precedence(op) + 1))
        return node

    def factor(self) -> Node:
        char = self.peek()
        if char == "(":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise self.fail(f"parentheses nested more than {MAX_NESTING} deep")
            self.pos += 1
            node = self.expr()
            if self.peek() != ")":
                raise self.fail("expected ')'" if self.peek() else "missing ')'")
            self.pos += 1
            self.nesting -= 1
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


def apply(op: str, left: Any, right: Any) -> Any:
    """One binary operation, by the tool table's operator (on ints, tensors or polynomials)."""
    return operator_of(op).apply(left, right)


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
    prec = precedence(node.op)
    left, right = to_text(node.left), to_text(node.right)
    if isinstance(node.left, BinOp) and precedence(node.left.op) < prec:
        left = f"({left})"
    if isinstance(node.right, BinOp) and precedence(node.right.op) <= prec:
        right = f"({right})"
    return f"{left}{node.op}{right}"


def polynomial(node: Node) -> Poly:
    """The expression as an exact polynomial in the operands."""
    if isinstance(node, Operand):
        return Poly.operand(node.index)
    return apply(node.op, polynomial(node.left), polynomial(node.right))


__all__ = [
    "LETTERS",
    "MAX_NESTING",
    "MAX_OPERATORS",
    "OPERATORS",
    "OPERATOR_FORMS",
    "OPERATOR_TOOLS",
    "OP_TOKENS",
    "BinOp",
    "ExpressionError",
    "Node",
    "Operand",
    "apply",
    "evaluate",
    "n_operands",
    "n_operators",
    "operands",
    "operator_of",
    "operator_tool",
    "parse",
    "polynomial",
    "postfix",
    "postfix_text",
    "precedence",
    "subgoal_values",
    "to_text",
]
