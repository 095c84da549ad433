"""A Gymnasium environment for one episode of the tool machine, and what the vector env shares.

The machine rules live in :mod:`nativeagent.machine`; this module only drives the batched machine
with a batch of one and encodes its episodes as flat one-hot observations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from nativeagent.machine.base import BatchedMachine
from nativeagent.machine.batched import Shaping
from nativeagent.machine.machines import make_machine
from nativeagent.machine.tools import CANONICAL, LEGACY, Profile, check_machine, profile
from nativeagent.tasks.execution import execute
from nativeagent.tasks.task import N_STAGES, STAGES, check_stage
from nativeagent.tasks.taskset import MAX_OPERANDS, Batch, make_batch
from nativeagent.tokens import EOS

#: The canonical machine's actions: action ``i`` is the tool token ``ACTION_TOKENS[i]``, in the
#: tool table's order. Each environment has its own ``action_tokens`` (``extended``: nine).
ACTION_TOKENS: np.ndarray = np.array(CANONICAL.tokens, dtype=np.int64)
#: Names of the six canonical actions: ``('MUL', 'ADD', 'SUB', 'ANS', 'STO', 'RCL')``.
ACTION_NAMES: tuple[str, ...] = tuple(t.name for t in CANONICAL.tools)
N_ACTIONS = len(ACTION_TOKENS)
N_DIGITS = 10
RENDER_MODES = ("ansi",)


@dataclass(frozen=True)
class EnvSettings:
    """Validated keywords shared by the single and the vector environment."""

    stage: int | None
    machine: str
    max_steps: int
    shaping: Shaping

    def make_machine(self) -> BatchedMachine:
        """A fresh batched machine with these settings."""
        return make_machine(self.machine, self.max_steps, self.shaping)

    @property
    def profile(self) -> Profile:
        """The tool table the actions come from (``seed-legacy`` uses the canonical tools)."""
        return profile(self.machine)

    @property
    def action_tokens(self) -> np.ndarray:
        """Action ``i`` is tool token ``action_tokens[i]`` (the profile's table order)."""
        return np.array(self.profile.tokens, dtype=np.int64)

    @property
    def action_names(self) -> tuple[str, ...]:
        """The actions' tool names."""
        return tuple(t.name for t in self.profile.tools)

    @property
    def n_actions(self) -> int:
        return len(self.profile.tools)

    @property
    def obs_size(self) -> int:
        """Length of the flat observation: stage, context digits, tools used so far."""
        return N_STAGES + MAX_OPERANDS * N_DIGITS + self.max_steps * self.n_actions

    def observation_space(self) -> spaces.Box:
        """The single-episode observation space."""
        return spaces.Box(0.0, 1.0, shape=(self.obs_size,), dtype=np.float32)


def _check_reward(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_settings(
    stage: object,
    machine: object,
    max_steps: object,
    partial_reward: object,
    process_reward: object,
    render_mode: object,
) -> EnvSettings:
    """Validate the keywords; a bad one raises ``ValueError`` (``TypeError`` for render_mode)."""
    if stage is not None:
        stage = check_stage(stage)
    machine = check_machine(machine)
    shaping = Shaping(
        _check_reward("partial_reward", partial_reward),
        _check_reward("process_reward", process_reward),
    )
    if machine == LEGACY and shaping != Shaping():
        raise ValueError("partial_reward and process_reward apply to the tool profiles only")
    if render_mode is not None and render_mode not in RENDER_MODES:
        # TypeError, not ValueError: SB3's make_vec_env passes render_mode="rgb_array" to
        # gymnasium.make and retries without it only on a TypeError.
        raise TypeError(f"render_mode must be None or 'ansi', got {render_mode!r}")
    steps = make_machine(machine, max_steps).max_steps  # type: ignore[arg-type]  # validates
    return EnvSettings(stage, machine, steps, shaping)


def sample_episodes(rng: np.random.Generator, stage: int | None, size: int) -> Batch:
    """``size`` fresh episodes of ``stage`` (a uniformly random stage each when ``None``)."""
    if stage is None:
        stages = rng.integers(0, N_STAGES, size=size)
    else:
        stages = np.full(size, stage, dtype=np.int64)
    digits = rng.integers(0, N_DIGITS, size=(size, MAX_OPERANDS))
    return make_batch(torch.from_numpy(digits), torch.from_numpy(stages))


def encode(
    stage: np.ndarray, context: np.ndarray, history: np.ndarray, n_actions: int = N_ACTIONS
) -> np.ndarray:
    """One-hot observations ``(B, D)`` float32 of stages ``(B,)``, ``[EOS]``-padded contexts
    ``(B, MAX_OPERANDS)`` and action histories ``(B, T)`` (``-1`` for steps not taken yet)."""
    size, max_steps = history.shape
    obs = np.zeros((size, N_STAGES + MAX_OPERANDS * N_DIGITS + max_steps * n_actions), np.float32)
    obs[np.arange(size), stage] = 1.0
    rows, cols = np.nonzero(context != EOS)
    obs[rows, N_STAGES + cols * N_DIGITS + context[rows, cols]] = 1.0
    rows, steps = np.nonzero(history >= 0)
    base = N_STAGES + MAX_OPERANDS * N_DIGITS
    obs[rows, base + steps * n_actions + history[rows, steps]] = 1.0
    return obs


def action_mask(machine: BatchedMachine, tokens: np.ndarray = ACTION_TOKENS) -> np.ndarray:
    """``(B, actions)`` bool: which of the tools ``tokens`` each episode may use now."""
    return machine.legal()[:, torch.from_numpy(tokens)].numpy().copy()


def episode_info(
    machine: BatchedMachine, batch: Batch, tokens: np.ndarray = ACTION_TOKENS
) -> dict[str, np.ndarray]:
    """Per-episode arrays: mask, stage, stated target, answer (valid where answered), correct."""
    answered = machine.answered.numpy().copy()
    return {
        "action_mask": action_mask(machine, tokens),
        "stage": batch.stage.numpy().copy(),
        "target": batch.target.numpy().copy(),
        "answer": machine.answer.numpy().copy(),
        "answered": answered,
        "correct": answered & (machine.answer == batch.target).numpy(),
    }


def format_episode(
    settings: EnvSettings, context: Sequence[int], stage: int, tools: Sequence[int]
) -> str:
    """One line: stage, context, stated target and the reference machine's trace so far."""
    outcome = execute(tools, context, stage, settings.machine, settings.max_steps)
    ctx = " ".join(str(d) for d in context)
    trace = outcome.format_trace() or "(no steps yet)"
    return f"stage={stage} ctx=[{ctx}] target={STAGES[stage].target(context)} | {trace}"


def parse_options(options: dict[str, Any] | None, stage: int | None) -> tuple[int | None, Any]:
    """``reset`` options: an optional ``stage`` and ``context`` (that stage's digits)."""
    options = dict(options or {})
    unknown = set(options) - {"stage", "context"}
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; expected 'stage', 'context'")
    context = options.get("context")
    if "stage" in options:
        stage = check_stage(options["stage"])
    elif stage is None and context is not None:
        sizes = [s.n_operands for s in STAGES]
        if len(context) not in sizes:
            raise ValueError(f"a context has 3, 4 or 5 digits, got {len(context)}")
        stage = sizes.index(len(context))
    return stage, context


def fixed_episode(stage: int, context: Sequence[int]) -> Batch:
    """A batch of one episode with a given ``context`` (validated against ``stage``)."""
    digits = [int(d) for d in context]
    if len(digits) != STAGES[stage].n_operands or not all(0 <= d <= 9 for d in digits):
        raise ValueError(
            f"stage {stage} needs {STAGES[stage].n_operands} digits 0..9, got {digits}"
        )
    padded = torch.full((1, MAX_OPERANDS), EOS, dtype=torch.long)
    padded[0, : len(digits)] = torch.tensor(digits)
    return make_batch(padded, torch.tensor([stage]))


class ToolMachineEnv(gym.Env[np.ndarray, np.int64]):
    """Write a program of tool calls that computes a stage's expression over a few digits.

    ## Description

    Each episode shows a context of digits ``a b c [d [e]]`` and a stage: stage 0 asks
    for ``a*b+c``, stage 1 for ``(a*b+c)-d``, stage 2 for ``(a*b+c)-(d*e)``. The agent calls
    tools of a register machine (accumulator, memory cells, an operand cursor; docs/machine.md)
    one per step, and answers with ``ANS``. With ``machine="seed-legacy"`` the steps run
    through the tutorial's reward function instead.

    ## Action Space

    ``Discrete(6)``: the canonical tools in the tool table's order, ``0 MUL, 1 ADD, 2 SUB,
    3 ANS, 4 STO, 5 RCL`` (``machine="extended"``: ``Discrete(9)``, then ``6 LOAD, 7 STO2,
    8 RCL2``; ``env.action_names`` lists them). ``info["action_mask"]`` and
    :meth:`action_masks` say which are legal now; on a tool profile an illegal action ends the
    episode unsolved, on ``seed-legacy`` every tool is legal.

    ## Observation Space

    A flat ``Box(0, 1, (3 + 5*10 + 6*max_steps,), float32)`` of one-hots (101 values with the
    canonical ``max_steps=8``): the stage (3), each of the 5 context slots as a digit (10,
    all zero for the slots a stage does not use), and for each step so far the tool used (6,
    all zero for steps not yet taken). The machine state is a function of these, so the task is
    Markov for a plain MLP.

    ## Reward

    Canonical: 1 at ``ANS`` when the answer equals the stated target, else 0; plus optional
    shaping (``partial_reward`` at ``ANS`` for answering a subgoal, ``process_reward`` when a tool
    first produces a subgoal value). ``seed-legacy``: the tutorial's reward exactly, paid at
    ``ANS``. ``info["correct"]`` is always exact match on the stated target.

    ## Episode End

    The episode terminates at ``ANS``, at an illegal action or a state with no legal tool
    (canonical), or after ``max_steps`` steps without ``ANS`` (reward 0). The step limit is
    ``terminated``, not ``truncated``: the observation holds the step history, so the limit is
    part of the Markov state and no value should be bootstrapped past it. ``truncated`` is
    always ``False``.

    ## Arguments

    - ``stage``: 0, 1 or 2; ``None`` draws a uniformly random stage for each episode.
    - ``machine``: ``"canonical"``, ``"extended"`` or ``"seed-legacy"``.
    - ``max_steps``: step limit (default: the machine's, 8 canonical, 12 extended, 7
      ``seed-legacy``).
    - ``partial_reward``, ``process_reward``: shaping, tool profiles only (default 0).
    - ``render_mode``: ``None`` or ``"ansi"`` (``render()`` returns the trace so far).

    ``reset(options={"context": [4, 2, 7]})`` (optionally with ``"stage"``) fixes the next
    episode's digits. ``info`` holds ``action_mask``, ``stage``, ``target`` (stated), ``answer``
    (``None`` until answered) and ``correct``.

    ## Version History

    - v0: initial version.

    ## Example

    >>> env = ToolMachineEnv(stage=0, render_mode="ansi")
    >>> obs, info = env.reset(options={"context": [4, 2, 7]})
    >>> obs.shape, info["action_mask"], info["target"]
    ((101,), array([ True,  True,  True, False, False, False]), 15)
    >>> for tool in ("MUL", "ADD", "ANS"):
    ...     obs, reward, terminated, truncated, info = env.step(ACTION_NAMES.index(tool))
    >>> reward, terminated, truncated, info["answer"], info["correct"]
    (1.0, True, False, 15, True)
    >>> env.render()
    'stage=0 ctx=[4 2 7] target=15 | MUL acc=8 · ADD acc=15 · ANS ✓'
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        stage: int | None = 0,
        machine: str = "canonical",
        max_steps: int | None = None,
        partial_reward: float = 0.0,
        process_reward: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.settings = check_settings(
            stage, machine, max_steps, partial_reward, process_reward, render_mode
        )
        self.render_mode = render_mode
        self.action_tokens = self.settings.action_tokens
        self.action_names = self.settings.action_names
        self.action_space = spaces.Discrete(len(self.action_tokens))
        self.observation_space = self.settings.observation_space()
        self._machine = self.settings.make_machine()
        self._batch: Batch | None = None
        self._tools: list[int] = []  # action indices taken this episode
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: fresh digits from ``self.np_random`` unless ``options`` fix them."""
        super().reset(seed=seed)
        stage, context = parse_options(options, self.settings.stage)
        if context is None:
            batch = sample_episodes(self.np_random, stage, 1)
        else:
            assert stage is not None
            batch = fixed_episode(stage, context)
        self._machine.reset(batch)
        self._batch, self._tools, self._done = batch, [], False
        return self._observation(), self._info()

    def step(
        self, action: int | np.integer
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Call one tool; see the class docstring for rewards and episode end."""
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int 0..{self.action_space.n - 1}, got {action!r}")
        token = torch.tensor([self.action_tokens[int(action)]])
        reward, done = self._machine.step(token)
        self._tools.append(int(action))
        self._done = bool(done[0])
        return self._observation(), float(reward[0]), self._done, False, self._info()

    def action_masks(self) -> np.ndarray:
        """Legal actions now, ``(actions,)`` bool (the method sb3-contrib's MaskablePPO calls)."""
        return action_mask(self._machine, self.action_tokens)[0]

    def render(self) -> str | None:
        """The episode so far as one line (``render_mode="ansi"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() needs render_mode='ansi' at construction")
            return None
        if self._batch is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        stage = int(self._batch.stage[0])
        context = self._batch.context[0, : STAGES[stage].n_operands].tolist()
        tools = [int(self.action_tokens[a]) for a in self._tools]
        return format_episode(self.settings, context, stage, tools)

    def _observation(self) -> np.ndarray:
        assert self._batch is not None
        history = np.full((1, self.settings.max_steps), -1, dtype=np.int64)
        history[0, : len(self._tools)] = self._tools
        n = len(self.action_tokens)
        return encode(self._batch.stage.numpy(), self._batch.context.numpy(), history, n)[0]

    def _info(self) -> dict[str, Any]:
        assert self._batch is not None
        info = episode_info(self._machine, self._batch, self.action_tokens)
        info = {k: v[0] for k, v in info.items()}
        return {
            "action_mask": info["action_mask"],
            "stage": int(info["stage"]),
            "target": int(info["target"]),
            "answer": int(info["answer"]) if info["answered"] else None,
            "correct": bool(info["correct"]),
        }
