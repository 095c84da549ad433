"""The README's five-minute tour, run as written: every command in order, in a fresh directory,
so that the tour cannot drift from what the commands do."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"


def tour_commands(text: str) -> list[list[str]]:
    """The commands of the README's tour block (between ``<!-- tour -->`` and ``<!-- /tour -->``),
    one per line, comments dropped."""
    block = text.split("<!-- tour -->", 1)[1].split("<!-- /tour -->", 1)[0]
    assert block.strip().startswith("```bash") and block.strip().endswith("```")
    lines = block.strip().splitlines()[1:-1]
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def test_the_tour_block_is_found_and_every_line_is_a_command() -> None:
    commands = tour_commands(README.read_text())
    assert len(commands) >= 8
    assert all(c and c[0] == "nativeagent" for c in commands)
    assert commands[0] == ["nativeagent", "train"]  # the first set-up command's own run


def test_the_site_shows_the_same_tour() -> None:
    """The getting-started page repeats the tour; this test runs the README's, so they agree."""
    assert tour_commands(GETTING_STARTED.read_text()) == tour_commands(README.read_text())


def test_the_readme_is_a_short_front_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 150
    assert lines[0] == "# nativeagent" and "nativeagent trains" in lines[2]
    assert lines[4:8] == [
        "```bash",
        "python3 -m pip install torch==2.13.0 -e . && nativeagent train",
        "python3 -m pip install torch==2.13.0 -e '.[test]' && python3 -m pytest",
        "```",
    ]


def test_the_tour_runs_in_order_from_an_empty_directory(tmp_path: Path) -> None:
    """Every command exits 0, using only what the commands before it made; what the tour says it
    makes is there."""
    executable = shutil.which("nativeagent")
    launcher = [executable] if executable else [sys.executable, "-m", "nativeagent"]
    env = {**os.environ, "COLUMNS": "100"}
    outputs = []
    for command in tour_commands(README.read_text()):
        done = subprocess.run(
            [*launcher, *command[1:]], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout + done.stderr)
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink() and (latest / "result.json").is_file()
    assert f"runs/{os.readlink(latest)}" in outputs[0]  # train printed its real directory
    for made in ("report.html", "curves.png", "agents/first/model.safetensors"):
        assert (tmp_path / made).is_file(), made


def test_every_link_of_the_readme_is_a_file_here() -> None:
    """The front page points into docs/ (readable on a code host too); none of its links dangle."""
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    assert [link for link in local if not (ROOT / link).is_file()] == []
