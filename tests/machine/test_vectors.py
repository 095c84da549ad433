"""Both machines, single and batched, against 3,300 independent vectors in tests/data."""

# The vectors were computed by an independent implementation of the machines in docs/machine.md
# (canonical: answer and correct; seed-legacy: the tutorial's exact reward); program tokens are
# names ("MUL").

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from batch_runner import run_batched

from nativeagent import execute
from nativeagent.machine import make_machine
from nativeagent.tokens import parse_token

DATA = Path(__file__).resolve().parents[1] / "data" / "machines.jsonl"
Row = dict[str, Any]


def load_vectors() -> list[tuple[int, Row]]:
    """All vectors with their 1-based line numbers."""
    with DATA.open(encoding="utf-8") as f:
        return [(n, json.loads(line)) for n, line in enumerate(f, 1) if line.strip()]


VECTORS = load_vectors()


def rows_of(machine: str) -> list[tuple[int, Row]]:
    return [(n, row) for n, row in VECTORS if row["machine"] == machine]


def report(failures: list[str]) -> str:
    return f"{len(failures)} vector lines fail, first ones:\n" + "\n".join(failures[:15])


def test_vector_file_is_complete() -> None:
    counts = Counter((row["machine"], row["stage"]) for _, row in VECTORS)
    assert counts == {("canonical", s): 700 for s in range(3)} | {
        ("seed-legacy", s): 400 for s in range(3)
    }
    canonical = [row for _, row in rows_of("canonical")]
    # Both outcomes are well represented, so a machine that never answers cannot pass.
    assert sum(row["correct"] for row in canonical) > 150
    assert sum(row["answer"] is not None and not row["correct"] for row in canonical) > 300
    assert len({row["reward"] for _, row in rows_of("seed-legacy")}) > 10


def test_execute_matches_canonical_vectors() -> None:
    failures = []
    for n, row in rows_of("canonical"):
        out = execute(row["program"], row["context"], row["stage"], machine="canonical")
        want = (row["answer"], row["correct"], float(row["correct"]))
        if (out.answer, out.correct, out.reward) != want:
            failures.append(f"line {n}: {row} -> {out}")
    assert not failures, report(failures)


def test_execute_matches_legacy_vectors() -> None:
    failures = []
    for n, row in rows_of("seed-legacy"):
        out = execute(row["program"], row["context"], row["stage"], machine="seed-legacy")
        if out.reward != row["reward"]:  # exact: the tutorial's float arithmetic
            failures.append(f"line {n}: {row} -> reward {out.reward!r}")
    assert not failures, report(failures)


@pytest.mark.parametrize("machine", ["canonical", "seed-legacy"])
def test_batched_machine_matches_vectors(machine: str) -> None:
    rows = rows_of(machine)
    episodes = [
        (row["stage"], row["context"], [parse_token(t) for t in row["program"]]) for _, row in rows
    ]
    batched = make_machine(machine)
    reward = run_batched(batched, episodes).sum(0).tolist()
    answered, answer = batched.answered.tolist(), batched.answer.tolist()
    failures = []
    for i, (n, row) in enumerate(rows):
        if machine == "canonical":
            got = (answer[i] if answered[i] else None, reward[i])
            ok = got == (row["answer"], float(row["correct"]))
        else:
            got = reward[i]
            ok = abs(reward[i] - row["reward"]) <= 1e-5  # float32 rewards
        if not ok:
            failures.append(f"line {n}: {row} -> batched {got}")
    assert not failures, report(failures)
