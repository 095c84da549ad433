"""The tutorial's 18-token vocabulary: ten digits, the context marker, six tools and a pad.

>>> TOK2STR[MUL], STR2TOK["[ANS]"], VOCAB_SIZE
('[MUL]', 14, 18)
>>> name(RCL)
'RCL'
"""

from __future__ import annotations

CTX = 10
MUL = 11
ADD = 12
SUB = 13
ANS = 14
STO = 15
RCL = 16
EOS = 17
VOCAB_SIZE = 18

TOK2STR: dict[int, str] = {i: str(i) for i in range(10)} | {
    CTX: "[CTX]",
    MUL: "[MUL]",
    ADD: "[ADD]",
    SUB: "[SUB]",
    ANS: "[ANS]",
    STO: "[STO]",
    RCL: "[RCL]",
    EOS: "[EOS]",
}
STR2TOK: dict[str, int] = {s: i for i, s in TOK2STR.items()}

#: The agent's actions, in id order.
TOOLS: tuple[int, ...] = (MUL, ADD, SUB, ANS, STO, RCL)
#: The binary operators among the tools.
OPS: tuple[int, ...] = (MUL, ADD, SUB)


def name(token: int) -> str:
    """Short name of a token: ``'MUL'`` for ``[MUL]``, ``'7'`` for the digit 7."""
    return TOK2STR[token].strip("[]")


def parse_token(token: int | str) -> int:
    """Token id from an id, a bracketed string (``'[MUL]'``) or a bare name (``'MUL'``, ``'7'``)."""
    if isinstance(token, bool):
        raise ValueError(f"token {token!r} is a bool, not a token id or name")
    if isinstance(token, int):
        if 0 <= token < VOCAB_SIZE:
            return token
        raise ValueError(f"token id {token} is outside the vocabulary 0..{VOCAB_SIZE - 1}")
    if isinstance(token, str):
        key = token.strip().upper()
        if key in STR2TOK:
            return STR2TOK[key]
        if f"[{key}]" in STR2TOK:
            return STR2TOK[f"[{key}]"]
        names = ", ".join(name(t) for t in range(10, VOCAB_SIZE))
        raise ValueError(f"unknown token {token!r}; expected a digit or one of {names}")
    raise ValueError(
        f"token {token!r} has type {type(token).__name__}; expected an int id or a name"
    )
