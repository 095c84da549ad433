"""The files of a run directory, and the error for one that cannot be used (no torch needed)."""

from __future__ import annotations

from nativeagent.errors import RunDirError

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
METRICS = "metrics.jsonl"
#: The command line that started the run, when it came from the command line.
COMMAND = "command.txt"


__all__ = ["CHECKPOINT", "COMMAND", "METRICS", "RESULT", "RunDirError"]
