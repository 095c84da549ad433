"""From a configuration to the objects a run uses: machine, task set, model and algorithm.

The one place that reads a ``Config`` on behalf of the lower layers, so that machines, tasks,
models and algorithms never import the configuration module.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache

import torch

from nativeagent.algos import (
    A2C,
    GRPO,
    PPO,
    A2CLossWeights,
    Algorithm,
    GRPOSettings,
    PPOSettings,
    Tutorial,
)
from nativeagent.config import Config, ConfigError
from nativeagent.machine import observation
from nativeagent.machine.base import BatchedMachine
from nativeagent.machine.batched import Shaping
from nativeagent.machine.machines import make_machine
from nativeagent.machine.tools import profile
from nativeagent.models import make_model
from nativeagent.tasks.generate import TaskSpecError, curriculum_stages
from nativeagent.tasks.split import split_held_out
from nativeagent.tasks.taskset import TaskSet


def build_machine(
    cfg: Config, shaping: bool = True, name: str | None = None, max_steps: int | None = None
) -> BatchedMachine:
    """The batched machine of the run (``shaping=False``: without reward shaping, for
    evaluation, where only correctness counts), showing the run's agent what it observes;
    ``name`` and ``max_steps`` replace the run's machine and step limit (to evaluate on other
    expressions)."""
    m = cfg.machine
    shape = Shaping(m.partial_reward, m.process_reward) if shaping else None
    steps = cfg.max_steps if max_steps is None else max_steps
    return make_machine(name or m.name, steps, shape, cfg.decode.observe_unused)


def build_task_set(cfg: Config) -> TaskSet:
    """The task set a configuration asks for; ``ConfigError`` names a key that cannot work.

    Every expression must be computable within ``machine.max_steps`` tools (else no policy can
    master it); the result is cached, since the solver runs once per expression.
    """
    key = json.dumps(dataclasses.asdict(cfg.task), sort_keys=True)
    return _task_set(key, cfg.machine.name, cfg.max_steps)


@lru_cache(maxsize=16)
def _task_set(task_json: str, machine: str, max_steps: int) -> TaskSet:
    t = json.loads(task_json)
    try:
        stages, extra = curriculum_stages(
            t["curriculum"], t["all_reachable"], t["held_out_expressions"], machine, max_steps
        )
    except TaskSpecError as err:
        raise ConfigError(str(err)) from None
    kept, held = split_held_out(stages, t["held_out"], t["split_seed"])
    signed = t["sign_operators"]
    return TaskSet(kept, held + extra, t["show_expression"], machine, max_steps, signed)


def build_model(cfg: Config) -> torch.nn.Module:
    """The policy a configuration asks for, sized for its task set and vocabulary (fresh
    weights from the global RNG; see ``training.train.init_model`` for a seeded one)."""
    m = cfg.model
    n_tasks = 0 if cfg.task.show_expression else len(build_task_set(cfg).tasks)
    tools = profile(cfg.machine.name)
    d = cfg.decode
    n_obs = observation.size(tools, d.observe_unused) if d.observe else 0
    return make_model(
        m.kind,
        m.d_model,
        m.n_layers,
        m.n_heads,
        n_tasks,
        m.encoder,
        tools.vocab_size,
        n_obs,
        m.positions,
        cfg.task.show_signs,
        d.window,
        m.relative_span,
        d.operator_window,
    )


def build_algorithm(cfg: Config) -> Algorithm:
    """The algorithm named by ``cfg.algo.name``, with its settings from ``cfg``."""
    a = cfg.algo
    assert a.lr is not None and a.entropy_coef is not None  # filled in by Config
    if a.name in ("a2c", "tutorial"):
        weights = A2CLossWeights(
            a.value_coef, a.entropy_coef, a.gamma, a.gae_lambda, a.normalize_advantages
        )
        return (A2C if a.name == "a2c" else Tutorial)(weights, a.max_grad_norm)
    if a.name == "ppo":
        p = cfg.ppo
        return PPO(
            PPOSettings(
                p.epochs,
                p.minibatches,
                p.clip_coef,
                p.clip_value,
                p.value_clip_coef,
                p.normalize_advantages,
                a.value_coef,
                a.entropy_coef,
                a.gamma,
                p.gae_lambda,
                a.max_grad_norm,
            )
        )
    g = cfg.grpo
    return GRPO(GRPOSettings(g.group_size, g.epochs, g.clip_coef, a.entropy_coef, a.max_grad_norm))


__all__ = ["build_algorithm", "build_machine", "build_model", "build_task_set"]
