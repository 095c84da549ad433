"""The fuzzing harness itself: in-process commands behave as a real process does, and every
contract check fails when the contract is broken (so a fuzz test that passes means something).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import surfaces as s


@pytest.mark.parametrize(
    "args",
    [
        ["solve", "a*b+c", "a*(b+c)"],  # exit 1, with solve's own output
        ["solve", "(" * 100 + "a" + ")" * 100],  # exit 2, one line
        ["expressions", "--operands", "2", "--machine", "extended"],
        ["train", "--set", "algo.lr=-1", "--out", "unused"],
    ],
)
def test_in_process_commands_match_a_real_process(args: list[str], tmp_path: Path) -> None:
    got = s.run_cli(args)
    real = subprocess.run(
        [sys.executable, "-m", "nativeagent", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (got.code, got.out, got.err) == (real.returncode, real.stdout, real.stderr)
    assert not list(tmp_path.iterdir())


def test_a_crash_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("injected")

    monkeypatch.setattr("nativeagent.cli.tasks.run_solver", broken)
    with pytest.raises(KeyError, match="injected"):
        s.check_solve(["solve", "a*b"])


@pytest.mark.parametrize(
    ("code", "err", "needle"),
    [
        (2, "error: one\nerror: two\n", "2 stderr lines"),
        (2, "error: one\r  two\n", "2 stderr lines"),
        (2, "oops\n", "not one .error: .... line"),
        (2, "", "0 stderr lines"),
        (1, "error: not solve's exit 1\n", "expected one of"),
        (2, "Traceback (most recent call last):\n", "traceback"),
    ],
)
def test_a_broken_contract_is_caught(code: int, err: str, needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        s.cli_outcome(s.CliResult(("x",), code, "", err))


def test_a_stray_file_in_the_working_directory_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def litter(*args: object) -> None:
        Path("litter.txt").write_text("x")  # relative: the command's working directory
        raise ValueError("injected")

    monkeypatch.setattr("nativeagent.cli.tasks.run_solver", litter)
    with pytest.raises(AssertionError, match=r"litter\.txt"):
        s.check_solve(["solve", "a*b"])


def test_a_partial_output_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def half_written(path: Path, data: bytes) -> None:
        path.write_bytes(data[: len(data) // 2])
        raise ValueError("injected: disk full")

    monkeypatch.setattr("nativeagent.analysis.plot.write_output", half_written)
    with pytest.raises(AssertionError, match="failed but wrote"):
        s.check_run_dir("plot", s.Corruption("command.txt", "empty"))


def test_a_left_temporary_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def leave_temporary(path: Path, data: bytes) -> None:
        (path.parent / f".{path.name}.x.tmp").write_bytes(data)
        raise ValueError("injected: disk full")

    monkeypatch.setattr("nativeagent.analysis.plot.write_output", leave_temporary)
    with pytest.raises(AssertionError, match=r"\.tmp"):
        s.check_run_dir("plot", s.Corruption("command.txt", "empty"))


def test_a_reader_that_changes_the_run_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from nativeagent.training import export

    load = export.load_trained_at

    def touching(path: Path, device: str = "cpu") -> object:
        (path / "metrics.jsonl").write_text("")
        return load(path, device)

    monkeypatch.setattr(export, "load_trained_at", touching)
    with pytest.raises(AssertionError, match="changed"):
        s.check_run_dir("eval", s.Corruption("command.txt", "empty"))


def test_batched_and_reference_disagreeing_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from nativeagent.machine import reference

    run = reference.run_program

    def off_by_one(*args: object, **kwargs: object) -> object:
        out = run(*args, **kwargs)  # type: ignore[arg-type]
        return out.__class__(out.answer, out.correct, out.reward, out.steps + 1, out.trace)

    monkeypatch.setattr(reference, "run_program", off_by_one)
    with pytest.raises(AssertionError):
        s.check_batched(s.BatchInput("canonical", None, ((1, 2, 3),), (0,), (5,), ((11, 12, 14),)))


def test_the_solver_budget_keeps_letters_within_reach() -> None:
    assert s.letters_for("canonical", 8) == "abcdef"
    assert s.letters_for("extended", 16) == "ab"
    assert s.solver_depth("extended", 8) == 0  # never searched
