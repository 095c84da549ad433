"""The files of a run directory, and the error for one that cannot be used (no torch needed)."""

from __future__ import annotations

from nativeagent.errors import RunDirError

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
METRICS = "metrics.jsonl"


__all__ = ["CHECKPOINT", "METRICS", "RESULT", "RunDirError"]
