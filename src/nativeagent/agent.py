"""The Python API: configure, train, load and use an agent without the command line.

>>> import nativeagent
>>> cfg = nativeagent.load_config(preset="default", overrides={"train.max_updates": 20})
>>> cfg.train.max_updates, cfg.machine.name
(20, 'canonical')

``nativeagent.train(cfg, out=DIR)`` trains into ``DIR`` and returns its ``TrainResult``;
``nativeagent.load(DIR)`` (a run directory or an export) returns an ``Agent``, whose ``solve``
writes and runs one program and whose ``evaluate`` gives greedy accuracy with 95% intervals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nativeagent.errors import RunDirError

if TYPE_CHECKING:
    import torch

    from nativeagent.config import Config
    from nativeagent.tasks.task import Task
    from nativeagent.tasks.taskset import TaskSet
    from nativeagent.training.evaluate import StageAccuracy
    from nativeagent.training.explain import Explanation
    from nativeagent.training.expressions import ExpressionsAccuracy


def load_config(
    preset: str = "default",
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    file: str | Path | None = None,
) -> Config:
    """A validated configuration: ``preset``, then the TOML ``file``, then ``overrides``.

    ``overrides`` maps dotted keys to values (``{"train.seed": 3, "algo.name": "ppo"}``) or
    lists ``"key=value"`` strings as ``nativeagent train --set`` takes them. ``ConfigError``
    names a bad key.
    """
    from nativeagent.config import load_config as load

    if isinstance(overrides, Mapping):
        texts = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    else:
        texts = list(overrides or [])
    return load(Path(file) if file is not None else None, preset, texts)


@dataclass(frozen=True)
class TrainResult:
    """What a training run ended with: its ``result.json``, with the main fields at hand."""

    run_dir: Path
    accuracy: dict[str, float]  # greedy accuracy per stage, 1,000 fresh episodes each
    solved: bool
    updates: int
    episodes: int
    wall_s: float
    data: dict[str, Any] = field(repr=False)  # the whole result.json

    def load(self, device: str = "cpu") -> Agent:
        """The trained agent."""
        return load(self.run_dir, device)


def train(
    cfg: Config | None = None,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> TrainResult:
    """Train an agent with ``cfg`` (default: the default config) into the run directory
    ``out`` (default: a fresh ``runs/api-...`` one); returns the result.

    A directory that already holds a run is an error unless ``overwrite``. ``progress`` prints
    the periodic evaluation lines as ``nativeagent train`` does.
    """
    import time

    from nativeagent.rundir import CHECKPOINT, RESULT
    from nativeagent.training.metrics_log import eval_line
    from nativeagent.training.train import resolve_device
    from nativeagent.training.train import train as run_training

    cfg = cfg if cfg is not None else load_config()
    resolve_device(cfg.train.device)
    run_dir = Path(out) if out is not None else Path("runs") / time.strftime("api-%Y%m%d-%H%M%S")
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a directory")
    if not overwrite and ((run_dir / RESULT).exists() or (run_dir / CHECKPOINT).exists()):
        raise FileExistsError(f"{run_dir} already holds a run; pick another out or overwrite=True")

    def report(r: dict[str, Any]) -> None:
        if "eval" in r:
            print(eval_line(r))

    data = run_training(cfg, run_dir, report if progress else None)
    return TrainResult(
        run_dir,
        data["accuracy"],
        data["solved"],
        data["updates"],
        data["episodes"],
        data["wall_s"],
        data,
    )


def load(path: str | Path, device: str = "cpu") -> Agent:
    """The agent in a run directory (its checkpoint) or an export (``nativeagent export``);
    loading never unpickles anything but tensors (exports: nothing at all)."""
    from nativeagent.training.export import load_trained
    from nativeagent.training.train import resolve_device

    where = Path(path)
    if not where.exists():
        raise RunDirError(f"{where} does not exist")
    dev = resolve_device(device)
    model, cfg = load_trained(where, str(dev))
    return Agent(model, cfg, where)


@dataclass(frozen=True)
class Solution:
    """One task solved by an agent: its greedy program and what the machine made of it."""

    task: str  # the expression
    digits: tuple[int, ...]
    program: tuple[str, ...]  # tool names, up to and including the last one run
    answer: int | None
    target: int
    correct: bool
    trace: str  # the machine's register trace, as ``explain`` prints it

    def __str__(self) -> str:
        ctx = " ".join(map(str, self.digits))
        return f"{self.task} ctx=[{ctx}] target={self.target} | {self.trace}"


class Agent:
    """A trained policy with the configuration it was trained with."""

    def __init__(self, model: torch.nn.Module, config: Config, source: Path | None = None) -> None:
        self.model, self.config, self.source = model, config, source

    def __repr__(self) -> str:
        c = self.config
        return f"Agent({c.model.kind} on {c.machine.name}, {self.tasks.n_stages} stages)"

    @property
    def tasks(self) -> TaskSet:
        """The task set it was trained on (with its held-out tasks)."""
        from nativeagent.build import build_task_set

        return build_task_set(self.config)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _generator(self, seed: int) -> torch.Generator:
        import torch

        return torch.Generator(device=self.device).manual_seed(seed)

    def _task(self, task: int | str | Task) -> tuple[TaskSet, int, bool]:
        """The task set that holds ``task``, its index there, and whether that set is not the
        agent's own (an expression it never trained on)."""
        from nativeagent.tasks.task import HELD_OUT, Task
        from nativeagent.training.expressions import expression_task_set

        tasks = self.tasks
        if isinstance(task, bool) or not isinstance(task, (int, str, Task)):
            raise ValueError(f"task must be a stage number or an expression, got {task!r}")
        if isinstance(task, int):
            if task not in tasks.groups:
                raise ValueError(f"stage must be one of {tasks.groups} for this agent, got {task}")
            ids = list(tasks.stage_tasks(task))
            if len(ids) > 1:
                what = "the held-out group" if task == HELD_OUT else f"stage {task}"
                raise ValueError(f"{what} has {len(ids)} expressions; give the expression to solve")
            return tasks, ids[0], False
        parsed = Task.parse(task) if isinstance(task, str) else task
        found = tasks.find(parsed)
        if found is not None:
            return tasks, found, False
        if not self.config.task.show_expression:
            raise ValueError(
                f"{parsed.expression} is not one of this agent's tasks, and it does not read the "
                "expression (task.show_expression is false), so it cannot be given another"
            )
        return expression_task_set(self.config, [parsed], self.config.machine.name), 0, True

    def solve(self, task: int | str | Task, digits: Sequence[int]) -> Solution:
        """Write a program for ``task`` (a stage number, or an expression such as ``"a*b+c"``)
        over ``digits`` greedily, and run it on the machine.

        An expression outside the agent's task set needs an agent that reads the expression
        (``task.show_expression``); longer ones get the step limit ``eval --expressions``
        uses.
        """
        import torch

        from nativeagent.build import build_machine
        from nativeagent.rollout import rollout
        from nativeagent.tasks.execution import check_context
        from nativeagent.tokens import name
        from nativeagent.training.evaluate import decode_tokens
        from nativeagent.training.explain import explanations
        from nativeagent.training.expressions import decode_limit

        task_set, index, foreign = self._task(task)
        chosen = task_set.tasks[index]
        digits = check_context(digits, chosen, f"task {chosen.expression}")
        cfg = self.config
        batch = task_set.episode(index, digits, self.device)
        max_steps = task_set.max_steps or cfg.max_steps
        machine = build_machine(cfg, shaping=False, max_steps=max_steps)
        n_tokens = decode_limit(cfg, task_set.width) if foreign else decode_tokens(cfg)
        with torch.no_grad():
            ro = rollout(
                self.model,
                machine,
                batch,
                n_tokens,
                greedy=True,
                masked=cfg.decode.mode == "closed",
            )
        (e,) = explanations(task_set, batch, ro, cfg.machine.name, max_steps)
        program = tuple(name(t) for t in e.program)
        return Solution(e.expression, e.context, program, e.answer, e.target, e.correct, e.trace)

    def evaluate(self, episodes: int = 1000, seed: int = 2024) -> dict[int, StageAccuracy]:
        """Greedy accuracy per stage (and ``-1``, the held-out tasks) on ``episodes`` fresh
        contexts each, with 95% Wilson intervals: what ``nativeagent eval`` prints."""
        from nativeagent.training.evaluate import evaluate

        self.model.eval()
        return evaluate(self.model, self.config, episodes, self._generator(seed), held_out=True)

    def evaluate_expressions(
        self,
        expressions: Iterable[str],
        episodes: int = 1000,
        seed: int = 2024,
        machine: str | None = None,
        max_steps: int | None = None,
    ) -> ExpressionsAccuracy:
        """Greedy accuracy on any expressions, ``episodes`` in all (``nativeagent eval
        --expressions``); needs an agent that reads the expression."""
        from nativeagent.training.expressions import evaluate_expressions, expressions_to_evaluate

        texts = list(expressions)
        tasks, name, limit = expressions_to_evaluate(self.config, texts, machine, max_steps)
        gen = self._generator(seed)
        return evaluate_expressions(self.model, self.config, tasks, episodes, gen, name, limit)

    def explain(self, stage: int = 0, n: int = 5, seed: int = 7) -> list[Explanation]:
        """Greedy programs with the machine's register trace on ``n`` fresh contexts of
        ``stage`` (``-1``: held-out tasks), as ``nativeagent explain`` prints them."""
        from nativeagent.training.explain import explain

        if stage not in self.tasks.groups:
            raise ValueError(f"stage must be one of {self.tasks.groups}, got {stage}")
        return explain(self.model, self.config, stage, n, self._generator(seed))

    def export(self, out: str | Path, overwrite: bool = False) -> Path:
        """Write this agent's run as a shareable export (``nativeagent export``)."""
        from nativeagent.training.export import export_run, is_export

        if self.source is None or is_export(self.source):
            raise RunDirError("only an agent loaded from a run directory can be exported")
        return export_run(self.source, Path(out), overwrite)


__all__ = ["Agent", "Solution", "TrainResult", "load", "load_config", "train"]
