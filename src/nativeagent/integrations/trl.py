"""The tool machine as a TRL environment: ``GRPOTrainer(environment_factory=...)`` trains a
language model to call the machine's tools, one tool call per step, and rewards it from the
machine's verdict.

``environment_class(machine)`` builds, from the tool table, a class with ``reset(**row)`` and one
public method per tool of the profile (canonical: ``MUL ADD SUB ANS STO RCL``; extended adds
``LOAD STO2 RCL2``), each with a docstring that TRL turns into the tool's JSON schema. A call
steps the machine (``machine.rules``, the rules the reference machine runs) and returns its
state in words; the reward is the reference machine's on the calls made (1.0 when ``ANS``
answered the stated target, else 0.0). ``machine_reward`` is the matching ``reward_funcs``
entry, ``make_dataset`` a ``datasets.Dataset`` of rows. This module imports neither TRL nor
transformers (``make_dataset`` imports ``datasets``); ``import nativeagent`` never imports it.
See docs/trl.md.

>>> env = environment_class("canonical")()
>>> print(env.reset(expression="a*b+c", context=[4, 2, 7]))  # doctest: +NORMALIZE_WHITESPACE
Task: compute a*b+c where a=4 b=2 c=7, by calling the machine's tools (MUL ADD SUB ANS STO
RCL) one at a time; ANS answers with acc and ends the episode (at most 8 calls).
acc=empty mem=empty; operands read: 0 of 3 (next: a=4); armed: none. Legal now: MUL ADD SUB.
>>> print(env.MUL())  # doctest: +NORMALIZE_WHITESPACE
MUL acc=8. acc=8 mem=empty; operands read: 2 of 3 (next: c=7); armed: none.
Legal now: MUL ADD SUB ANS STO.
>>> _ = env.ADD()
>>> print(env.ANS())
ANS ✓: answered 15, the target. The episode has ended: reward 1.0.
>>> env.reward, env.program
(1.0, ('MUL', 'ADD', 'ANS'))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nativeagent.machine import rules
from nativeagent.machine.machines import check_max_steps
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.reference import format_trace, run_program
from nativeagent.machine.tools import (
    CANONICAL,
    LEGACY,
    PROFILES,
    Profile,
    Tool,
    check_machine,
    describe,
)
from nativeagent.tasks.execution import execute
from nativeagent.tasks.expression import LETTERS
from nativeagent.tasks.generate import check_computable, parse_expressions
from nativeagent.tasks.task import Task

if TYPE_CHECKING:
    from datasets import Dataset

#: The user message ``make_dataset`` puts before the task that ``reset`` appends to it.
DEFAULT_PROMPT = "Solve the task with the register machine's tools.\n\n"


class ToolMachineEnvironment:
    """One episode of the tool machine for TRL's ``environment_factory``: ``reset(**row)``
    starts it, and each tool method of a class from ``environment_class`` makes one call.

    TRL exposes every public function of the class as a tool, so everything else here is a
    property or private. Before ``reset`` no call is possible; after the episode ends, calls
    change nothing and say so.
    """

    profile: ClassVar[Profile] = CANONICAL

    def __init__(self) -> None:
        self._task: Task | None = None
        self._context: list[int] = []
        self._max_steps = self.profile.max_steps
        self._state: rules.State[int] = rules.start(self.profile)
        self._program: list[Tool] = []
        self._done = False

    def reset(
        self,
        *,
        expression: str,
        context: Sequence[int],
        machine: str | None = None,
        max_steps: int | None = None,
        **row: Any,
    ) -> str:
        """Start an episode of ``expression`` over the digits ``context`` (a dataset row; other
        columns, such as ``prompt``, are ignored) and return the task in words."""
        if machine is not None and machine != self.profile.name:
            raise ValueError(
                f"this environment runs machine {self.profile.name!r}, the row asks for "
                f"{machine!r}; use environment_class({machine!r})"
            )
        digits = context.tolist() if hasattr(context, "tolist") else list(context)
        task = Task.parse(expression)
        # execute validates the digits and max_steps against the task (no program: no step).
        execute((), digits, task, self.profile.name, max_steps)
        self._task, self._context = task, digits
        self._max_steps = self.profile.max_steps if max_steps is None else max_steps
        self._state, self._program, self._done = rules.start(self.profile), [], False
        operands = " ".join(f"{LETTERS[i]}={d}" for i, d in enumerate(digits))
        head = (
            f"Task: compute {expression} where {operands}, by calling the machine's tools "
            f"({self.profile.tool_names}) one at a time; ANS answers with acc and ends the "
            f"episode (at most {self._max_steps} calls)."
        )
        return f"{head}\n{self._describe_state()}"

    @property
    def task(self) -> Task | None:
        """The episode's task (``None`` before ``reset``)."""
        return self._task

    @property
    def context(self) -> tuple[int, ...]:
        """The episode's digits."""
        return tuple(self._context)

    @property
    def program(self) -> tuple[str, ...]:
        """The tools called this episode, in order (calls after its end are not counted)."""
        return tuple(t.name for t in self._program)

    @property
    def done(self) -> bool:
        """Whether the episode has ended (answer, illegal call, stuck, or out of calls)."""
        return self._done

    @property
    def outcome(self) -> Outcome:
        """The reference machine's outcome of the calls made: answer, verdict, reward, trace."""
        if self._task is None:
            raise RuntimeError("call reset() before reading the outcome")
        tokens = [t.token for t in self._program]
        target = self._task.target(self._context)
        return run_program(self.profile, tokens, self._context, target, self._max_steps)

    @property
    def reward(self) -> float:
        """The machine's reward: 1.0 when ``ANS`` answered the stated target, else 0.0."""
        return self.outcome.reward

    def _call(self, tool: Tool) -> str:
        """Make one call of ``tool`` and return what happened and the state, in words."""
        if self._task is None:
            raise RuntimeError("call reset() before calling a tool")
        if self._done:
            return (
                f"error: the episode has already ended (reward {self.reward}); {tool.name} "
                "did nothing."
            )
        p, n = self.profile, len(self._context)
        self._program.append(tool)
        move = rules.move(p, tool, self._state, n)
        if move is None:
            self._done = True
            legal_when = describe(tool)[1]
            return (
                f"error: {tool.name} is illegal now (it is legal when: {legal_when}). The episode "
                "has ended unsolved: reward 0.0."
            )
        if move.answers:
            self._done = True
            (answer,) = rules.read(p, move, self._state, self._context)
            outcome = self.outcome
            verdict = "the target" if outcome.correct else "not the target"
            return (
                f"{outcome.trace[-1]}: answered {answer}, {verdict}. The episode has ended: "
                f"reward {outcome.reward}."
            )
        self._state = rules.apply(p, move, self._state, self._context)
        step = format_trace(tool, p, self._state)
        if rules.stuck(p, self._state, n):
            self._done = True
            return f"{step}. No tool is legal now: the episode has ended unsolved: reward 0.0."
        if len(self._program) >= self._max_steps:
            self._done = True
            return (
                f"{step}. No ANS within the limit of {self._max_steps} calls: the episode has "
                "ended unsolved: reward 0.0."
            )
        return f"{step}. {self._describe_state()}"

    def _describe_state(self) -> str:
        """The registers, the cursor, the armed cell and the legal tools, in one line."""
        p, n, state = self.profile, len(self._context), self._state
        registers = " ".join(
            f"{r}={'empty' if v is None else v}"
            for r, v in zip(p.registers, state.values, strict=True)
        )
        cursor = f"operands read: {state.p} of {n}"
        if state.p < n:
            cursor += f" (next: {LETTERS[state.p]}={self._context[state.p]})"
        legal = " ".join(t.name for t in rules.legal(p, state, n))
        return f"{registers}; {cursor}; armed: {state.armed or 'none'}. Legal now: {legal}."


def _reward_method(self: ToolMachineEnvironment) -> float:
    """The episode's reward for TRL (``get_reward``): the machine's verdict on the calls."""
    return self.reward


def _tool_method(tool: Tool) -> Callable[[ToolMachineEnvironment], str]:
    """The public method that calls ``tool``, named after it, with a docstring TRL (through
    transformers' ``get_json_schema``) turns into the tool's schema."""

    # ``self`` stays unannotated: transformers' get_json_schema reads every annotation of the
    # function (``self``'s too) as a parameter type, and a class is no JSON type.
    def call(self) -> str:
        return self._call(tool)

    effect, legal = (s.replace("`", "") for s in describe(tool))
    call.__name__ = call.__qualname__ = tool.name
    call.__doc__ = (
        f"{effect}. Legal when: {legal}. An illegal call ends the episode unsolved.\n\n"
        "Returns:\n    The machine's state after the call, or how the episode ended."
    )
    return call


@cache
def environment_class(
    machine: str = CANONICAL.name, owns_reward: bool = False
) -> type[ToolMachineEnvironment]:
    """The environment class of ``machine`` (``canonical`` or ``extended``): one tool method per
    tool of its profile, so a tool added to the table is a method here too (one class per
    machine, cached: TRL matches environments by type).

    ``owns_reward=True`` adds ``get_reward``, which TRL (1.16 and later) picks up as a reward
    source of its own; then leave ``machine_reward`` out of ``reward_funcs``, or the reward
    counts twice.
    """
    if check_machine(machine) == LEGACY:
        raise ValueError(
            f"{LEGACY!r} is the tutorial's reward function, not a tool machine; "
            f"choose one of {', '.join(PROFILES)}"
        )
    profile = PROFILES[machine]
    members: dict[str, Any] = {t.name: _tool_method(t) for t in profile.tools}
    members |= {"profile": profile, "__module__": __name__}
    members["__doc__"] = (
        f"The {machine} tool machine as a TRL environment: tools {profile.tool_names}."
    )
    name = f"{machine.title()}ToolMachineEnvironment"
    if owns_reward:
        members["get_reward"] = _reward_method
        name = f"{machine.title()}ToolMachineRewardEnvironment"
    return type(name, (ToolMachineEnvironment,), members)


def machine_reward(environments: Sequence[object], **kwargs: Any) -> list[float | None]:
    """A ``reward_funcs`` entry for GRPOTrainer: each rollout's machine reward, read from the
    environment TRL passes (``None``, which TRL skips, for an environment not of this module)."""
    return [e.reward if isinstance(e, ToolMachineEnvironment) else None for e in environments]


def make_dataset(
    expressions: str | Sequence[str],
    size: int,
    rng: np.random.Generator | int = 0,
    machine: str = CANONICAL.name,
    max_steps: int | None = None,
    prompt: str = DEFAULT_PROMPT,
) -> Dataset:
    """A ``datasets.Dataset`` of ``size`` rows for ``GRPOTrainer``: columns ``prompt`` (one user
    message, to which ``reset`` appends the task), ``expression`` (drawn uniformly from
    ``expressions``), ``context`` (uniform digits from ``rng``) and ``machine``, plus
    ``max_steps`` when given. Every expression must be computable on ``machine`` within the
    step limit (``TaskSpecError`` otherwise), so every row can earn the reward."""
    from datasets import Dataset

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    check_max_steps(max_steps)
    cls = environment_class(machine)
    limit = cls.profile.max_steps if max_steps is None else max_steps
    texts = [expressions] if isinstance(expressions, str) else list(expressions)
    tasks = check_computable(parse_expressions(texts), machine, limit)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    picks = gen.integers(0, len(tasks), size=size)
    rows: dict[str, list[Any]] = {"prompt": [], "expression": [], "context": [], "machine": []}
    for i in picks:
        task = tasks[int(i)]
        rows["prompt"].append([{"role": "user", "content": prompt}])
        rows["expression"].append(task.expression)
        rows["context"].append(gen.integers(0, 10, size=task.n_operands).tolist())
        rows["machine"].append(machine)
    if max_steps is not None:
        rows["max_steps"] = [max_steps] * size
    return Dataset.from_dict(rows)


__all__ = [
    "DEFAULT_PROMPT",
    "ToolMachineEnvironment",
    "environment_class",
    "machine_reward",
    "make_dataset",
]
