"""``nativeagent plot`` and ``report`` without ``--out`` write ``curves.png`` and ``report.html``
in the working directory (a newcomer's first ``nativeagent report RUN`` just works)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli


@pytest.mark.parametrize(
    ("command", "default"), [("plot", "curves.png"), ("report", "report.html")]
)
def test_out_defaults_to_a_file_in_the_working_directory(
    command: str,
    default: str,
    solved_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli([command, str(solved_run)], capsys)
    assert (code, err) == (0, "")
    assert out.strip() == f"wrote {default}"
    assert (tmp_path / default).stat().st_size > 1000
    assert not list(solved_run.glob(default))  # readers never write into the run
