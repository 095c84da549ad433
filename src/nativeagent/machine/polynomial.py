"""Exact integer polynomials in the context operands: the solver's symbolic values.

A ``Poly`` supports ``+``, ``-`` and ``*``, so the tool table's operators (``operator.add`` and
so on) apply to it exactly as they apply to ints and tensors. Equal polynomials are equal
objects (normal form: sorted monomials, no zero coefficients), so they hash alike.

>>> a, b, c = (Poly.operand(i) for i in range(3))
>>> a * (b + c) == a * b + c * a, str(a * b - c)
(True, 'x0*x1 - x2')
"""

from __future__ import annotations

from dataclasses import dataclass

Monomial = tuple[int, ...]  # exponent of each operand, operand 0 first, no trailing zeros


@dataclass(frozen=True)
class Poly:
    """A polynomial with integer coefficients, as sorted (monomial, non-zero coefficient) pairs."""

    terms: tuple[tuple[Monomial, int], ...] = ()

    @classmethod
    def operand(cls, index: int) -> Poly:
        """The polynomial of operand ``index``."""
        return cls((((0,) * index + (1,), 1),))

    @classmethod
    def constant(cls, value: int) -> Poly:
        """The constant polynomial ``value``."""
        return cls((((), value),)) if value else cls()

    @classmethod
    def _normal(cls, terms: dict[Monomial, int]) -> Poly:
        return cls(tuple(sorted((m, c) for m, c in terms.items() if c)))

    def _combine(self, other: Poly, sign: int) -> Poly:
        terms = dict(self.terms)
        for m, c in other.terms:
            terms[m] = terms.get(m, 0) + sign * c
        return self._normal(terms)

    def __add__(self, other: Poly) -> Poly:
        return self._combine(other, 1)

    def __sub__(self, other: Poly) -> Poly:
        return self._combine(other, -1)

    def __mul__(self, other: Poly) -> Poly:
        terms: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                width = max(len(m1), len(m2))
                m1p, m2p = m1 + (0,) * (width - len(m1)), m2 + (0,) * (width - len(m2))
                m = tuple(e1 + e2 for e1, e2 in zip(m1p, m2p, strict=True))
                terms[m] = terms.get(m, 0) + c1 * c2
        return self._normal(terms)

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        out = ""
        for m, c in sorted(self.terms, key=lambda t: (-sum(t[0]), t[0][::-1])):
            factors = "*".join(f"x{i}" + (f"^{e}" if e > 1 else "") for i, e in enumerate(m) if e)
            mag = abs(c)
            body = factors if mag == 1 and factors else f"{mag}*{factors}" if factors else str(mag)
            out += (" - " if c < 0 else " + ") + body if out else ("-" if c < 0 else "") + body
        return out


__all__ = ["Monomial", "Poly"]
