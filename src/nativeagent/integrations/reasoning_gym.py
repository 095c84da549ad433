"""nativeagent's tasks as a reasoning-gym dataset named ``nativeagent``: write the tool program.

Importing this module registers the dataset with reasoning-gym (again is a no-op), so
``import nativeagent.integrations.reasoning_gym`` is all a user needs before
``reasoning_gym.create_dataset("nativeagent", ...)``; ``import nativeagent`` never imports
reasoning-gym. Needs ``pip install 'nativeagent[reasoning-gym]'``. See docs/reasoning_gym.md.

>>> import reasoning_gym
>>> import nativeagent.integrations.reasoning_gym
>>> data = reasoning_gym.create_dataset("nativeagent", expressions=["a*b+c"], seed=1, size=3)
>>> entry = data[0]
>>> entry["answer"], entry["metadata"]["expression"], entry["metadata"]["context"]
('MUL ADD ANS', 'a*b+c', [4, 1, 7])
>>> data.score_answer("mul, add, ans", entry), data.score_answer("ADD MUL ANS", entry)
(1.0, 0.0)
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:
    import reasoning_gym
    from reasoning_gym import factory
    from reasoning_gym.coaching import BaseCurriculum, RangeAttributeDefinition
    from reasoning_gym.dataset import ProceduralDataset
except ImportError as err:  # the optional extra
    raise ImportError(
        f"{__name__} needs reasoning-gym: pip install 'nativeagent[reasoning-gym]' ({err})"
    ) from err

from nativeagent.machine.machines import check_max_steps
from nativeagent.machine.tools import LEGACY, PROFILES, Profile, default_max_steps, describe
from nativeagent.tasks.execution import execute
from nativeagent.tasks.expression import LETTERS
from nativeagent.tasks.generate import MAX_LISTED_OPERANDS, TaskSpecError, all_reachable, computable
from nativeagent.tasks.split import split_held_out
from nativeagent.tasks.task import Task
from nativeagent.tokens import name

#: The name the dataset is registered under.
DATASET_NAME = "nativeagent"
#: Which shapes the items come from: those a nativeagent agent trains on, those it holds out, both.
SPLITS = ("train", "held_out", "all")
#: Most operands the operand-count mode lists (every reachable shape is enumerated, then split).
MAX_OPERANDS = MAX_LISTED_OPERANDS

Expressions = tuple[tuple[str, ...], ...]


@dataclass
class NativeAgentConfig:
    """Which tasks, on which machine, and which side of nativeagent's held-out split.

    The split is nativeagent's own (``split_held_out``): a config with ``task.all_reachable =
    max_operands`` (or ``task.curriculum = expressions``), the same ``task.held_out``,
    ``task.split_seed``, ``machine.name`` and ``machine.max_steps`` trains on exactly the
    ``"train"`` shapes. The defaults mirror the ``generalization`` preset.
    """

    machine: str = "canonical"
    """Tool profile the programs run on: ``"canonical"`` or ``"extended"``."""
    min_operands: int = 2
    """Fewest operands (2..5) of an expression, when ``expressions`` is not given."""
    max_operands: int = 4
    """Most operands (2..5): every expression over 2..max_operands the machine can compute is
    split (as ``task.all_reachable``), then those with fewer than ``min_operands`` dropped."""
    expressions: Sequence[str | Sequence[str]] | None = None
    """Explicit expressions instead of the operand counts, as ``task.curriculum``: each entry an
    expression (a stage of its own, never held out) or a list of them (one stage)."""
    split: str = "all"
    """``"train"``, ``"held_out"`` or ``"all"``: the shapes the items are drawn from."""
    held_out: float = 0.2
    """Fraction of the shapes held out (``task.held_out``, 0 <= held_out < 1)."""
    split_seed: int = 0
    """Seed of the held-out split (``task.split_seed``)."""
    max_steps: int | None = None
    """Step limit of a program (``machine.max_steps``; default the machine's: 8 or 12)."""
    seed: int | None = None
    size: int = 500

    @property
    def steps(self) -> int:
        """The step limit in effect."""
        return default_max_steps(self.machine) if self.max_steps is None else self.max_steps

    def validate(self) -> None:
        """``ValueError`` whose message starts with the field at fault, for any that cannot work."""
        if self.machine == LEGACY:
            raise ValueError(
                f"machine: {LEGACY!r} is the tutorial's reward function, not a tool machine; "
                f"choose one of {', '.join(PROFILES)}"
            )
        if self.machine not in PROFILES:
            raise ValueError(
                f"machine: unknown machine {self.machine!r}; choose one of {', '.join(PROFILES)}"
            )
        try:
            check_max_steps(self.max_steps)
        except ValueError as err:
            raise ValueError(f"max_steps: {err}") from None
        for field in ("min_operands", "max_operands"):
            value = getattr(self, field)
            if not _is_int(value) or not 2 <= value <= MAX_OPERANDS:
                raise ValueError(f"{field}: must be an int 2..{MAX_OPERANDS}, got {value!r}")
        if self.max_operands < self.min_operands:
            raise ValueError(
                f"max_operands: must be >= min_operands ({self.min_operands}), "
                f"got {self.max_operands}"
            )
        if self.split not in SPLITS:
            raise ValueError(f"split: must be one of {', '.join(SPLITS)}, got {self.split!r}")
        fraction = self.held_out
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float))
            or not (0 <= fraction < 1)
        ):
            raise ValueError(f"held_out: must be a fraction 0 <= held_out < 1, got {fraction!r}")
        if not _is_int(self.split_seed) or self.split_seed < 0:
            raise ValueError(f"split_seed: must be an int >= 0, got {self.split_seed!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed: must be an int or None, got {self.seed!r}")
        if not _is_int(self.size) or self.size < 1:
            raise ValueError(f"size: must be a positive int, got {self.size!r}")
        if not pool(self) and self.split == "held_out":
            raise ValueError(
                f"split: 'held_out' has no shapes to draw from (held_out={self.held_out} holds "
                "none out; a stage's last shape is never held out)"
            )

    def expression_stages(self) -> Expressions | None:
        """``expressions`` as a tuple of stages (each a tuple of texts), checked for its form."""
        if self.expressions is None:
            return None
        if isinstance(self.expressions, str) or not isinstance(self.expressions, Sequence):
            raise ValueError(
                "expressions: must be a list of expressions (or of lists of them), "
                f"got {self.expressions!r}"
            )
        if not self.expressions:
            raise ValueError("expressions: needs at least one expression (or None)")
        stages = []
        for i, entry in enumerate(self.expressions):
            texts = (entry,) if isinstance(entry, str) else entry
            if not isinstance(texts, Sequence) or not texts:
                raise ValueError(f"expressions[{i}]: must be an expression or a non-empty list")
            if not all(isinstance(t, str) for t in texts):
                raise ValueError(f"expressions[{i}]: expressions are strings, got {entry!r}")
            stages.append(tuple(texts))
        return tuple(stages)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def pool(config: NativeAgentConfig) -> tuple[Task, ...]:
    """The tasks ``config.split`` draws from (validating the expressions on the way)."""
    train, held = split_tasks(config)
    return {"train": train, "held_out": held, "all": train + held}[config.split]


def split_tasks(config: NativeAgentConfig) -> tuple[tuple[Task, ...], tuple[Task, ...]]:
    """(train, held-out) tasks of ``config``, split as nativeagent splits its task set."""
    stages = config.expression_stages()
    operands = None if stages else (config.min_operands, config.max_operands)
    return _split(
        config.machine, config.steps, operands, stages, float(config.held_out), config.split_seed
    )


@lru_cache(maxsize=32)
def _split(
    machine: str,
    max_steps: int,
    operands: tuple[int, int] | None,
    expressions: Expressions | None,
    held_out: float,
    split_seed: int,
) -> tuple[tuple[Task, ...], tuple[Task, ...]]:
    if expressions is None:
        assert operands is not None
        stages = [list(all_reachable(n, machine, max_steps)) for n in range(2, operands[1] + 1)]
    else:
        stages = [
            [_computable(text, i, machine, max_steps) for text in stage]
            for i, stage in enumerate(expressions)
        ]
        shapes = [t.shape for s in stages for t in s]
        for shape in shapes:
            if shapes.count(shape) > 1:
                raise ValueError(f"expressions: {shape} appears more than once")
    kept, held = split_held_out(stages, held_out, split_seed)
    train = [t for s in kept for t in s]
    if operands is not None:
        train = [t for t in train if t.n_operands >= operands[0]]
        held = [t for t in held if t.n_operands >= operands[0]]
    return tuple(train), tuple(held)


def _computable(text: str, i: int, machine: str, max_steps: int) -> Task:
    try:
        return computable(text, f"expressions[{i}]", machine, max_steps)
    except TaskSpecError:
        raise
    except ValueError as err:  # a malformed expression
        raise ValueError(f"expressions[{i}]: {err}") from None


def _plain(text: str) -> str:
    return text.replace("`", "")


def tool_lines(p: Profile) -> list[str]:
    """One line per tool of ``p``: its effect and when it is legal, in words (the tool table)."""
    lines = []
    for tool in p.tools:
        effect, legal = describe(tool)
        lines.append(f"- {tool.name}: {_plain(effect)}. Legal when: {legal}.")
    return lines


def question(task: Task, context: Sequence[int], machine: str, max_steps: int) -> str:
    """The item's question: the task, the digits, the machine's tools and the answer format."""
    p = PROFILES[machine]
    n = len(context)
    letters = ", ".join(LETTERS[:n])
    values = ", ".join(f"{letter} = {d}" for letter, d in zip(LETTERS, context, strict=False))
    cells = f"memory cell{'s' if len(p.cells) > 1 else ''} {', '.join(p.cells)}"
    arming = [t.name for t in p.tools if any(c.then.arms for c in t.cases)]
    armed = (
        f" After {' or '.join(arming)} the cell it names is armed: the next operator takes it "
        '("cell" below) as its left operand and acc as its right, then disarms.'
        if arming
        else ""
    )
    answering = " or ".join(t.name for t in p.tools if t.answers)
    return "\n".join(
        [
            f"Write a program for a tiny register machine that computes {task.expression} "
            f"with {values}.",
            "",
            f"The machine has an accumulator acc and {cells}, empty at the start. "
            f"The operands x[0..{n - 1}] are {letters}, the digits {' '.join(map(str, context))}; "
            "the machine reads them strictly left to right, each once, through a cursor p that "
            "starts at 0 (x[p] is the next unread operand, x[p+1] the one after it)." + armed,
            "",
            "Each step runs one tool. A tool can only be used when it is legal; when a tool has "
            "several cases, the first whose condition holds is the one that acts. The tools:",
            *tool_lines(p),
            "",
            f"The program fails at a tool that is not legal, when no tool is legal any more, or "
            f"without {answering} within {max_steps} tools; it succeeds when {answering} answers "
            f"the value of {task.expression}.",
            f"Answer with the program alone: the tool names in order, separated by spaces, ending "
            f"with {answering} (at most {max_steps} tools).",
        ]
    )


_SEPARATORS = re.compile(r"[\s,]+")


def parse_program(answer: object, machine: str, max_steps: int) -> list[str] | None:
    """The tool names of an answer, or ``None`` when it is not a program for ``machine``.

    Tolerated: any case, spaces and/or commas between tools, a name in brackets (``[MUL]``).
    Refused: a non-string, no tools, a word that is not one of the machine's tools (so any
    other text), more than ``max_steps`` tools, and a program that does not end at its one ANS.
    """
    if not isinstance(answer, str):
        return None
    words = [w for w in _SEPARATORS.split(answer) if w]
    if not words or len(words) > max_steps:
        return None
    p = PROFILES[machine]
    names = {t.name for t in p.tools}
    answering = {t.name for t in p.tools if t.answers}
    program = []
    for word in words:
        key = word.upper()
        if len(key) > 2 and key[0] == "[" and key[-1] == "]":
            key = key[1:-1]
        if key not in names:
            return None
        program.append(key)
    if program[-1] not in answering or answering & set(program[:-1]):
        return None
    return program


class NativeAgentDataset(ProceduralDataset):
    """Items: an expression and its digits; the answer is the solver's shortest tool program.

    Any program the machine runs to the stated target within ``max_steps`` tools scores 1.0,
    not only the shortest (``score_answer``); item ``idx`` depends on (seed, idx) alone.
    """

    def __init__(self, config: NativeAgentConfig) -> None:
        super().__init__(config=config, seed=config.seed, size=config.size)
        self._steps = config.steps
        self._held = {t.shape for t in split_tasks(config)[1]}
        tasks = pool(config)
        counts = sorted({t.n_operands for t in tasks})
        if config.expressions is None:  # operand count uniform, then a shape of that count
            self._groups = [tuple(t for t in tasks if t.n_operands == n) for n in counts]
        else:  # uniform over the expressions given
            self._groups = [tasks]
        self._difficulty = {"n_operands": (counts[0], counts[-1])}
        self._programs: dict[str, str] = {}

    def answer_of(self, task: Task) -> str:
        """The solver's shortest program for ``task``, as tool names separated by spaces."""
        if task.shape not in self._programs:
            program = task.shortest_program(self.config.machine, self._steps)
            assert program is not None  # every task in the pool is computable
            self._programs[task.shape] = " ".join(name(t) for t in program)
        return self._programs[task.shape]

    def __getitem__(self, idx: int) -> dict[str, Any]:
        """Item ``idx``: a question, its answer (a shortest program) and its metadata."""
        rng = random.Random(self.seed + idx)
        task = rng.choice(rng.choice(self._groups))
        context = [rng.randint(0, 9) for _ in range(task.n_operands)]
        answer = self.answer_of(task)
        machine = self.config.machine
        return {
            "question": question(task, context, machine, self._steps),
            "answer": answer,
            "metadata": {
                "source_dataset": DATASET_NAME,
                "source_index": idx,
                "expression": task.expression,
                "shape": task.shape,
                "n_operands": task.n_operands,
                "context": context,
                "operands": dict(zip(LETTERS, context, strict=False)),
                "target": task.target(context),
                "machine": machine,
                "max_steps": self._steps,
                "split": "held_out" if task.shape in self._held else "train",
                "program_length": len(answer.split()),
                "difficulty": dict(self._difficulty),
            },
        }

    def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
        """1.0 when ``answer`` is a program (``parse_program``) that answers the entry's target on
        its machine, else 0.0; a malformed answer scores 0.0, never raises."""
        meta = entry["metadata"]
        program = parse_program(answer, meta["machine"], meta["max_steps"])
        if program is None:
            return 0.0
        outcome = execute(
            program, meta["context"], meta["expression"], meta["machine"], meta["max_steps"]
        )
        return 1.0 if outcome.correct and outcome.answer == meta["target"] else 0.0


class NativeAgentCurriculum(BaseCurriculum):
    """reasoning-gym's curriculum over the operand count (2, then up to 3, 4, 5)."""

    def __init__(self) -> None:
        super().__init__(NativeAgentCurriculum.__name__, NativeAgentConfig)
        self._define_attributes(
            RangeAttributeDefinition(
                name="n_operands",
                levels=list(range(2, MAX_OPERANDS + 1)),
                default_level=0,
                description="Operands of an expression (each used once, in order)",
                lower_field_name="min_operands",
                upper_field_name="max_operands",
            )
        )


def register() -> None:
    """Register the dataset as ``nativeagent`` with reasoning-gym; once more is a no-op (and a
    reloaded module replaces its old classes), while a foreign ``nativeagent`` is an error."""
    current = factory.DATASETS.get(DATASET_NAME)
    if current is not None:
        cls = current[0]
        if cls is NativeAgentDataset:
            return
        if (cls.__module__, cls.__qualname__) != (__name__, NativeAgentDataset.__qualname__):
            raise ValueError(
                f"reasoning-gym already has a dataset {DATASET_NAME!r}: "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        del factory.DATASETS[DATASET_NAME]
        factory.CURRICULA.pop(DATASET_NAME, None)
    reasoning_gym.register_dataset(
        DATASET_NAME, NativeAgentDataset, NativeAgentConfig, NativeAgentCurriculum
    )


register()

__all__ = [
    "DATASET_NAME",
    "MAX_OPERANDS",
    "SPLITS",
    "NativeAgentConfig",
    "NativeAgentCurriculum",
    "NativeAgentDataset",
    "parse_program",
    "pool",
    "question",
    "register",
    "split_tasks",
    "tool_lines",
]
