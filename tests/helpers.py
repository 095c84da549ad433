"""Helpers several test folders share."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
import torch

from nativeagent.machine import rules
from nativeagent.machine.tools import CANONICAL, EOS


def canonical_legal(acc: int | None, mem: int | None, p: int, armed: bool, n: int) -> set[int]:
    """The canonical tools legal in a state, from the tool table's rules (``rules.legal``)."""
    state = rules.State((acc, mem), p, "mem" if armed else None)
    return {t.token for t in rules.legal(CANONICAL, state, n)}


def episode_batch(contexts: Sequence[Sequence[int]], targets: Sequence[int]) -> SimpleNamespace:
    """What a batched machine needs to run one episode per context (``machine.Episodes``):
    contexts ``[EOS]``-padded to the longest, their targets, no subgoals."""
    width = max(len(c) for c in contexts)
    context = torch.full((len(contexts), width), EOS)
    for i, c in enumerate(contexts):
        context[i, : len(c)] = torch.tensor(list(c), dtype=torch.long)
    return SimpleNamespace(
        context=context,
        n_operands=torch.tensor([len(c) for c in contexts]),
        target=torch.tensor(list(targets)),
        subgoals=torch.zeros(len(contexts), 1, dtype=torch.long),
        subgoal_valid=torch.zeros(len(contexts), 1, dtype=torch.bool),
        stage=torch.zeros(len(contexts), dtype=torch.long),
    )


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``nativeagent ARGS`` through its real entry point: exit code, stdout, stderr."""
    from nativeagent import cli

    old = sys.argv
    sys.argv = ["nativeagent", *args]
    try:
        with pytest.raises(SystemExit) as info:
            cli.main()
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err
