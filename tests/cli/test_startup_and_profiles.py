"""Commands that need no model start without torch; ``--version``; ``solve`` and ``expressions``
on a profile."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
from typer.testing import CliRunner

from nativeagent.cli import app

#: Runs the command line in a fresh interpreter, then prints whether torch (or Gymnasium) was
#: ever imported.
PROBE = """
import sys
from nativeagent.cli import main
sys.argv = ["nativeagent", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("torch" in sys.modules, "gymnasium" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["train", "--help"],
        ["solve", "a*(b+c)", "--machine", "extended"],
        ["expressions", "--operands", "4"],
        ["expressions", "--operands", "3", "--sample", "2", "--machine", "extended"],
    ],
)
def test_commands_that_need_no_model_never_import_torch(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.stdout, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False False"


def test_version_names_the_installed_distribution() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nativeagent", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"nativeagent {metadata.version('nativeagent')}\n"


def test_version_falls_back_to_the_package_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    import nativeagent
    from nativeagent import cli

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cli, "version", not_installed)
    monkeypatch.setattr(nativeagent, "__version__", "9.8.7")
    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0 and out.stdout == "nativeagent 9.8.7\n"


def test_solve_on_the_extended_machine() -> None:
    out = CliRunner().invoke(app, ["solve", "a*(b+c)", "a-(b-c)+d", "--machine", "extended"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "a*(b+c): LOAD STO ADD RCL MUL ANS (6 tools, one of 2 shortest)",
        "a-(b-c)+d: SUB ADD ADD ANS (4 tools, unique shortest)",
    ]
    record = json.loads(
        CliRunner().invoke(app, ["solve", "--json", "--machine", "extended", "a*(b+c)"]).stdout
    )
    assert record["machine"] == "extended" and record["length"] == 6
    canonical = CliRunner().invoke(app, ["solve", "a*(b+c)"])
    assert canonical.exit_code == 1 and "the canonical machine reads operands" in canonical.stdout


def test_expressions_on_the_extended_machine() -> None:
    listed = CliRunner().invoke(app, ["expressions", "--operands", "4", "--machine", "extended"])
    lines = listed.stdout.splitlines()
    assert listed.exit_code == 0 and len(lines) == 135
    assert "a*(b+c+d)        LOAD STO ADD ADD RCL MUL ANS" in lines


def test_an_unknown_machine_is_one_line() -> None:
    out = CliRunner().invoke(app, ["solve", "a*b", "--machine", "abacus"])
    assert out.exit_code == 2
    assert out.stderr.strip() == (
        "error: unknown machine 'abacus'; choose one of canonical, extended, seed-legacy"
    )
