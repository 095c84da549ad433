"""The tutorial's 18-token vocabulary: ten digits, the context marker, six tools and a pad.

Every id and name comes from the tool table (``nativeagent.machine.tools``); these are the
canonical profile's, under the names the tutorial used. ``parse_token`` and ``name`` also know
the tokens of the other profiles (``[LOAD]``, ``[STO2]``, ``[RCL2]``).

>>> TOK2STR[MUL], STR2TOK["[ANS]"], VOCAB_SIZE
('[MUL]', 14, 18)
>>> name(RCL), parse_token("load", vocab_size=21)
('RCL', 18)
"""

from __future__ import annotations

from nativeagent.machine.tools import CANONICAL, CTX, EOS, token_names

MUL, ADD, SUB, ANS, STO, RCL = (
    CANONICAL.tool(name).token for name in ("MUL", "ADD", "SUB", "ANS", "STO", "RCL")
)
VOCAB_SIZE = CANONICAL.vocab_size


def _bracketed(token: int, short: str) -> str:
    return short if token < 10 else f"[{short}]"


TOK2STR: dict[int, str] = {i: _bracketed(i, s) for i, s in CANONICAL.vocabulary.items()}
STR2TOK: dict[str, int] = {s: i for i, s in TOK2STR.items()}
_NAMES = token_names()  # every profile's tokens
#: Every spelling ``parse_token`` accepts: bare names, and bracketed ones for non-digits.
_IDS = {s: i for i, s in _NAMES.items()} | {f"[{s}]": i for i, s in _NAMES.items() if i >= 10}

#: The agent's actions, in id order.
TOOLS: tuple[int, ...] = CANONICAL.tokens
#: The binary operators among the tools.
OPS: tuple[int, ...] = tuple(t.token for t in CANONICAL.operators)


def name(token: int) -> str:
    """Short name of a token: ``'MUL'`` for ``[MUL]``, ``'7'`` for the digit 7."""
    return _NAMES[token]


def parse_token(token: int | str, vocab_size: int = VOCAB_SIZE) -> int:
    """Token id from an id, a bracketed string (``'[MUL]'``) or a bare name (``'MUL'``, ``'7'``).

    The token must lie in a vocabulary of ``vocab_size`` tokens (the canonical 18 by default;
    21 for ``extended``).
    """
    if isinstance(token, bool):
        raise ValueError(f"token {token!r} is a bool, not a token id or name")
    if isinstance(token, int):
        if 0 <= token < vocab_size:
            return token
        raise ValueError(f"token id {token} is outside the vocabulary 0..{vocab_size - 1}")
    if isinstance(token, str):
        key = token.strip().upper()
        if key in _IDS and _IDS[key] < vocab_size:
            return _IDS[key]
        names = ", ".join(s for i, s in _NAMES.items() if 10 <= i < vocab_size)
        raise ValueError(f"unknown token {token!r}; expected a digit or one of {names}")
    raise ValueError(
        f"token {token!r} has type {type(token).__name__}; expected an int id or a name"
    )


__all__ = [
    "ADD",
    "ANS",
    "CTX",
    "EOS",
    "MUL",
    "OPS",
    "RCL",
    "STO",
    "STR2TOK",
    "SUB",
    "TOK2STR",
    "TOOLS",
    "VOCAB_SIZE",
    "name",
    "parse_token",
]
