"""Where metrics go: ``metrics.jsonl`` always, TensorBoard scalars when asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from nativeagent.config import ConfigError
from nativeagent.rundir import METRICS, RunDirError

TENSORBOARD_DIR = "tensorboard"
#: TensorBoard namespace of each metric (CleanRL's convention); eval accuracies go to ``eval/``.
_NAMESPACE = {
    "train_acc": "charts",
    "train_reward": "charts",
    "stage": "charts",
    "episodes": "charts",
    "loss": "losses",
    "pg_loss": "losses",
    "v_loss": "losses",
    "entropy": "losses",
    "grad_norm": "losses",
}


def eval_summary(r: dict[str, Any], digits: int, sep: str) -> str:
    """``T0=1.000 T1=0.990 held-out=0.600`` from a metrics record's evaluation."""
    parts = [f"T{s}{sep}{v:.{digits}f}" for s, v in r["eval"].items()]
    if "eval_held_out" in r:
        parts.append(f"held-out{sep}{r['eval_held_out']:.{digits}f}")
    return " ".join(parts)


def eval_line(r: dict[str, Any]) -> str:
    """The periodic evaluation line of a metrics record, as ``nativeagent train`` prints it."""
    ev = eval_summary(r, 3, "=")
    return (
        f"update={r['update']} stage={r['stage']} train_acc={r['train_acc']:.3f} "
        f"| eval {ev} loss={r['loss']:.4f}"
    )


def check_tensorboard() -> None:
    """Raise ``ConfigError`` with the install command when TensorBoard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--tensorboard needs the tensorboard package: pip install 'nativeagent[tensorboard]'"
        ) from None


class MetricsLog:
    """Append one JSON object per record to ``metrics.jsonl``; mirror scalars to TensorBoard."""

    def __init__(
        self, run_dir: Path, tensorboard: bool = False, keep_bytes: int = 0, update: int = 0
    ) -> None:
        """Open the sinks, keeping the first ``keep_bytes`` of ``metrics.jsonl`` (a resume's)
        and dropping TensorBoard events after ``update``.

        A ``metrics.jsonl`` shorter than ``keep_bytes`` lost records the checkpoint counts
        (truncated, replaced or deleted): ``RunDirError``, before anything is written, rather
        than padding it with zero bytes."""
        path = run_dir / METRICS
        size = path.stat().st_size if path.is_file() else 0
        if size < keep_bytes:
            raise RunDirError(
                f"cannot resume: {path} has {size} bytes, fewer than the {keep_bytes} the "
                "checkpoint logged (it was truncated or replaced)"
            )
        self.file = path.open("ab")
        self.file.truncate(keep_bytes)
        self.writer = None
        if tensorboard:
            check_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            purge = update + 1 if update else None
            self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=purge)

    def log(self, record: dict[str, Any]) -> None:
        """Write one record (it must hold ``update``)."""
        self.file.write((json.dumps(record) + "\n").encode())
        self.file.flush()
        if self.writer is None:
            return
        step = record["update"]
        for key, space in _NAMESPACE.items():
            if key in record:
                self.writer.add_scalar(f"{space}/{key}", record[key], step)
        for stage, acc in record.get("eval", {}).items():
            self.writer.add_scalar(f"eval/T{stage}", acc, step)
        self.writer.add_scalar("charts/wall_s", record["wall_s"], step)

    def sync(self) -> int:
        """Make everything logged so far durable; return the length of ``metrics.jsonl``."""
        self.file.flush()
        os.fsync(self.file.fileno())
        if self.writer is not None:
            self.writer.flush()
        return self.file.tell()

    def close(self) -> None:
        """Flush and close every sink."""
        self.file.close()
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
