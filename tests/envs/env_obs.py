"""Reading the Gym environments' observations back, independently of their encoder, and the
reference machine's verdict on an episode read from one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nativeagent import execute
from nativeagent.envs.tool_machine import EnvSettings
from nativeagent.machine.outcome import Outcome
from nativeagent.tasks import Task
from nativeagent.tasks.expression import OP_TOKENS

#: A prompt slot's symbols in order: the digits, then the operator tokens.
ALPHABET = [*range(10), *OP_TOKENS.values()]


@dataclass
class Seen:
    """What one observation shows: the task, its digits, the prompt tokens, the actions taken."""

    task: int
    digits: list[int]
    prompt: list[int]
    actions: list[int]


def _one_hot_rows(block: np.ndarray) -> list[int | None]:
    """The index of the one in each row (``None`` for an all-zero row); fails on anything else."""
    assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(1) <= 1).all()
    return [int(np.argmax(row)) if row.any() else None for row in block]


def template(task: Task) -> list[int | None]:
    """The prompt pattern of a task in task mode: ``None`` for a digit, else the operator token."""
    return [None if isinstance(i, int) else OP_TOKENS[i] for i in task.postfix]


def read(settings: EnvSettings, obs: np.ndarray) -> Seen:
    """Read one observation ``(D,)`` back."""
    assert obs.shape == (settings.obs_size,) and obs.dtype == np.float32
    tasks = settings.task_set.tasks
    n_task, width, n_sym = settings.task_slots, settings.prompt_width, settings.n_symbols
    prompt_end = n_task + width * n_sym
    slots = _one_hot_rows(obs[n_task:prompt_end].reshape(width, n_sym))
    used = [s for s in slots if s is not None]
    assert slots[: len(used)] == used, "prompt slots are filled from the left"
    prompt = [ALPHABET[s] for s in used]
    if n_task:
        assert obs[:n_task].sum() == 1
        task = int(np.argmax(obs[:n_task]))
        assert all(t < 10 for t in prompt) and len(prompt) == tasks[task].n_operands
    else:
        pattern = [None if t < 10 else t for t in prompt]
        matches = [i for i, t in enumerate(tasks) if template(t) == pattern]
        assert len(set(tasks[i].shape for i in matches)) == 1, (prompt, matches)
        task = matches[0]
    history = _one_hot_rows(obs[prompt_end:].reshape(settings.max_steps, settings.n_actions))
    actions = [a for a in history if a is not None]
    assert history[: len(actions)] == actions, "steps are filled from the left"
    return Seen(task, [t for t in prompt if t < 10], prompt, actions)


def verdict(settings: EnvSettings, seen: Seen) -> Outcome:
    """The reference machine (``execute``) on the episode an observation shows."""
    tools = [int(settings.action_tokens[a]) for a in seen.actions]
    task = settings.task_set.tasks[seen.task]
    runs = seen.task if settings.machine == "seed-legacy" else task  # built-in: task == stage
    return execute(tools, seen.digits, runs, settings.machine, settings.max_steps)
