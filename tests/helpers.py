"""Helpers several test folders share."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
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


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Debian's headless Chromium; fail (never skip) when it is not installed."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does this)")
    profile = Path(tmp_path) / f"profile{len(list(tmp_path.glob('profile*')))}"
    profile.mkdir()
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", timeout=120)
