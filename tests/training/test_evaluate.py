"""Optimality is what ``OPTIMALITY_NOTE`` says: the agent's program length over the solver's
shortest, on solved episodes; above 1 for longer programs, below 1 for a shorter program that is
right only on some contexts. Checked with scripted agents that always play one program."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nativeagent.config import load_config
from nativeagent.tasks.taskset import Batch
from nativeagent.tokens import VOCAB_SIZE, parse_token
from nativeagent.training.evaluate import OPTIMALITY_NOTE, evaluate


class Scripted:
    """A policy that plays ``programs[stage]`` token by token, whatever it sees."""

    def __init__(self, programs: dict[int, str]) -> None:
        self.programs = {s: [parse_token(t) for t in p.split()] for s, p in programs.items()}

    def start(self, batch: Batch) -> tuple[Any, torch.Tensor]:
        return (batch.stage, 0), torch.zeros_like(batch.stage)

    def step(self, state: Any, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        stage, t = state
        logits = torch.full((len(stage), VOCAB_SIZE), -1e4)  # (B, V)
        for s, program in self.programs.items():
            logits[stage == s, program[min(t, len(program) - 1)]] = 0.0
        return logits, torch.zeros(len(stage)), (stage, t + 1)


def optimality_of(programs: dict[int, str]) -> dict[int, tuple[float, float | None]]:
    cfg = load_config()
    table = evaluate(Scripted(programs), cfg, 600, torch.Generator().manual_seed(0))
    return {s: (a.accuracy, a.optimality) for s, a in table.items()}


def test_a_shortest_program_everywhere_is_optimality_one() -> None:
    table = optimality_of(
        {0: "MUL ADD ANS", 1: "MUL ADD SUB ANS", 2: "MUL ADD STO MUL RCL SUB ANS"}
    )
    assert table == {0: (1.0, 1.0), 1: (1.0, 1.0), 2: (1.0, 1.0)}


def test_a_longer_program_is_above_one_a_shortcut_below_one() -> None:
    table = optimality_of({0: "MUL ADD ANS", 1: "MUL STO SUB RCL ADD ANS", 2: "MUL ADD ANS"})
    assert table[1] == (1.0, pytest.approx(6 / 4))  # right on every context, two tools longer
    accuracy, optimality = table[2]
    assert 0.1 < accuracy < 0.3  # right only where d*e = 0
    assert optimality == pytest.approx(3 / 7)


def test_the_note_says_which_way_round_and_why() -> None:
    assert OPTIMALITY_NOTE.startswith(
        "optimality: the agent's program length over the solver's shortest program"
    )
    assert "above 1 = longer programs" in OPTIMALITY_NOTE
    assert "below 1 = shorter programs that are right only on some contexts" in OPTIMALITY_NOTE
