"""Runs that have not finished: stopped dead half-way through training, as a killed
``nativeagent train`` leaves them, or held by another process that is training them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nativeagent.config import Config

#: Run with ``python -c HOLD_LOCK RUN``: holds RUN's lock, as a live trainer does, until stdin
#: closes (it prints "locked" once it holds it).
HOLD_LOCK = """
import sys
from pathlib import Path
from nativeagent.runlock import run_lock
with run_lock(Path(sys.argv[1]), command="nativeagent train --out run"):
    print("locked", flush=True)
    sys.stdin.read()
"""


class Killed(BaseException):
    """Stands in for SIGKILL inside the process (nothing after it runs)."""


def killed_run(cfg: Config, out: Path, at_checkpoint: int) -> None:
    """Train ``cfg`` into ``out`` and stop it dead while it writes its ``at_checkpoint``-th
    checkpoint (the first is at update 0): the one before stays, and there is no result.json."""
    import nativeagent.training.train as train_module

    real_save, calls = train_module.save_checkpoint, []

    def dies(path: Path, state: dict[str, Any]) -> None:
        calls.append(state["update"])
        if len(calls) == at_checkpoint:
            raise Killed
        real_save(path, state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "save_checkpoint", dies)
        with pytest.raises(Killed):
            train_module.train(cfg, out)
