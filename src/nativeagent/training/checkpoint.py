"""Run directories: atomic writes, checkpoints as one dict, safe loading (no arbitrary pickles)."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch

from nativeagent.build import build_model
from nativeagent.config import Config, ConfigError, from_dict
from nativeagent.fileio import atomic_write_bytes
from nativeagent.rundir import CHECKPOINT, METRICS, RESULT, RunDirError

FORMAT_VERSION = 1
#: What every ``result.json`` holds (and the report and the model card show).
RESULT_KEYS = ("accuracy", "interval", "eval_episodes", "solved", "updates", "episodes", "wall_s")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically save a checkpoint dict (tensors, numbers, strings, lists and dicts only)."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """Load ``run_dir``'s checkpoint with ``weights_only=True``: no arbitrary objects unpickled."""
    path = run_dir / CHECKPOINT if run_dir.is_dir() else run_dir
    if not path.exists():
        raise RunDirError(f"no checkpoint at {path} (is {run_dir} a nativeagent run directory?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunDirError(f"cannot load checkpoint {path}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise RunDirError(f"{path} is not a nativeagent checkpoint (format {FORMAT_VERSION})")
    return state


def read_result(run_dir: Path) -> dict[str, Any]:
    """``run_dir/result.json``, checked for ``RESULT_KEYS``."""
    path = run_dir / RESULT
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a finished nativeagent run (no {RESULT})")
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path} is not valid JSON") from None
    missing = [k for k in RESULT_KEYS if not isinstance(result, dict) or k not in result]
    if missing:
        raise RunDirError(f"{path} lacks {', '.join(missing)}")
    return result


def load_policy(run_dir: Path, device: str = "cpu") -> tuple[torch.nn.Module, Config]:
    """Rebuild the trained model from a run directory's checkpoint and saved config (an
    export too: ``training.export.load_trained``)."""
    state = load_checkpoint(run_dir)
    try:
        cfg = from_dict(state["config"])
    except (ConfigError, KeyError) as err:
        raise RunDirError(f"checkpoint in {run_dir} has an unusable config: {err}") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise RunDirError(f"checkpoint in {run_dir} does not fit its model: {err}") from None
    return model.to(device).eval(), cfg


__all__ = [
    "CHECKPOINT",
    "FORMAT_VERSION",
    "METRICS",
    "RESULT",
    "RESULT_KEYS",
    "RunDirError",
    "load_checkpoint",
    "load_policy",
    "read_result",
    "save_checkpoint",
]
