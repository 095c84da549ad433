"""What every command shares: the progress display fits a narrow terminal with its counter whole,
the accuracy table explains optimality, paths are shown as a user types them."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from nativeagent.cli import common
from nativeagent.training.evaluate import OPTIMALITY_NOTE

#: What ``train`` shows as the status of a run with held-out tasks.
STATUS = "stage 2 train_acc 0.59 | T0 1.00 T1 1.00 T2 1.00 held-out 0.60"


def rendered_progress(width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    terminal = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    monkeypatch.setattr(common, "console", terminal)
    progress = common.progress_bar("train")
    progress.add_task(STATUS, total=3000, completed=150)
    progress.add_task("stage 0", total=3000, completed=1)
    terminal.print(progress.get_renderable())
    return terminal.export_text().splitlines()


@pytest.mark.parametrize("width", [40, 80, 120])
def test_the_progress_counter_is_never_cut(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = rendered_progress(width, monkeypatch)
    assert len(lines) == 2 and all(len(line) <= width for line in lines), lines
    assert "150/3000" in lines[0] and "   1/3000" in lines[1]
    assert lines[0].startswith("train ") and lines[0].endswith("0:00:00"), lines
    if width >= 120:
        assert STATUS in lines[0]
    else:  # the status gives way, cut with an ellipsis
        assert "stage 2 tr" in lines[0] and "…" in lines[0]


def test_the_accuracy_table_explains_optimality() -> None:
    terminal = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    row = {"stage": 2, "task": "(a*b+c)-(d*e)", "accuracy": 0.999, "low": 0.994, "high": 1.0}
    row |= {"episodes": 1000, "optimality": 0.993}
    terminal.print(common.accuracy_table("greedy accuracy", [row]))
    text = terminal.export_text()
    assert "0.993" in text
    assert OPTIMALITY_NOTE in " ".join(text.split())


def test_paths_are_shown_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runs" / "a b").mkdir(parents=True)
    os.symlink("a b", tmp_path / "runs" / "latest")
    monkeypatch.chdir(tmp_path)
    assert common.typed_path(Path("runs/latest")) == "'runs/a b'"
    assert common.typed_path(Path("runs/latest"), resolve=False) == "runs/latest"
    assert common.typed_path(tmp_path / "runs" / "a b") == "'runs/a b'"
    monkeypatch.chdir(tmp_path / "runs" / "a b")
    assert common.typed_path(tmp_path / "runs") == str((tmp_path / "runs").resolve())


def test_a_task_set_runs_accuracy_table_fits_80_columns_a_row_a_line() -> None:
    rows = [
        {"stage": s, "task": t, "accuracy": 1.0, "low": 0.996, "high": 1.0, "episodes": 1000}
        for s, t in [(0, "2 expressions"), (1, "10 expressions"), ("held-out", "22 expressions")]
    ]
    terminal = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    terminal.print(common.accuracy_table("greedy accuracy: runs/gen", rows))
    lines = terminal.export_text().splitlines()
    for row in rows:
        line = next(line for line in lines if f" {row['task']} " in line)
        assert str(row["stage"]) in line and "[0.996, 1.000]" in line and "1000" in line
