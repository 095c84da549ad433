"""A Gymnasium environment for one episode of the tool machine, and what the vector env shares.

The machine rules live in ``nativeagent.machine`` and the tasks in ``nativeagent.tasks``:
this module draws episodes from a ``TaskSet`` (``pick_tasks``/``make_batch``), drives the batched
machine with a batch of one, and encodes its episodes as flat one-hot observations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from nativeagent.machine.base import BatchedMachine
from nativeagent.machine.batched import Shaping
from nativeagent.machine.machines import check_max_steps, make_machine
from nativeagent.machine.tools import CANONICAL, LEGACY, Profile, check_machine, profile
from nativeagent.tasks.execution import execute
from nativeagent.tasks.expression import OP_TOKENS
from nativeagent.tasks.generate import check_computable, parse_expressions
from nativeagent.tasks.task import HELD_OUT, Task
from nativeagent.tasks.taskset import BUILTIN, Batch, TaskSet
from nativeagent.tokens import EOS

#: The canonical machine's actions: action ``i`` is the tool token ``ACTION_TOKENS[i]``, in the
#: tool table's order. Each environment has its own ``action_tokens`` (``extended``: nine).
ACTION_TOKENS: np.ndarray = np.array(CANONICAL.tokens, dtype=np.int64)
#: Names of the six canonical actions: ``('MUL', 'ADD', 'SUB', 'ANS', 'STO', 'RCL')``.
ACTION_NAMES: tuple[str, ...] = tuple(t.name for t in CANONICAL.tools)
N_ACTIONS = len(ACTION_TOKENS)
N_DIGITS = 10
RENDER_MODES = ("ansi",)

#: Prompt token -> its symbol in a prompt slot's one-hot: digits 0-9, then the operator tokens
#: (task mode shows them; ``-1`` for padding and anything else).
SYMBOLS: np.ndarray = np.full(max(EOS, *OP_TOKENS.values()) + 1, -1, dtype=np.int64)
SYMBOLS[:N_DIGITS] = np.arange(N_DIGITS)
SYMBOLS[list(OP_TOKENS.values())] = N_DIGITS + np.arange(len(OP_TOKENS))


@dataclass(frozen=True)
class EnvSettings:
    """Validated keywords shared by the single and the vector environment."""

    stage: int | None
    machine: str
    max_steps: int
    shaping: Shaping
    task_set: TaskSet = BUILTIN

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
    def show_expression(self) -> bool:
        """Task mode: the observation shows the expression instead of which task it is."""
        return self.task_set.show_expression

    @property
    def task_slots(self) -> int:
        """Length of the task one-hot: one per task (the stage, for the built-in stages), or 0
        in task mode, where the prompt shows the expression itself."""
        return 0 if self.show_expression else len(self.task_set.tasks)

    @cached_property
    def prompt_width(self) -> int:
        """Prompt slots: the context's digits, or (task mode) the longest postfix form."""
        if self.show_expression:
            return max(len(t.postfix) for t in self.task_set.tasks)
        return self.task_set.width

    @property
    def n_symbols(self) -> int:
        """Symbols a prompt slot can hold: the digits, and in task mode the operators."""
        return N_DIGITS + (len(OP_TOKENS) if self.show_expression else 0)

    @property
    def obs_size(self) -> int:
        """Length of the flat observation: task, prompt, actions taken so far."""
        prompt = self.prompt_width * self.n_symbols
        return self.task_slots + prompt + self.max_steps * self.n_actions

    def observation_space(self) -> spaces.Box:
        """The single-episode observation space."""
        return spaces.Box(0.0, 1.0, shape=(self.obs_size,), dtype=np.float32)

    def encode(self, batch: Batch, history: np.ndarray) -> np.ndarray:
        """One-hot observations ``(B, obs_size)`` float32 of ``batch`` and its action histories
        ``(B, max_steps)`` (``-1`` for steps not taken yet)."""
        size = len(batch)
        obs = np.zeros((size, self.obs_size), np.float32)
        if self.task_slots:
            obs[np.arange(size), batch.task.numpy()] = 1.0
        symbol = SYMBOLS[batch.prompt.numpy()]  # (B, prompt_width); -1 for padding
        rows, cols = np.nonzero(symbol >= 0)
        obs[rows, self.task_slots + cols * self.n_symbols + symbol[rows, cols]] = 1.0
        base = self.task_slots + self.prompt_width * self.n_symbols
        rows, steps = np.nonzero(history >= 0)
        obs[rows, base + steps * self.n_actions + history[rows, steps]] = 1.0
        return obs


def _check_reward(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_tasks(tasks: object, show_expression: object, machine: str, max_steps: int) -> TaskSet:
    """The task set episodes come from: the built-in stages (``None``), expressions (one stage
    of them) or a ``TaskSet``; ``ValueError`` names the key at fault.

    Given tasks must be computable on ``machine`` within ``max_steps`` tools (else no policy can
    solve them); the built-in stages are not checked, so a short ``max_steps`` stays allowed.
    """
    if show_expression is not None and not isinstance(show_expression, bool):
        raise ValueError(f"show_expression must be True, False or None, got {show_expression!r}")
    if tasks is None:
        task_set = BUILTIN
    elif isinstance(tasks, TaskSet):
        task_set = tasks
    else:
        texts = [tasks] if isinstance(tasks, str) else tasks
        if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                "tasks must be None, an expression, a list of expressions or a TaskSet, "
                f"got {tasks!r}"
            )
        try:
            task_set = TaskSet([parse_expressions(texts)], machine=machine, max_steps=max_steps)
        except ValueError as err:
            raise ValueError(f"tasks: {err}") from None
    if machine == LEGACY and not task_set.is_builtin:
        raise ValueError(f"tasks: machine {LEGACY!r} runs only the built-in stages (tasks=None)")
    if tasks is not None and machine != LEGACY:
        try:
            check_computable(task_set.tasks, machine, max_steps)
        except ValueError as err:
            raise ValueError(f"tasks: {err}") from None
    if show_expression is not None and show_expression != task_set.show_expression:
        same = (task_set.stages, task_set.held_out)
        task_set = TaskSet(*same, show_expression, task_set.machine, task_set.max_steps)
    return task_set


def check_env_stage(stage: object, task_set: TaskSet) -> int | None:
    """``stage`` as a stage of ``task_set`` (``-1``: its held-out tasks), or ``None``."""
    if stage is None:
        return None
    n = task_set.n_stages
    valid = f"0..{n - 1}" if n > 1 else "0"
    if task_set.held_out:
        valid += f" or {HELD_OUT} (the held-out tasks)"
    if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)):
        raise ValueError(f"stage must be an int {valid}, or None, got {stage!r}")
    if stage == HELD_OUT and not task_set.held_out:
        raise ValueError(f"stage must be {valid}, got {stage} (the task set holds no task out)")
    if not (0 <= stage < n or stage == HELD_OUT):
        raise ValueError(f"stage must be {valid}, got {stage}")
    return int(stage)


def check_settings(
    stage: object,
    machine: object,
    max_steps: object,
    partial_reward: object,
    process_reward: object,
    render_mode: object,
    tasks: object = None,
    show_expression: object = None,
) -> EnvSettings:
    """Validate the keywords; a bad one raises ``ValueError`` (``TypeError`` for render_mode).

    ``machine=None`` is the task set's machine (``tasks`` a ``TaskSet``) or ``canonical``;
    ``max_steps=None`` the task set's limit on that machine, else the machine's own.
    """
    given = tasks if isinstance(tasks, TaskSet) else None
    if machine is None:
        machine = given.machine if given is not None else CANONICAL.name
    machine = check_machine(machine)
    check_max_steps(max_steps)
    if max_steps is None and given is not None and given.machine == machine:
        max_steps = given.max_steps
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
    steps = make_machine(machine, max_steps).max_steps  # type: ignore[arg-type]  # validated
    task_set = check_tasks(tasks, show_expression, machine, steps)
    return EnvSettings(check_env_stage(stage, task_set), machine, steps, shaping, task_set)


def sample_episodes(
    task_set: TaskSet,
    rng: np.random.Generator,
    size: int,
    stage: int | None,
    task: int | None = None,
) -> Batch:
    """``size`` fresh episodes drawn from ``rng``: a stage (uniform over the curriculum's stages
    when ``None``), a task of it (``TaskSet.pick_tasks``), uniform digits; or all of ``task``."""
    if task is not None:
        tasks = torch.full((size,), task, dtype=torch.long)
        digits = rng.integers(0, N_DIGITS, size=(size, task_set.width))
        return task_set.make_batch(torch.from_numpy(digits), tasks)
    if stage is None:
        stages = rng.integers(0, task_set.n_stages, size=size)
    else:
        stages = np.full(size, stage, dtype=np.int64)
    digits = rng.integers(0, N_DIGITS, size=(size, task_set.width))
    generator = torch.Generator()
    # pick_tasks draws only when a stage has several tasks; seeding the generator from rng only
    # then keeps the stream of the one-task stages (the built-in ones) that of the digits alone.
    choices = range(task_set.n_stages) if stage is None else [stage]
    if any(len(task_set.stage_tasks(s)) > 1 for s in choices):
        generator.manual_seed(int(rng.integers(1 << 62)))
    picked = task_set.pick_tasks(torch.from_numpy(stages), generator)
    return task_set.make_batch(torch.from_numpy(digits), picked)


def action_mask(machine: BatchedMachine, tokens: np.ndarray = ACTION_TOKENS) -> np.ndarray:
    """``(B, actions)`` bool: which of the tools ``tokens`` each episode may use now."""
    return machine.legal()[:, torch.from_numpy(tokens)].numpy().copy()


def episode_info(
    machine: BatchedMachine, batch: Batch, tokens: np.ndarray = ACTION_TOKENS
) -> dict[str, np.ndarray]:
    """Per-episode arrays: mask, stage, task id, stated target, answer (valid where answered),
    correct."""
    answered = machine.answered.numpy().copy()
    return {
        "action_mask": action_mask(machine, tokens),
        "stage": batch.stage.numpy().copy(),
        "task": batch.task.numpy().copy(),
        "target": batch.target.numpy().copy(),
        "answer": machine.answer.numpy().copy(),
        "answered": answered,
        "correct": answered & (machine.answer == batch.target).numpy(),
    }


def format_episode(settings: EnvSettings, batch: Batch, row: int, tools: Sequence[int]) -> str:
    """One line: the stage (built-in stages) or task, the context, the stated target and the
    reference machine's trace of ``tools`` so far."""
    task_set = settings.task_set
    stage, task = int(batch.stage[row]), task_set.tasks[int(batch.task[row])]
    context = batch.context[row, : task.n_operands].tolist()
    runs = stage if settings.machine == LEGACY else task  # seed-legacy knows only stages
    outcome = execute(tools, context, runs, settings.machine, settings.max_steps)
    head = f"stage={stage}" if task_set.is_builtin else f"task={task.expression}"
    ctx = " ".join(str(d) for d in context)
    trace = outcome.format_trace() or "(no steps yet)"
    return f"{head} ctx=[{ctx}] target={task.target(context)} | {trace}"


def _describe(task_set: TaskSet, task: int) -> str:
    return f"stage {task}" if task_set.is_builtin else f"task {task_set.tasks[task].expression}"


def _find_task(value: object, task_set: TaskSet) -> int:
    """The id of ``reset``'s ``task`` option: an id, or one of the tasks' expressions."""
    if isinstance(value, str):
        try:
            found = task_set.find(Task.parse(value))
        except ValueError as err:
            raise ValueError(f"options['task']: {err}") from None
        if found is None:
            raise ValueError(f"options['task']: {value} is not one of this env's tasks")
        return found
    n = len(task_set.tasks)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ValueError(
            f"options['task'] must be a task id 0..{n - 1} or one of the env's expressions, "
            f"got {value!r}"
        )
    return int(value)


def _check_digits(context: object) -> list[int]:
    if isinstance(context, (str, bytes)) or not isinstance(context, (Sequence, np.ndarray)):
        raise ValueError(f"options['context'] must be a sequence of digits, got {context!r}")
    digits = list(context)
    if not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and 0 <= d <= 9 for d in digits
    ):
        raise ValueError(f"options['context'] digits must be ints 0..9, got {digits}")
    return [int(d) for d in digits]


def _task_for_context(task_set: TaskSet, stage: int | None, n_digits: int) -> int:
    """The task a context of ``n_digits`` digits is for, among the tasks of ``stage``."""
    ids = task_set.stage_tasks(stage) if stage is not None else range(task_set.n_trained)
    if len(ids) == 1:
        return ids[0]
    fits = [i for i in ids if task_set.tasks[i].n_operands == n_digits]
    if len(fits) != 1:
        raise ValueError(
            f"options['context'] has {n_digits} digits and {len(fits) or 'no'} of the tasks "
            "take that many; name one with options['task']"
        )
    return fits[0]


def parse_options(
    options: dict[str, Any] | None, settings: EnvSettings
) -> tuple[int | None, int | None, list[int] | None]:
    """``reset`` options ``stage`` (of the task set), ``task`` (an id or an expression of it)
    and ``context`` (that task's digits) as ``(stage, task id, digits)``."""
    options = dict(options or {})
    unknown = set(options) - {"stage", "task", "context"}
    if unknown:
        raise ValueError(
            f"unknown reset options {sorted(unknown)}; expected 'stage', 'task', 'context'"
        )
    task_set = settings.task_set
    stage = settings.stage
    if "stage" in options:
        stage = check_env_stage(options["stage"], task_set)
    task = None
    if "task" in options:
        task = _find_task(options["task"], task_set)
        if "stage" in options and stage is not None and task not in task_set.stage_tasks(stage):
            raise ValueError(f"options['task'] {task} is not a task of stage {stage}")
    if options.get("context") is None:
        return stage, task, None
    digits = _check_digits(options["context"])
    if task is None:
        task = _task_for_context(task_set, stage, len(digits))
    want = task_set.tasks[task].n_operands
    if len(digits) != want:
        raise ValueError(f"{_describe(task_set, task)} needs {want} digits 0..9, got {digits}")
    return stage, task, digits


class ToolMachineEnv(gym.Env[np.ndarray, np.int64]):
    """Write a program of tool calls that computes an expression over a few digits.

    ## Description

    Each episode shows a context of digits and a task: by default one of the three built-in
    stages (stage 0 asks for ``a*b+c``, stage 1 for ``(a*b+c)-d``, stage 2 for
    ``(a*b+c)-(d*e)`` over ``a b c [d [e]]``), or any expressions over the operands in order
    (``tasks=["a*b+c", "(a-b)*c"]``, or a ``TaskSet`` such as a run's
    ``nativeagent.build.build_task_set(cfg)``, with its curriculum stages and held-out tasks).
    The agent calls tools of a register machine (accumulator, memory cells, an operand cursor;
    docs/machine.md) one per step, and answers with ``ANS``. With ``machine="seed-legacy"`` the
    steps of the built-in stages run through the tutorial's reward function instead.

    ## Action Space

    ``Discrete(6)``: the canonical tools in the tool table's order, ``0 MUL, 1 ADD, 2 SUB,
    3 ANS, 4 STO, 5 RCL`` (``machine="extended"``: ``Discrete(9)``, then ``6 LOAD, 7 STO2,
    8 RCL2``; ``env.action_names`` lists them). ``info["action_mask"]`` and
    ``action_masks`` say which are legal now (none once the episode has ended); on a tool
    profile an illegal action ends the episode unsolved, on ``seed-legacy`` every tool is legal.
    In TorchRL, ``GymWrapper`` reads the mask with ``default_info_dict_reader(["action_mask"],
    spec={"action_mask": Binary(A, dtype=torch.bool)})`` and the ``ActionMask`` transform
    applies it (README, Gymnasium environments).

    ## Observation Space

    A flat ``Box(0, 1, (T + W*S + A*max_steps,), float32)`` of one-hots, in three parts:

    - the task: ``T`` = the number of tasks (held-out ones included), a one-hot of the task id
      (for the built-in stages the task is the stage, ``T = 3``); ``T = 0`` in task mode;
    - the prompt, ``W`` slots of ``S`` symbols: the context digits (``S = 10``; ``W`` = the most
      operands any task has, 5 for the built-in stages; slots a task does not use are all
      zero), or in task mode (``show_expression=True``) the expression in postfix order,
      digits and operators, ``4 2 [MUL] 7 [ADD]`` (``S = 13``: digits, then ``MUL ADD SUB``;
      ``W`` = the longest postfix form);
    - for each step so far the action taken (``A`` actions; all zero for steps not yet taken).

    With the built-in stages and the canonical ``max_steps=8`` that is ``3 + 5*10 + 8*6 = 101``
    values (``env.settings.obs_size``). The machine state is a function of the observation, so
    the task is Markov for a plain MLP.

    ## Reward

    Tool profiles: 1 at ``ANS`` when the answer equals the stated target, else 0; plus optional
    shaping (``partial_reward`` at ``ANS`` for answering a subgoal, ``process_reward`` when a tool
    first produces a subgoal value). ``seed-legacy``: the tutorial's reward exactly, paid at
    ``ANS``. ``info["correct"]`` is always exact match on the stated target.

    ## Episode End

    The episode terminates at ``ANS``, at an illegal action or a state with no legal tool
    (tool profiles), or after ``max_steps`` steps without ``ANS`` (reward 0). The step limit is
    ``terminated``, not ``truncated``: the observation holds the step history, so the limit is
    part of the Markov state and no value should be bootstrapped past it. ``truncated`` is
    always ``False``.

    ## Arguments

    - ``stage``: a stage of the task set (0, 1 or 2 for the built-in stages; ``-1`` for a task
      set's held-out tasks); ``None`` draws a uniformly random curriculum stage per episode.
      Within a stage of several tasks each episode draws one uniformly.
    - ``machine``: ``"canonical"``, ``"extended"`` or ``"seed-legacy"`` (built-in stages only);
      default: the ``TaskSet``'s machine, else ``"canonical"``.
    - ``max_steps``: step limit (default: the ``TaskSet``'s, else the machine's: 8 canonical,
      12 extended, 7 ``seed-legacy``).
    - ``tasks``: ``None`` (the built-in stages), an expression or a list of expressions (one
      stage of them; a string may list several, separated by commas), or a ``TaskSet``. Every
      given task must be computable on the machine within ``max_steps`` tools.
    - ``show_expression``: task mode (see Observation Space); default: the ``TaskSet``'s, else
      ``False``.
    - ``partial_reward``, ``process_reward``: shaping, tool profiles only (default 0).
    - ``render_mode``: ``None`` or ``"ansi"`` (``render()`` returns the trace so far).

    ``reset(options={"context": [4, 2, 7]})`` fixes the next episode's digits; ``"task"`` (a
    task id or one of the env's expressions) and ``"stage"`` fix its task or stage. ``info``
    holds ``action_mask``, ``stage`` (``-1``: a held-out task), ``task`` (an index into
    ``env.task_set.tasks``), ``target`` (stated), ``answer`` (``None`` until answered) and
    ``correct``.

    ## Version History

    - v0: initial version; then the ``tasks`` and ``show_expression`` keywords, the ``task``
      info key and reset option (the defaults' observations and episodes are unchanged).

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

    Any expressions, here in task mode on the extended machine:

    >>> env = ToolMachineEnv(
    ...     tasks=["a*(b+c)", "a-b"], machine="extended", show_expression=True, render_mode="ansi"
    ... )
    >>> obs, info = env.reset(seed=0, options={"task": "a*(b+c)", "context": [3, 4, 5]})
    >>> obs.shape, info["task"], info["target"]  # 5 postfix slots of 13 symbols, 12 steps of 9
    ((173,), 0, 27)
    >>> for tool in ("LOAD", "STO", "ADD", "RCL", "MUL", "ANS"):
    ...     obs, reward, terminated, truncated, info = env.step(env.action_names.index(tool))
    >>> reward, info["correct"]
    (1.0, True)
    >>> for part in env.render().split(" | "):
    ...     print(part)
    task=a*(b+c) ctx=[3 4 5] target=27
    LOAD acc=3 · STO mem=3 · ADD acc=9 · RCL · MUL acc=27 · ANS ✓
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        stage: int | None = 0,
        machine: str | None = None,
        max_steps: int | None = None,
        partial_reward: float = 0.0,
        process_reward: float = 0.0,
        render_mode: str | None = None,
        tasks: str | Sequence[str] | TaskSet | None = None,
        show_expression: bool | None = None,
    ) -> None:
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
        stage, task, digits = parse_options(options, self.settings)
        if digits is None:
            batch = sample_episodes(self.task_set, self.np_random, 1, stage, task)
        else:
            assert task is not None
            batch = self.task_set.episode(task, digits)
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
        tools = [int(self.action_tokens[a]) for a in self._tools]
        return format_episode(self.settings, self._batch, 0, tools)

    def _observation(self) -> np.ndarray:
        assert self._batch is not None
        history = np.full((1, self.settings.max_steps), -1, dtype=np.int64)
        history[0, : len(self._tools)] = self._tools
        return self.settings.encode(self._batch, history)[0]

    def _info(self) -> dict[str, Any]:
        assert self._batch is not None
        info = episode_info(self._machine, self._batch, self.action_tokens)
        info = {k: v[0] for k, v in info.items()}
        return {
            "action_mask": info["action_mask"],
            "stage": int(info["stage"]),
            "task": int(info["task"]),
            "target": int(info["target"]),
            "answer": int(info["answer"]) if info["answered"] else None,
            "correct": bool(info["correct"]),
        }
