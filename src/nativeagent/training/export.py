"""Shareable agents: a run exported as ``model.safetensors``, ``config.json`` and a model card.

The layout is the one ``huggingface_hub``'s ``PyTorchModelHubMixin`` reads and writes (see
``nativeagent.hub``), so an export can go to a hub as it is, by the user's explicit choice only.
Loading reads tensors with ``safetensors`` and the configuration as JSON: nothing is unpickled.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import tomli_w
import torch

from nativeagent.build import build_model, build_task_set
from nativeagent.config import Config, ConfigError, from_dict
from nativeagent.fileio import staged_directory
from nativeagent.machine.tools import profile
from nativeagent.rundir import RunDirError
from nativeagent.training.checkpoint import (
    load_checkpoint,
    load_policy,
    policy_from_checkpoint,
    read_result,
)
from nativeagent.training.evaluate import StageAccuracy, stage_rows

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
MODEL_CARD = "README.md"
#: ``config.json``'s ``format``: what tells an export from any other ``config.json``.
FORMAT = "nativeagent-export"
FORMAT_VERSION = 1
#: Expressions a model card's stage row lists before it says how many more there are.
LISTED = 6


class ExportedAgent(torch.nn.Module):
    """An export's policy as one module: built from ``config.json``'s content, weights
    ``policy.*``. ``nativeagent.hub.HubAgent`` adds the hub mixin to it."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.run_config = export_config(config)
        self.policy = build_model(self.run_config)


def is_export(path: Path) -> bool:
    """Whether ``path`` is a directory holding an export's weights."""
    return (path / WEIGHTS).is_file()


def export_config(content: object) -> Config:
    """The run configuration in an export's ``config.json`` content (``RunDirError`` if not)."""
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise RunDirError(f"{CONFIG} is not a nativeagent export's (no format {FORMAT!r})")
    if content.get("format_version") != FORMAT_VERSION:
        raise RunDirError(
            f"{CONFIG} has export format version {content.get('format_version')!r}; "
            f"this nativeagent reads version {FORMAT_VERSION}"
        )
    try:
        return from_dict(content["run_config"])
    except (ConfigError, KeyError, TypeError) as err:
        raise RunDirError(f"{CONFIG} holds an unusable config: {err}") from None


def read_export(path: Path) -> dict[str, Any]:
    """The content of ``path/config.json``, checked to be an export's."""
    file = path / CONFIG
    try:
        content = json.loads(file.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} has {WEIGHTS} but no {CONFIG}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{file} is not valid JSON: {err}") from None
    export_config(content)
    return content


def load_export(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, Config]:
    """The policy of the export in ``path`` (safetensors, no pickle) and its run config."""
    return _export_policy(path, read_export(path), device)


def _export_policy(
    path: Path, content: dict[str, Any], device: str
) -> tuple[torch.nn.Module, Config]:
    """``load_export`` from the export's ``config.json`` ``content``, already read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    agent = ExportedAgent(content)
    try:
        load_model(agent, str(path / WEIGHTS), strict=True, device=device)
    except (SafetensorError, RuntimeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunDirError(f"cannot load {path / WEIGHTS}: {first}") from None
    return agent.policy.to(device).eval(), agent.run_config


def load_trained(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, Config]:
    """The trained policy and config of an export or of a run directory (its checkpoint)."""
    model, cfg, _ = load_trained_at(path, device)
    return model, cfg


def load_trained_at(
    path: Path, device: str = "cpu"
) -> tuple[torch.nn.Module, Config, int | None]:
    """``load_trained`` and the update its weights are from: a run directory's checkpoint's
    (read once, so the two agree), an export's run's last (None where it is not recorded)."""
    if is_export(path):
        content = read_export(path)
        result = content.get("result")
        update = result.get("updates") if isinstance(result, dict) else None
        return (*_export_policy(path, content, device), update)
    state = load_checkpoint(path)
    return (*policy_from_checkpoint(state, path, device), state.get("update"))


def _listed(expressions: list[str]) -> str:
    shown = ", ".join(f"`{e}`" for e in expressions[:LISTED])
    more = len(expressions) - LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def model_card(content: dict[str, Any]) -> str:
    """The export's ``README.md``: task set, machine, accuracy per stage with 95% intervals,
    and the command that trained it."""
    import jinja2

    cfg = export_config(content)
    result, tasks = content["result"], build_task_set(cfg)
    if len(result["accuracy"]) != tasks.n_stages:
        raise RunDirError(
            f"result.json has accuracy for {len(result['accuracy'])} stages, but the run has "
            f"{tasks.n_stages}"
        )
    first = tasks.stages[0][0]
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("nativeagent.training").joinpath(f"templates/{name}").read_text()
            )
        ),
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    tools = profile(cfg.machine.name).tools
    return env.get_template("model_card.md.j2").render(
        version=version("nativeagent"),
        machine=cfg.machine.name,
        model_kind=cfg.model.kind,
        tools=[t.name for t in tools],
        stages=[
            {"name": s, "expressions": _listed([t.expression for t in stage])}
            for s, stage in enumerate(tasks.stages)
        ],
        held_out=_listed([t.expression for t in tasks.held_out]) if tasks.held_out else "",
        show_expression=cfg.task.show_expression,
        max_steps=cfg.max_steps,
        episodes=result["eval_episodes"],
        accuracy=stage_rows(StageAccuracy.from_result(result, held_out=True), cfg),
        mastery=cfg.curriculum.mastery,
        solved=result["solved"],
        updates=result["updates"],
        episodes_trained=result["episodes"],
        wall_s=result["wall_s"],
        device=result.get("device", "an unrecorded device"),
        torch=result.get("torch", "(unrecorded)"),
        threads=result.get("threads", "?"),
        seed=result.get("seed", cfg.train.seed),
        command=content.get("command"),
        config_toml=tomli_w.dumps(cfg.to_dict()),
        example_task=first.expression if cfg.task.show_expression else 0,
        example_digits=list(range(1, first.n_operands + 1)),
    )


def export_run(run_dir: Path, out: Path, overwrite: bool = False) -> Path:
    """Write the finished run in ``run_dir`` as an export into ``out``, all or nothing.

    The files are written into a fresh directory beside ``out`` and moved into place at the
    end (``fileio.staged_directory``), so an interrupted export leaves no half-written one.
    ``out`` must not exist or be an empty directory; ``overwrite`` replaces an earlier export
    there, and nothing else (a run, or any other files, is never deleted).
    """
    from safetensors.torch import save_model

    result = read_result(run_dir)
    if is_export(run_dir):
        raise RunDirError(f"{run_dir} is already an export; copy it instead")
    model, cfg = load_policy(run_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if out.resolve() == run_dir.resolve() or out.resolve() in run_dir.resolve().parents:
        raise FileExistsError(f"{out} holds the run {run_dir}; export into another directory")
    if out.is_dir() and any(out.iterdir()):
        if not is_export(out):  # never delete what is not an export, even with --overwrite
            raise FileExistsError(f"{out} is not empty and not an export; pick another OUT")
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pick another OUT or pass --overwrite")
    content = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_config": cfg.to_dict(),  # not "config": the hub mixin passes that name to __init__
        "result": result,
        "command": result.get("command"),
    }
    agent = ExportedAgent(content)
    agent.policy.load_state_dict(model.state_dict())
    card = model_card(content)
    with staged_directory(out) as staging:
        save_model(agent, str(staging / WEIGHTS), metadata={"format": FORMAT})
        (staging / CONFIG).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        (staging / MODEL_CARD).write_text(card)
    return out


__all__ = [
    "CONFIG",
    "FORMAT",
    "MODEL_CARD",
    "WEIGHTS",
    "ExportedAgent",
    "export_config",
    "export_run",
    "is_export",
    "load_export",
    "load_trained",
    "load_trained_at",
    "model_card",
    "read_export",
]
