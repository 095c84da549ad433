"""Greedy accuracy of a trained agent on any set of expressions, not just its own task set.

Only an agent that reads the expression (``task.show_expression``) can be asked about others:
without it, nothing tells the agent which expression it has. Longer expressions than the run
trained on get a proportionally larger step limit (``step_limit``), and a machine whose
vocabulary extends the run's (``extended`` for a ``canonical`` run) may run the agent, the new
tools masked off (an agent that observes the machine, ``decode.observe``, sees the features
it was trained on, which the new cells leave unchanged as long as it cannot use them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any

import torch

from nativeagent.build import build_machine, build_task_set
from nativeagent.config import Config
from nativeagent.machine import observation
from nativeagent.machine.tools import LEGACY, check_machine, profile
from nativeagent.models import Policy, observes, reads_cursor
from nativeagent.rollout import Rollout, model_step, rollout
from nativeagent.stats import wilson_interval
from nativeagent.tasks.generate import check_computable, parse_expressions
from nativeagent.tasks.task import Task
from nativeagent.tasks.taskset import Batch, TaskSet

#: The logit of a tool the run's model has never seen: below the rollout's mask of illegal
#: ones, so that it is never chosen, not even when no tool the model knows is legal.
_UNKNOWN_TOOL = -1e10
#: Episodes decoded at once (bounds memory; the result does not depend on it but for the draw).
_CHUNK = 8192


def step_limit(cfg: Config, n_operands: int, max_steps: int | None = None) -> int:
    """The step limit for expressions of up to ``n_operands`` operands: the run's own
    ``machine.max_steps``, scaled by how many more operands they have than the longest
    expression of the run's task set, ``max(max_steps, ceil(max_steps * n / trained))``.

    Closed-loop decoding decodes that many tokens, and the solver checks the expressions
    within it. ``max_steps``, when given, is the limit instead (the solver's search grows fast
    with the limit: 6-operand expressions on ``extended`` within 18 tools take hours).
    """
    if max_steps is not None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        return max_steps
    return _scaled(cfg.max_steps, cfg, n_operands)


def _scaled(limit: int, cfg: Config, n_operands: int) -> int:
    """``limit`` grown in proportion to ``n_operands`` over the run's longest expression."""
    trained = build_task_set(cfg).width
    return max(limit, ceil(limit * n_operands / trained))


def decode_limit(cfg: Config, n_operands: int, max_steps: int | None = None) -> int:
    """Tokens decoded per episode: ``step_limit`` closed loop; open loop, ``open_tokens``
    scaled the same way."""
    if cfg.decode.mode == "closed":
        return step_limit(cfg, n_operands, max_steps)
    return _scaled(cfg.decode.open_tokens, cfg, n_operands)


def check_machine_for(cfg: Config, machine: str | None = None) -> str:
    """The machine to evaluate the run of ``cfg`` on (default: its own), or ``ValueError``
    saying why its agent cannot be evaluated on other expressions or on that machine."""
    own = cfg.machine.name
    target = own if machine is None else check_machine(machine)
    if LEGACY in (own, target):
        raise ValueError(
            f"runs on machine {LEGACY!r} can be evaluated only on their own stages "
            f"(run's machine {own!r}, asked for {target!r})"
        )
    if not cfg.task.show_expression:
        raise ValueError(
            "this run's agent does not read the expression (task.show_expression is false), so it "
            "would not know which expression it has: only runs trained with "
            "task.show_expression = true can be evaluated on other expressions"
        )
    if target != own:
        mine, other = profile(own).vocabulary, profile(target).vocabulary
        if any(other.get(token) != name for token, name in mine.items()):
            raise ValueError(
                f"machine {target!r} does not extend the run's machine {own!r}: its vocabulary "
                f"lacks or renames some of the run's tokens"
            )
        # every feature the run's agent observes exists there
        _observed_columns(own, target, cfg.decode.observe_unused)
    return target


def expressions_to_evaluate(
    cfg: Config, texts: Sequence[str], machine: str | None = None, max_steps: int | None = None
) -> tuple[list[Task], str, int]:
    """The tasks of ``texts``, the machine to run the run's agent on and the step limit, all
    checked (``ValueError``: the run cannot be evaluated so, or some expression is malformed or
    not computable within the limit)."""
    name = check_machine_for(cfg, machine)
    tasks = parse_expressions(texts)
    limit = step_limit(cfg, max(t.n_operands for t in tasks), max_steps)
    check_computable(tasks, name, limit)
    return tasks, name, limit


def _observed_columns(own: str, target: str, unused: bool = False) -> list[int]:
    """Where each observation feature of machine ``own`` is among those of ``target`` (with the
    cells' ``unused`` features, ``decode.observe_unused``)."""
    mine = observation.names(profile(own), unused)
    theirs = {name: i for i, name in enumerate(observation.names(profile(target), unused))}
    missing = [name for name in mine if name not in theirs]
    if missing:
        raise ValueError(
            f"machine {target!r} lacks the state features {', '.join(missing)} that agents of "
            f"the run's machine {own!r} observe (decode.observe)"
        )
    return [theirs[name] for name in mine]


class _ForeignMachinePolicy:
    """The run's policy on a machine whose vocabulary extends its own: logits padded with the
    new tools, which it never chooses, and (when it observes) the machine's state shown as the
    features of the run's machine."""

    def __init__(self, model: Policy, cfg: Config, target: str) -> None:
        self.model, self.vocab_size = model, profile(target).vocab_size
        self.observes, self.reads_cursor = observes(model), reads_cursor(model)
        columns = _observed_columns(cfg.machine.name, target, cfg.decode.observe_unused)
        self.columns = torch.tensor(columns) if self.observes else None

    def start(self, batch: Batch) -> tuple[Any, torch.Tensor]:
        return self.model.start(batch)

    def step(
        self,
        state: Any,
        token: torch.Tensor,
        obs: torch.Tensor | None = None,
        cursor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        if obs is not None:
            assert self.columns is not None
            obs = obs.index_select(1, self.columns.to(obs.device))
        logits, value, state = model_step(self.model, state, token, obs, cursor)
        pad = self.vocab_size - logits.shape[-1]
        return torch.nn.functional.pad(logits, (0, pad), value=_UNKNOWN_TOOL), value, state


@dataclass(frozen=True)
class ExpressionsAccuracy:
    """Greedy accuracy on an expression set, overall with its 95% Wilson interval, and per
    expression ``(expression, correct, episodes)`` in the set's order."""

    correct: int
    episodes: int
    low: float
    high: float
    per_expression: tuple[tuple[str, int, int], ...]
    machine: str
    max_steps: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.episodes

    def worst(self, k: int) -> list[tuple[str, int, int]]:
        """The ``k`` expressions of lowest accuracy (ties: in the set's order)."""
        return sorted(self.per_expression, key=lambda e: e[1] / e[2])[:k]

    def to_json(self) -> dict[str, Any]:
        """What ``nativeagent eval --json`` prints for an expression set."""
        return {
            "overall": {
                "accuracy": self.accuracy,
                "interval": [self.low, self.high],
                "episodes": self.episodes,
            },
            "expressions": {
                e: {"accuracy": k / n, "episodes": n} for e, k, n in self.per_expression
            },
            "machine": self.machine,
            "max_steps": self.max_steps,
        }


def expression_task_set(
    cfg: Config, tasks: Sequence[Task], machine: str, max_steps: int | None = None
) -> TaskSet:
    """A task set of one stage, ``tasks``, read as the run reads its own (``show_expression``),
    on ``machine`` with the step limit of the longest of them."""
    limit = step_limit(cfg, max(t.n_operands for t in tasks), max_steps)
    return TaskSet(
        [tasks],
        show_expression=cfg.task.show_expression,
        machine=machine,
        max_steps=limit,
        sign_operators=cfg.task.sign_operators,
    )


@torch.no_grad()
def expression_rollouts(
    model: Policy,
    cfg: Config,
    tasks: Sequence[Task],
    episodes: int,
    generator: torch.Generator,
    machine: str | None = None,
    max_steps: int | None = None,
) -> tuple[TaskSet, list[tuple[Batch, Rollout]]]:
    """Greedy episodes of the run's agent on ``tasks``, ``episodes`` in all, each expression
    in turn, with fresh digits from ``generator``; the task set they index and the decoded
    chunks. See ``evaluate_expressions``."""
    name = check_machine_for(cfg, machine)
    if not tasks:
        raise ValueError("no expression to evaluate on")
    if episodes < len(tasks):
        raise ValueError(
            f"{episodes} episodes cannot cover {len(tasks)} expressions: give at least "
            f"{len(tasks)} (the episodes are spread over the expressions in turn)"
        )
    task_set = expression_task_set(cfg, tasks, name, max_steps)
    assert task_set.max_steps is not None
    n_tokens = decode_limit(cfg, task_set.width, max_steps)
    if name != cfg.machine.name:
        model = _ForeignMachinePolicy(model, cfg, name)
    ids = task_set.in_turn(0, episodes).to(generator.device)
    bench = build_machine(cfg, shaping=False, name=name, max_steps=task_set.max_steps)
    masked = cfg.decode.mode == "closed"
    out = []
    for chunk in ids.split(_CHUNK):
        batch = task_set.sample_tasks(chunk, generator)
        out.append((batch, rollout(model, bench, batch, n_tokens, greedy=True, masked=masked)))
    return task_set, out


def evaluate_expressions(
    model: Policy,
    cfg: Config,
    tasks: Sequence[Task],
    episodes: int,
    generator: torch.Generator,
    machine: str | None = None,
    max_steps: int | None = None,
) -> ExpressionsAccuracy:
    """Greedy accuracy of the run's agent (``model`` and its ``cfg``) on ``tasks``.

    ``episodes`` in all, each expression in turn (so each gets ``episodes // len(tasks)`` or
    one more), fresh uniform digits from ``generator``, decoded as the run decodes, with the
    step limit ``step_limit`` gives for the longest expression. ``machine`` (default: the
    run's) may be another whose vocabulary extends the run's; its new tools are never chosen.
    ``ValueError`` when the run cannot be evaluated so: its agent does not read the expression
    (``task.show_expression``), it runs on ``seed-legacy``, or the machine does not fit.
    ``max_steps`` replaces the raised step limit (see ``step_limit``).
    """
    task_set, chunks = expression_rollouts(
        model, cfg, tasks, episodes, generator, machine, max_steps
    )
    task = torch.cat([b.task for b, _ in chunks])
    correct = torch.cat([ro.correct for _, ro in chunks])
    k = int(correct.sum())
    per = tuple(
        (t.expression, int(correct[task == i].sum()), int((task == i).sum()))
        for i, t in enumerate(task_set.tasks)
    )
    assert task_set.max_steps is not None
    return ExpressionsAccuracy(
        k, episodes, *wilson_interval(k, episodes), per, task_set.machine, task_set.max_steps
    )


__all__ = [
    "ExpressionsAccuracy",
    "check_machine_for",
    "decode_limit",
    "evaluate_expressions",
    "expression_rollouts",
    "expression_task_set",
    "expressions_to_evaluate",
    "step_limit",
]
