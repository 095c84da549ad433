"""Task sets: curriculum stages of tasks, tasks held out of training, and batches sampled from them.

A ``TaskSet`` holds the curriculum's stages (each a list of tasks) and tasks held out of
training, and turns task ids and digits into a padded ``Batch`` with pure tensor code (a small
stack machine runs every episode's postfix form at once, with the tool table's operators). The
three built-in stages are ``BUILTIN``.

>>> batch = BUILTIN.make_batch(torch.tensor([[4, 2, 7, 3, 5]]), torch.tensor([2]))
>>> batch.target.tolist(), batch.subgoals.tolist()
([0], [[8, 15, 15]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import torch

from nativeagent.machine.tools import EOS, SUM, linear_form
from nativeagent.tasks import expression as ex
from nativeagent.tasks.expression import OPERATOR_TOOLS, operator_tool
from nativeagent.tasks.task import HELD_OUT, N_STAGES, STAGES, Task, check_stage

#: Context columns of the built-in stages (``a`` to ``e``).
MAX_OPERANDS = 5
#: Most subgoals a built-in stage has (stage 2: ``a*b``, ``a*b+c``, ``d*e``).
MAX_SUBGOALS = 3
#: Values of ``Batch.prompt_sign``: no operand here, the operand counts with +, or with -.
NO_SIGN, PLUS, MINUS = 0, 1, 2


@dataclass
class Batch:
    """A batch of episodes: padded contexts, their tasks, targets, subgoals and prompts."""

    context: torch.Tensor  # (B, W) int64 digits the machine reads, [EOS]-padded
    stage: torch.Tensor  # (B,) int64 curriculum stage (-1: a held-out task)
    n_operands: torch.Tensor  # (B,) int64
    target: torch.Tensor  # (B,) int64
    subgoals: torch.Tensor  # (B, S) int64
    subgoal_valid: torch.Tensor  # (B, S) bool
    task: torch.Tensor  # (B,) int64 index into the task set's ``tasks``
    prompt: torch.Tensor  # (B, L) int64 tokens the model reads, [EOS]-padded
    prompt_len: torch.Tensor  # (B,) int64
    prompt_sign: torch.Tensor  # (B, L) int64 running sign of each prompt operand (``SIGNS``)
    position_offset: torch.Tensor  # (B,) int64 first position id (randomized positions; else 0)
    operand_position: torch.Tensor  # (B, W + 1) int64 prompt position of each operand (``cursor``)
    operator_position: torch.Tensor  # (B, K + 1) int64 prompt position of each operator, likewise

    def __len__(self) -> int:
        return self.stage.shape[0]

    def cursors(self, operand: torch.Tensor, applied: torch.Tensor) -> torch.Tensor:
        """``(B, 2)`` int64: where the machine stands in each episode's prompt, given the index
        of its next unread operand ``(B,)`` (``ToolMachine.operand``) and how many operators it
        has applied ``(B,)`` (``ToolMachine.applied``). Column 0, *the cursor*: that operand's
        prompt position; column 1, *the operator cursor*: the prompt position of the next
        operator of the postfix not yet applied (``operators applied + 1``-th). Each is the
        prompt's length once there is no such operand or operator."""
        return torch.stack(
            [_at(self.operand_position, operand), _at(self.operator_position, applied)], 1
        )

    def index(self, rows: torch.Tensor) -> Batch:
        """The episodes ``rows`` (indices or a bool mask), in that order."""
        return Batch(*(getattr(self, f.name)[rows] for f in fields(self)))


class TaskSet:
    """Curriculum stages of tasks, tasks held out of training, and how batches are made.

    ``show_expression`` is the task mode: the model reads the expression in postfix order,
    operand digits and operator tokens (``4 2 [MUL] 7 [ADD]``), instead of the digits alone and
    an embedding of which task it is. Every operand carries its running sign (read when
    ``task.show_signs``), and with ``sign_operators`` every operator too (``running_signs``).
    """

    def __init__(
        self,
        stages: Sequence[Sequence[Task]],
        held_out: Sequence[Task] = (),
        show_expression: bool = False,
        machine: str = "canonical",
        max_steps: int | None = None,
        sign_operators: bool = False,
    ) -> None:
        self.stages = tuple(tuple(s) for s in stages)
        self.held_out = tuple(held_out)
        self.show_expression = show_expression
        self.machine, self.max_steps = machine, max_steps  # whose shortest programs count
        if not self.stages or not all(self.stages):
            raise ValueError("a task set needs at least one stage, and every stage a task")
        self.tasks: tuple[Task, ...] = tuple(t for s in self.stages for t in s) + self.held_out
        self.width = max(t.n_operands for t in self.tasks)  # context columns
        stage_of = [i for i, s in enumerate(self.stages) for _ in s]
        self._stage_of = torch.tensor(stage_of + [HELD_OUT] * len(self.held_out))
        self._n_operands = torch.tensor([t.n_operands for t in self.tasks])
        self._length = torch.tensor([len(t.postfix) for t in self.tasks])
        self._n_subgoals = torch.tensor([ex.n_operators(t.tree) - 1 for t in self.tasks])
        self.n_subgoals = max(1, int(self._n_subgoals.max()))  # subgoal columns
        # Postfix templates (T, L): an operand's column, or an operator's token, and which.
        longest = max(len(t.postfix) for t in self.tasks)
        is_operand = [[int(isinstance(i, int)) for i in t.postfix] for t in self.tasks]
        code = [
            [i if isinstance(i, int) else operator_tool(i).token for i in t.postfix]
            for t in self.tasks
        ]
        self._is_operand = _pad(is_operand, longest, 0).bool()
        self._code = _pad(code, longest, EOS)
        signs = [running_signs(t.tree, operators=sign_operators) for t in self.tasks]
        self._sign = _pad(signs, longest, NO_SIGN)
        self._operand_position = torch.tensor(
            [operand_positions(t.postfix, self.width) for t in self.tasks]
        )  # (T, W + 1)
        operators = [operator_positions(t.postfix) for t in self.tasks]
        wide = max(map(len, operators))  # the prompt's length fills each row: no operator left
        self._operator_position = torch.tensor([p + p[-1:] * (wide - len(p)) for p in operators])
        first = torch.tensor([0, *torch.tensor([len(s) for s in self.stages]).cumsum(0).tolist()])
        self._stage_first, self._stage_size = first[:-1], first[1:] - first[:-1]

    @property
    def is_builtin(self) -> bool:
        """The three built-in stages, one task each, nothing held out."""
        return self.stages == tuple((t,) for t in STAGES) and not self.held_out

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def groups(self) -> list[int]:
        """Evaluation groups: every stage, then ``-1`` for the held-out tasks when there are any."""
        return [*range(self.n_stages), *([HELD_OUT] if self.held_out else [])]

    @property
    def stage_names(self) -> list[str]:
        """``stage_name`` of every stage."""
        return [self.stage_name(s) for s in range(self.n_stages)]

    @property
    def n_trained(self) -> int:
        """Tasks in the curriculum (ids ``0..n_trained-1``); held-out ids follow."""
        return len(self.tasks) - len(self.held_out)

    def shortest_program(self, task: Task) -> tuple[int, ...] | None:
        """The solver's shortest program for ``task`` on this task set's machine."""
        return task.shortest_program(self.machine, self.max_steps)

    @cached_property
    def shortest_lengths(self) -> torch.Tensor:
        """The solver's shortest program length of every task ``(T,)`` (float; inf: none)."""
        programs = [self.shortest_program(t) for t in self.tasks]
        return torch.tensor([len(p) if p else float("inf") for p in programs], dtype=torch.float)

    def stage_tasks(self, stage: int) -> range:
        """Task ids of one stage (``-1``: the held-out tasks)."""
        if stage == HELD_OUT:
            return range(self.n_trained, len(self.tasks))
        first = int(self._stage_first[stage])
        return range(first, first + len(self.stages[stage]))

    def in_turn(self, stage: int, count: int) -> torch.Tensor:
        """``count`` task ids of one stage, each task in turn ``(count,)``."""
        ids = torch.tensor(self.stage_tasks(stage))
        return ids.repeat(-(-count // len(ids)))[:count]

    def find(self, task: Task) -> int | None:
        """The id of the task with ``task``'s shape (its expression up to redundant
        parentheses), or ``None`` when the set has none."""
        return next((i for i, t in enumerate(self.tasks) if t.shape == task.shape), None)

    def stage_name(self, stage: int) -> str:
        """A stage's expression, or how many expressions it has (``-1``: the held-out ones)."""
        tasks = self.held_out if stage == HELD_OUT else self.stages[stage]
        return tasks[0].expression if len(tasks) == 1 else f"{len(tasks)} expressions"

    def pick_tasks(
        self,
        stages: torch.Tensor,
        generator: torch.Generator,
        weights: torch.Tensor | None = None,
        focus: float = 0.0,
    ) -> torch.Tensor:
        """A task id per episode ``(B,)`` within its stage (``-1``: held-out tasks).

        Uniform, except that a ``focus`` share of the episodes draws in proportion to the
        tasks' ``weights`` ``(T,)`` (e.g. their failure rates).
        """
        device = stages.device
        first = torch.cat([self._stage_first, torch.tensor([self.n_trained])]).to(device)
        size = torch.cat([self._stage_size, torch.tensor([len(self.held_out)])]).to(device)
        if bool((size[stages] == 1).all()):
            return first[stages]  # one task each: no draw, so the built-in stream is unchanged
        u = torch.rand(stages.shape, generator=generator, device=device)
        task = first[stages] + (u * size[stages]).long().clamp(max=size[stages] - 1)
        if weights is None or focus <= 0:
            return task
        stage_of = self._stage_of.to(device)  # (T,)
        w = weights.to(device).clamp(min=0)[None, :] * (stage_of[None, :] == stages[:, None])
        w = torch.where(w.sum(1, keepdim=True) > 0, w, (stage_of[None, :] == stages[:, None]))
        weighted = torch.multinomial(w.float(), 1, generator=generator).squeeze(1)  # (B,)
        pick = torch.rand(stages.shape, generator=generator, device=device) < focus
        return torch.where(pick, weighted, task)

    def episode(
        self, task: int, digits: Sequence[int], device: torch.device | str = "cpu"
    ) -> Batch:
        """A batch of one episode: task id ``task`` on ``digits`` (its operands, checked by the
        caller)."""
        padded = torch.full((1, self.width), EOS, dtype=torch.long, device=device)
        padded[0, : len(digits)] = torch.tensor(list(digits), device=device)
        return self.make_batch(padded, torch.tensor([task], device=device))

    def sample(
        self,
        stages: torch.Tensor,
        generator: torch.Generator,
        weights: torch.Tensor | None = None,
        focus: float = 0.0,
    ) -> Batch:
        """Fresh episodes for each entry of ``stages`` ``(B,)``: a task, then uniform digits."""
        task = self.pick_tasks(stages, generator, weights, focus)
        return self.sample_tasks(task, generator)

    def sample_tasks(self, task: torch.Tensor, generator: torch.Generator) -> Batch:
        """Fresh uniform digits for each task id of ``task`` ``(B,)``."""
        shape = (task.shape[0], self.width)
        digits = torch.randint(0, 10, shape, generator=generator, device=task.device)
        return self.make_batch(digits, task)

    def make_batch(self, digits: torch.Tensor, task: torch.Tensor) -> Batch:
        """Targets, subgoals and prompts of digits ``(B, W)`` for task ids ``(B,)``."""
        device = task.device
        n_ops = self._n_operands.to(device)[task]  # (B,)
        valid = torch.arange(digits.shape[1], device=device)[None, :] < n_ops[:, None]
        context = torch.where(valid, digits, EOS)
        x = torch.where(valid, digits, 0)
        is_operand = self._is_operand.to(device)[task]  # (B, L)
        code = self._code.to(device)[task]  # (B, L)
        length = self._length.to(device)[task]  # (B,)
        target, subgoals = _run_postfix(x, is_operand, code, length, self.n_subgoals)
        n_sub = self._n_subgoals.to(device)[task]  # (B,) operators but the root
        subgoal_valid = torch.arange(self.n_subgoals, device=device)[None, :] < n_sub[:, None]
        if self.show_expression:
            col = torch.where(is_operand, code, 0).clamp(max=digits.shape[1] - 1)
            shown = torch.where(is_operand, x.gather(1, col), code)  # (B, L)
            in_prompt = torch.arange(code.shape[1], device=device)[None, :] < length[:, None]
            prompt, prompt_len = torch.where(in_prompt, shown, EOS), length
            sign = self._sign.to(device)[task]
            operand_position = self._operand_position.to(device)[task]
            operator_position = self._operator_position.to(device)[task]
        else:
            prompt, prompt_len = context, n_ops
            sign = torch.zeros_like(context)
            columns = torch.arange(digits.shape[1] + 1, device=device)
            operand_position = torch.minimum(columns[None, :], n_ops[:, None])
            operator_position = n_ops[:, None]  # no operator is shown: the prompt's end
        stage = self._stage_of.to(device)[task]
        return Batch(
            context,
            stage,
            n_ops,
            target,
            subgoals,
            subgoal_valid,
            task,
            prompt,
            prompt_len,
            sign,
            torch.zeros_like(task),
            operand_position,
            operator_position,
        )


def operator_positions(postfix: Sequence[int | str]) -> list[int]:
    """Where each operator stands in a postfix prompt, in order, then the prompt's length.

    >>> operator_positions([0, 1, "*", 2, "+"])  # a b * c +
    [2, 4, 5]
    """
    return [i for i, item in enumerate(postfix) if isinstance(item, str)] + [len(postfix)]


def _at(positions: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``positions[b, index[b]]`` ``(B,)``, the index clamped to the last column."""
    last = positions.shape[1] - 1
    return positions.gather(1, index.clamp(0, last)[:, None]).squeeze(1)


def operand_positions(postfix: Sequence[int | str], width: int) -> list[int]:
    """Where operand ``k`` stands in a postfix prompt, for ``k`` in ``0..width``: the position
    of the first operand ``k`` or later (the prompt's length when there is none).

    >>> operand_positions([0, 1, "*", 2, "+"], 4)  # a b * c +
    [0, 1, 3, 5, 5]
    """
    found = [i for i, item in enumerate(postfix) if isinstance(item, int)]
    return [
        next((i for i in found if int(postfix[i]) >= k), len(postfix)) for k in range(width + 1)
    ]


def running_signs(node: ex.Node, sign: int = PLUS, operators: bool = False) -> list[int]:
    """The running sign of every operand, in postfix order (``NO_SIGN`` at operators): the sign
    with which it enters the sum it belongs to once the sum's parentheses are removed. With
    ``operators``, each operator carries the running sign of the sub-expression it closes.

    An operator of the form ``l + c*r`` (``+``, ``-``: ``linear_form``) passes its sign to the
    left and its sign times ``c`` to the right; any other operator (``*``) starts new sums.

    >>> from nativeagent.tasks.expression import parse
    >>> running_signs(parse("a-(b-c)+d"))  # a b c - - d +: the program is SUB ADD ADD
    [1, 2, 1, 0, 0, 1, 0]
    >>> running_signs(parse("a*b-(c+d)"))
    [1, 1, 0, 2, 2, 0, 0]
    >>> running_signs(parse("a+(b-c*d)"), operators=True)  # c*d enters the sum with -
    [1, 1, 1, 1, 2, 1, 1]
    """
    own = sign if operators else NO_SIGN
    if isinstance(node, ex.Operand):
        return [sign]
    form = linear_form(ex.operator_of(node.op).apply)
    if form is not None and form[0] == SUM and abs(form[1]) == 1:
        right = sign if form[1] == 1 else PLUS + MINUS - sign
        left_signs = running_signs(node.left, sign, operators)
        return [*left_signs, *running_signs(node.right, right, operators), own]
    return [
        *running_signs(node.left, PLUS, operators),
        *running_signs(node.right, PLUS, operators),
        own,
    ]


def _pad(rows: list[list[int]], width: int, fill: int) -> torch.Tensor:
    return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long)


def apply_operators(code: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``left op right`` per episode, ``op`` the operator whose tool token is ``code`` ``(B,)``
    (0 where ``code`` is no operator's token)."""
    value = torch.zeros_like(left)
    for tool in OPERATOR_TOOLS.values():
        assert tool.operator is not None
        value = torch.where(code == tool.token, tool.operator.apply(left, right), value)
    return value


def _run_postfix(
    x: torch.Tensor, is_operand: torch.Tensor, code: torch.Tensor, length: torch.Tensor, n_sub: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluate every episode's postfix form at once: target ``(B,)``, subgoals ``(B, n_sub)``.

    The loop is over postfix positions (at most 15), never over episodes.
    """
    size, longest = code.shape
    rows = torch.arange(size, device=x.device)
    stack = torch.zeros(size, longest + 1, dtype=torch.long, device=x.device)
    sp = torch.zeros(size, dtype=torch.long, device=x.device)  # stack height
    subgoals = torch.zeros(size, n_sub + 1, dtype=torch.long, device=x.device)
    n_done = torch.zeros(size, dtype=torch.long, device=x.device)  # operators applied
    for j in range(longest):
        live = j < length
        push = live & is_operand[:, j]
        apply = live & ~is_operand[:, j]
        digit = x.gather(1, torch.where(push, code[:, j], 0)[:, None]).squeeze(1)
        left = stack[rows, (sp - 2).clamp(min=0)]
        right = stack[rows, (sp - 1).clamp(min=0)]
        value = apply_operators(code[:, j], left, right)
        stack[rows, torch.where(push, sp, (sp - 2).clamp(min=0))] = torch.where(
            push, digit, torch.where(apply, value, stack[rows, (sp - 2).clamp(min=0)])
        )
        subgoals[rows, n_done.clamp(max=n_sub)] = torch.where(
            apply, value, subgoals[rows, n_done.clamp(max=n_sub)]
        )
        sp = sp + push.long() - apply.long()
        n_done = n_done + apply.long()
    return stack[:, 0], subgoals[:, :n_sub]


#: The three built-in stages, one task each.
BUILTIN = TaskSet([[t] for t in STAGES])


def make_batch(context: torch.Tensor, stage: torch.Tensor) -> Batch:
    """A batch of built-in stages from padded contexts ``(B, MAX_OPERANDS)``."""
    return BUILTIN.make_batch(context, stage)


def sample_batch(stage: torch.Tensor, generator: torch.Generator) -> Batch:
    """Sample fresh uniform-digit contexts for each built-in stage of ``stage`` ``(B,)``."""
    return BUILTIN.sample(stage, generator)


def stage_tensor(stage: int, size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """A ``(size,)`` tensor filled with one built-in stage index."""
    return torch.full((size,), check_stage(stage), dtype=torch.long, device=device)


__all__ = [
    "BUILTIN",
    "HELD_OUT",
    "MAX_OPERANDS",
    "MAX_SUBGOALS",
    "MINUS",
    "NO_SIGN",
    "N_STAGES",
    "PLUS",
    "STAGES",
    "Batch",
    "Task",
    "TaskSet",
    "apply_operators",
    "check_stage",
    "make_batch",
    "operand_positions",
    "operator_positions",
    "running_signs",
    "sample_batch",
    "stage_tensor",
]
