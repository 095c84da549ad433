"""The files of a run directory, and the error for one that cannot be used (no torch needed)."""

from __future__ import annotations

from pathlib import Path

from nativeagent.errors import RunDirError

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
METRICS = "metrics.jsonl"
#: The command line that started the run, when it came from the command line.
COMMAND = "command.txt"


def is_finished(run_dir: Path) -> bool:
    """Whether training of the run in ``run_dir`` has finished: it writes ``result.json`` last,
    so a run still training, or stopped on the way, has none (the one rule every command uses)."""
    return (run_dir / RESULT).is_file()


__all__ = ["CHECKPOINT", "COMMAND", "METRICS", "RESULT", "RunDirError", "is_finished"]
