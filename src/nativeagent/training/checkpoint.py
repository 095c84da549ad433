"""Run directories: atomic writes, checkpoints as one dict, safe loading (no arbitrary pickles)."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from nativeagent.build import build_model
from nativeagent.config import Config, ConfigError, from_dict
from nativeagent.fileio import atomic_write_bytes
from nativeagent.rundir import CHECKPOINT, METRICS, RESULT, RunDirError, is_finished

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
        with warnings.catch_warnings():  # a damaged file's warnings (pickle protocol 75) are noise
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged pickle fails in any way (KeyError, IndexError, ...)
        raise RunDirError(
            f"cannot load checkpoint {path} (damaged, or not written by nativeagent): "
            f"{_load_failure(err)}"
        ) from None
    version = state.get("format") if isinstance(state, dict) else None
    if type(version) is not int or version != FORMAT_VERSION:  # (a tensor has no truth value)
        raise RunDirError(f"{path} is not a nativeagent checkpoint (format {FORMAT_VERSION})")
    return state


def _load_failure(err: Exception) -> str:
    """The line of ``torch.load``'s error that says what failed: its weights-only refusal opens
    with advice (load with ``weights_only=False``) that is wrong for a damaged file."""
    paragraphs = [" ".join(p.split()) for p in str(err).split("\n\n") if p.strip()]
    if len(paragraphs) > 1 and paragraphs[0].startswith("Weights only load failed"):
        return paragraphs[1]
    return paragraphs[0] if paragraphs else type(err).__name__


def read_result(run_dir: Path) -> dict[str, Any]:
    """``run_dir/result.json``, checked for ``RESULT_KEYS``."""
    path = run_dir / RESULT
    if not is_finished(run_dir):
        raise RunDirError(f"{run_dir} is not a finished nativeagent run (no {RESULT})")
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path} is not valid JSON") from None
    missing = [k for k in RESULT_KEYS if not isinstance(result, dict) or k not in result]
    if missing:
        raise RunDirError(f"{path} lacks {', '.join(missing)}")
    problem = _result_problem(result)
    if problem:
        raise RunDirError(f"{path}: {problem}")
    return result


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_interval(x: Any) -> bool:
    return isinstance(x, list) and len(x) == 2 and all(_is_number(v) for v in x)


def _result_problem(result: dict[str, Any]) -> str | None:
    """What in a ``result.json`` is not of the kind ``train`` writes (the key named), if any."""
    acc, interval = result["accuracy"], result["interval"]
    if not isinstance(acc, dict) or not acc:
        return "accuracy is not a table of stages"
    stages = [str(s) for s in range(len(acc))]
    if sorted(acc) != sorted(stages) or not all(_is_number(acc[s]) for s in stages):
        return f"accuracy is not a number for each of the stages 0..{len(acc) - 1}"
    if not isinstance(interval, dict) or not all(_is_interval(interval.get(s)) for s in stages):
        return f"interval is not [low, high] for each of the stages 0..{len(acc) - 1}"
    for key, least in (("eval_episodes", 1), ("updates", 0), ("episodes", 0)):
        value = result[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"{key} is not an int >= {least} (got {value!r})"
    if not isinstance(result["solved"], bool):
        return f"solved is not true or false (got {result['solved']!r})"
    if not _is_number(result["wall_s"]):
        return f"wall_s is not a number (got {result['wall_s']!r})"
    held = result.get("held_out")
    if held is not None and not (
        isinstance(held, dict)
        and _is_number(held.get("accuracy"))
        and _is_interval(held.get("interval"))
        and type(held.get("episodes")) is int
        and held["episodes"] >= 1
        and (held.get("optimality") is None or _is_number(held["optimality"]))
    ):
        return "held_out is not {accuracy, interval, episodes[, optimality]}"
    optimality = result.get("optimality", {})
    if not isinstance(optimality, dict) or not all(
        v is None or _is_number(v) for v in optimality.values()
    ):
        return "optimality is not a number (or null) per stage"
    return None


def load_policy(run_dir: Path, device: str = "cpu") -> tuple[torch.nn.Module, Config]:
    """Rebuild the trained model from a run directory's checkpoint and saved config (an
    export too: ``training.export.load_trained``)."""
    return policy_from_checkpoint(load_checkpoint(run_dir), run_dir, device)


def policy_from_checkpoint(
    state: dict[str, Any], run_dir: Path, device: str = "cpu"
) -> tuple[torch.nn.Module, Config]:
    """``load_policy`` from a checkpoint ``state`` already read from ``run_dir`` (so that a
    caller that needs more of it, such as its update, reads the file once)."""
    try:
        cfg = from_dict(state["config"])
    except (ConfigError, KeyError) as err:
        raise RunDirError(f"checkpoint in {run_dir} has an unusable config: {err}") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as err:
        detail = " ".join(str(err).split())  # load_state_dict's message has a line per problem
        raise RunDirError(f"checkpoint in {run_dir} does not fit its model: {detail}") from None
    check_finite(run_dir, named_weights(model))
    return model.to(device).eval(), cfg


def named_weights(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """``model``'s saved tensors, named as ``check_finite``'s message shows them."""
    return (("model " + name, t) for name, t in model.state_dict().items())


def check_finite(run_dir: Path, tensors: Iterable[tuple[str, object]]) -> None:
    """``RunDirError`` naming the first of the checkpoint's ``(name, tensor)`` that holds a NaN
    or infinity: training stops before it would save one, so the file is damaged."""
    for name, t in tensors:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(t.isfinite().all()):
            raise RunDirError(
                f"checkpoint in {run_dir} holds a NaN or infinity in {name}, which training "
                "never saves: the file is damaged"
            )


__all__ = [
    "CHECKPOINT",
    "FORMAT_VERSION",
    "METRICS",
    "RESULT",
    "RESULT_KEYS",
    "RunDirError",
    "check_finite",
    "load_checkpoint",
    "load_policy",
    "named_weights",
    "policy_from_checkpoint",
    "read_result",
    "save_checkpoint",
]
