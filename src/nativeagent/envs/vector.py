"""A Gymnasium vector environment: N tool-machine episodes stepped at once by the batched machine.

No Python loop runs over the episodes: one ``machine.step`` per call, one ``TaskSet`` draw for
the episodes that ended, numpy one-hots for the observations, and ended episodes are replaced in
the same step (``AutoresetMode.SAME_STEP``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from nativeagent.envs.tool_machine import (
    RENDER_MODES,
    action_mask,
    check_settings,
    episode_info,
    format_episode,
    sample_episodes,
)
from nativeagent.tasks.taskset import Batch, TaskSet


class ToolMachineVectorEnv(VectorEnv):
    """``num_envs`` episodes of ``nativeagent.envs.ToolMachineEnv`` in one batched machine.

    ## Description

    The single environment's task, ``num_envs`` times at once: one batched machine steps every
    episode in a few tensor operations, and fresh episodes come from one ``TaskSet`` draw (the
    built-in stages, given expressions or a run's task set; task mode shows the expression).

    ## Action Space

    ``MultiDiscrete([A] * num_envs)`` of the single environment's ``Discrete(A)`` actions
    (``A`` = 6 canonical, 9 ``extended``); ``info["action_mask"]`` and ``action_masks``,
    ``(num_envs, A)`` bool, say which are legal now.

    ## Observation Space

    ``Box(0, 1, (num_envs, D), float32)``: each row is the single environment's one-hot
    observation (task, prompt, actions so far; ``D = 101`` by default).

    ## Reward

    The single environment's, per row (float64).

    ## Episode End

    ``terminations`` follow the single environment; ``truncations`` are always ``False``.
    Autoreset is ``SAME_STEP`` (``env.autoreset_mode`` and ``metadata["autoreset_mode"]``):
    when episode ``i`` ends, ``step`` already returns the first observation (and
    ``action_mask``) of its next episode, and the ended one is in ``info["final_obs"][i]`` and
    ``info["final_info"][key][i]`` where ``info["_final_obs"][i]``. Every row therefore always
    has a legal action, which masked policies need.

    ## Arguments

    ``num_envs`` (default 1), then the single environment's keywords: ``stage``, ``machine``,
    ``max_steps``, ``partial_reward``, ``process_reward``, ``render_mode``, ``tasks``,
    ``show_expression``. ``info`` keys are the single environment's with a leading
    ``(num_envs,)`` axis, plus ``answered``; ``info["answer"]`` is valid where ``answered``.

    ## Version History

    - v0: initial version; then ``tasks``, ``show_expression``, the ``task`` info key and the
      ``autoreset_mode`` attribute (TorchRL's ``GymWrapper`` reads it).

    >>> env = ToolMachineVectorEnv(num_envs=2, stage=0)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["action_mask"].shape, env.autoreset_mode.name
    ((2, 101), (2, 6), 'SAME_STEP')
    >>> for action in (0, 1, 3):  # MUL ADD ANS
    ...     obs, reward, terminated, truncated, info = env.step(np.array([action, action]))
    >>> reward, terminated, info["final_info"]["correct"], info["answered"]
    (array([1., 1.]), array([ True,  True]), array([ True,  True]), array([False, False]))
    >>> env = ToolMachineVectorEnv(num_envs=4, tasks=["a*b+c", "(a-b)*c"], show_expression=True)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, sorted(set(info["task"].tolist()))  # 5 postfix slots of 13 symbols; 8 x 6
    ((4, 113), [0, 1])
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        stage: int | None = 0,
        machine: str | None = None,
        max_steps: int | None = None,
        partial_reward: float = 0.0,
        process_reward: float = 0.0,
        render_mode: str | None = None,
        tasks: str | Sequence[str] | TaskSet | None = None,
        show_expression: bool | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.settings = check_settings(
            stage,
            machine,
            max_steps,
            partial_reward,
            process_reward,
            render_mode,
            tasks,
            show_expression,
        )
        self.task_set = self.settings.task_set
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.action_tokens = self.settings.action_tokens
        self.action_names = self.settings.action_names
        self.single_action_space = spaces.Discrete(len(self.action_tokens))
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = self.settings.observation_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._machine = self.settings.make_machine()
        self._batch: Batch | None = None
        self._history = np.full((num_envs, self.settings.max_steps), -1, dtype=np.int64)
        self._rows = np.arange(num_envs)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """``SAME_STEP``: how ended episodes restart (Gymnasium >= 1.1's vector envs have this
        attribute beside ``metadata["autoreset_mode"]``, and TorchRL's ``GymWrapper`` reads it)."""
        return AutoresetMode(self.metadata["autoreset_mode"])

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start ``num_envs`` fresh episodes drawn from ``self.np_random``."""
        if options:
            raise ValueError(f"ToolMachineVectorEnv.reset takes no options, got {options!r}")
        if isinstance(seed, list):
            raise ValueError("ToolMachineVectorEnv.reset takes one int seed, not a list")
        super().reset(seed=seed)
        self._batch = sample_episodes(
            self.task_set, self.np_random, self.num_envs, self.settings.stage
        )
        self._machine.reset(self._batch)
        self._history.fill(-1)
        return self._observation(), self._info()

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Call one tool in every episode; ended episodes restart in the same step."""
        if self._batch is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not self.action_space.contains(
            actions.astype(np.int64)
        ):
            n = len(self.action_tokens)
            raise ValueError(f"actions must be {self.num_envs} ints 0..{n - 1}")
        actions = actions.astype(np.int64)
        t = self._machine.steps.numpy().copy()  # (N,) every row is live (SAME_STEP)
        reward, done = self._machine.step(torch.from_numpy(self.action_tokens[actions]))
        self._history[self._rows, t] = actions
        obs, info = self._observation(), self._info()
        ended = done.numpy().copy()
        if ended.any():
            final = {"final_obs": obs, "_final_obs": ended.copy()}
            final |= {"final_info": info, "_final_info": ended.copy()}
            self._restart(done)
            obs, info = self._observation(), self._info()
            info |= final
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return obs, reward.numpy().astype(np.float64), ended, truncated, info

    def action_masks(self) -> np.ndarray:
        """``(num_envs, actions)`` bool: legal actions now, as ``info["action_mask"]``."""
        return action_mask(self._machine, self.action_tokens)

    def render(self) -> tuple[str, ...] | None:
        """One line per episode: its task, context, target and trace so far (``"ansi"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() needs render_mode='ansi' at construction")
            return None
        if self._batch is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        lines = []
        for i in range(self.num_envs):  # text for people: a loop is fine here
            tools = [int(self.action_tokens[a]) for a in self._history[i] if a >= 0]
            lines.append(format_episode(self.settings, self._batch, i, tools))
        return tuple(lines)

    def _restart(self, rows: torch.Tensor) -> None:
        """Replace the episodes ``rows`` ``(N,)`` bool with fresh ones from ``self.np_random``."""
        assert self._batch is not None
        fresh = sample_episodes(self.task_set, self.np_random, int(rows.sum()), self.settings.stage)
        context, task = self._batch.context.clone(), self._batch.task.clone()
        context[rows], task[rows] = fresh.context, fresh.task
        self._batch = self.task_set.make_batch(context, task)
        self._machine.reset_rows(self._batch, rows)
        self._history[rows.numpy()] = -1

    def _observation(self) -> np.ndarray:
        assert self._batch is not None
        return self.settings.encode(self._batch, self._history)

    def _info(self) -> dict[str, Any]:
        assert self._batch is not None
        return episode_info(self._machine, self._batch, self.action_tokens)


def policy_accuracy(
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    stage: int | None,
    episodes: int,
    seed: int | None = None,
    **env_kwargs: Any,
) -> float:
    """Exact-match rate on the stated target of ``predict(obs (N, D), mask (N, actions)) ->
    (N,)`` over ``episodes`` fresh episodes of ``stage`` (greedy if ``predict`` is); ``env_kwargs``
    go to ``ToolMachineVectorEnv`` (e.g. ``tasks``, ``machine``)."""
    env = ToolMachineVectorEnv(episodes, stage=stage, **env_kwargs)
    obs, info = env.reset(seed=seed)
    correct = np.zeros(episodes, dtype=np.bool_)
    finished = np.zeros(episodes, dtype=np.bool_)
    while not finished.all():  # every episode ends within max_steps steps
        obs, _, ended, _, info = env.step(predict(obs, info["action_mask"]))
        if ended.any():
            first = ended & ~finished
            correct[first] = info["final_info"]["correct"][first]
            finished |= ended
    return float(correct.mean())
