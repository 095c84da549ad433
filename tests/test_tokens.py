"""The 18-token vocabulary (docs/machine.md): ids, strings, and parsing of ids and names."""

from __future__ import annotations

import pytest

from nativeagent import tokens
from nativeagent.tokens import (
    ADD,
    ANS,
    CTX,
    EOS,
    MUL,
    OPS,
    RCL,
    STO,
    STR2TOK,
    SUB,
    TOK2STR,
    TOOLS,
    VOCAB_SIZE,
    name,
    parse_token,
)


def test_ids_follow_the_spec_table() -> None:
    ids = {"CTX": CTX, "MUL": MUL, "ADD": ADD, "SUB": SUB, "ANS": ANS}
    ids |= {"STO": STO, "RCL": RCL, "EOS": EOS, "VOCAB_SIZE": VOCAB_SIZE}
    want = {"CTX": 10, "MUL": 11, "ADD": 12, "SUB": 13, "ANS": 14}
    want |= {"STO": 15, "RCL": 16, "EOS": 17, "VOCAB_SIZE": 18}
    assert ids == want


def test_tok2str_covers_the_vocabulary() -> None:
    assert sorted(TOK2STR) == list(range(VOCAB_SIZE))
    assert [TOK2STR[d] for d in range(10)] == [str(d) for d in range(10)]
    assert [TOK2STR[t] for t in range(10, VOCAB_SIZE)] == [
        "[CTX]",
        "[MUL]",
        "[ADD]",
        "[SUB]",
        "[ANS]",
        "[STO]",
        "[RCL]",
        "[EOS]",
    ]
    assert len(set(TOK2STR.values())) == VOCAB_SIZE


@pytest.mark.parametrize("token", range(VOCAB_SIZE))
def test_round_trip(token: int) -> None:
    assert STR2TOK[TOK2STR[token]] == token
    assert parse_token(TOK2STR[token]) == token
    assert parse_token(name(token)) == token
    assert parse_token(token) == token


def test_name_strips_brackets() -> None:
    assert name(MUL) == "MUL"
    assert name(EOS) == "EOS"
    assert name(7) == "7"


@pytest.mark.parametrize(
    ("text", "token"),
    [("MUL", MUL), ("[MUL]", MUL), ("mul", MUL), (" [ans] ", ANS), ("Rcl", RCL), ("0", 0)],
)
def test_parse_token_accepts_names_in_any_case(text: str, token: int) -> None:
    assert parse_token(text) == token


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (-1, "outside the vocabulary"),
        (VOCAB_SIZE, "outside the vocabulary"),
        (True, "bool"),
        ("FOO", "unknown token"),
        ("10", "unknown token"),
        ("", "unknown token"),
        (1.0, "type float"),
        (None, "type NoneType"),
    ],
)
def test_parse_token_rejects(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_token(bad)  # type: ignore[arg-type]


def test_tools_and_ops() -> None:
    assert tokens.TOOLS == (MUL, ADD, SUB, ANS, STO, RCL)
    assert set(TOOLS) == set(range(11, 17))
    assert OPS == (MUL, ADD, SUB)
