"""The tool table: every tool of every profile, declared once (see docs/machine.md).

A tool is one row: its token id and name, the *cases* it acts in and how it shows in a trace
(and, for an operator, the expression-language symbol it stands for). A case is a guard on the
machine's state (registers set or empty, armed or not, operands still unread) and the effect it
has there (read one or two values, write one register, empty registers, move the cursor, arm a
memory cell, answer). A tool is legal when one of its guards holds, and the first case whose
guard holds is the one that acts. Guards never look at values, only at which registers hold
one, so legality is the same for every context.

Everything else derives from these rows: the vocabulary of each profile, the plain-Python
reference machine (``reference.py``), the batched torch machine (``batched.py``), the symbolic
solver (``solver.py``), the operators of the expression language, the Gym action space and the
tables in docs/machine.md (``markdown_table``). A profile is a set of tools; adding a tool is
adding a row here (and its tests).

>>> [t.name for t in EXTENDED.tools]
['MUL', 'ADD', 'SUB', 'ANS', 'STO', 'RCL', 'LOAD', 'STO2', 'RCL2']
>>> CANONICAL.vocab_size, EXTENDED.vocab_size, EXTENDED.registers
(18, 21, ('acc', 'mem', 'mem2'))
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

#: Tokens every profile shares: the ten digits, the context marker (also the decoder's start
#: token) and the pad.
DIGITS: tuple[int, ...] = tuple(range(10))
CTX = 10
EOS = 17
SPECIAL: dict[int, str] = {CTX: "CTX", EOS: "EOS"}

#: The accumulator; the memory cells are named per profile.
ACC = "acc"
#: Sources a case can read besides a register: the cell that RCL armed, the next unread operand
#: ``x[p]`` and the one after it ``x[p+1]``.
ARMED = "armed"
NEXT = "x[p]"
SECOND = "x[p+1]"


@dataclass(frozen=True)
class Guard:
    """When a case applies; every condition must hold."""

    set: tuple[str, ...] = ()  # registers that must hold a value
    empty: tuple[str, ...] = ()  # registers that must be empty
    armed: bool = False  # True: only while a cell is armed; False: only while none is
    unread: int = 0  # operands that must still be unread (p + unread <= n)


@dataclass(frozen=True)
class Effect:
    """What a case does: the value is computed from the old state, then everything is written."""

    reads: tuple[str, ...] = ()  # one source (copied) or two (combined by the tool's operator)
    writes: str | None = None  # the register that receives the value
    clears: tuple[str, ...] = ()  # registers that become empty
    advance: int = 0  # operands consumed: the cursor moves on by this many
    arms: str | None = None  # the cell the next operator takes as its left operand (else none)
    answers: bool = False  # answer with the value read; the episode ends


@dataclass(frozen=True)
class Case:
    """One guarded effect of a tool."""

    when: Guard
    then: Effect


@dataclass(frozen=True)
class Operator:
    """The expression-language operator a tool computes: ``apply(left, right)`` works on ints,
    torch tensors and the solver's polynomials alike (``*``, ``+`` and ``-`` do)."""

    symbol: str
    precedence: int  # higher binds tighter; equal precedence associates to the left
    apply: Callable[[Any, Any], Any]


@dataclass(frozen=True, eq=False)
class Tool:
    """One row of the table (compared by identity: each tool is one object, shared by every
    profile that has it)."""

    token: int
    name: str
    cases: tuple[Case, ...]
    trace: str  # the trace entry, formatted with the registers after the step (and ``verdict``)
    operator: Operator | None = None

    @property
    def answers(self) -> bool:
        """Whether this tool ends the episode with an answer."""
        return any(c.then.answers for c in self.cases)

    @property
    def reads(self) -> tuple[str, ...]:
        """Every source any case reads (registers, ``armed``, operands), in order of mention."""
        return _unique(s for c in self.cases for s in c.then.reads)

    @property
    def writes(self) -> tuple[str, ...]:
        """Every part of the state any case changes: registers, the cursor ``p``, ``armed``."""
        parts = []
        for c in self.cases:
            e = c.then
            parts += [*([e.writes] if e.writes else []), *e.clears, *(["p"] if e.advance else [])]
            parts += ["armed"] if e.arms or c.when.armed else []
        return _unique(parts)


#: The two forms an operator may take for the batched machine and the expression language:
#: ``l + c*r`` (a sum; ``c = 0`` is a copy) and ``l * r`` (a product); ``linear_form`` tells.
SUM, PRODUCT = 0, 1


def linear_form(fn: Callable[[Any, Any], Any]) -> tuple[int, int] | None:
    """``(KIND, c)`` when ``fn(l, r)`` is ``l * r`` (``PRODUCT``) or ``l + c*r`` (``SUM``) for
    all ints, else ``None`` (the operator then takes the general path).

    >>> import operator
    >>> linear_form(operator.mul), linear_form(operator.sub), linear_form(max)
    ((1, 0), (0, -1), None)
    """
    grid = list(itertools.product(range(-4, 5), repeat=2))
    try:
        if all(fn(lv, rv) == lv * rv for lv, rv in grid):
            return PRODUCT, 0
        c = fn(0, 1)
        if all(fn(lv, rv) == lv + c * rv for lv, rv in grid):
            return SUM, c
    except ArithmeticError:  # e.g. a division by zero: neither form
        pass
    return None


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True, eq=False)
class Profile:
    """A named set of tools over an accumulator and some memory cells (compared by identity)."""

    name: str
    cells: tuple[str, ...]
    tools: tuple[Tool, ...]
    max_steps: int  # default step limit
    summary: str
    limits: str = ""  # what the profile cannot compute, in words (the solver's reasons)

    def __post_init__(self) -> None:
        ids = [t.token for t in self.tools]
        if len(set(ids)) < len(ids) or set(ids) & {*DIGITS, *SPECIAL}:
            raise ValueError(f"profile {self.name}: tool ids must be unique and not 0..10 or 17")
        names = [t.name for t in self.tools]
        if len(set(names)) < len(names):
            raise ValueError(f"profile {self.name}: tool names must be unique")

    @property
    def registers(self) -> tuple[str, ...]:
        """The value registers: the accumulator, then the memory cells."""
        return (ACC, *self.cells)

    @property
    def tokens(self) -> tuple[int, ...]:
        """The tool tokens, in table order (the Gym action order)."""
        return tuple(t.token for t in self.tools)

    @cached_property
    def vocabulary(self) -> dict[int, str]:
        """Token id -> short name (``'MUL'``, ``'7'``) for every token of the profile, by id."""
        names = {d: str(d) for d in DIGITS} | SPECIAL | {t.token: t.name for t in self.tools}
        return dict(sorted(names.items()))

    @property
    def vocab_size(self) -> int:
        """One more than the largest id (an id without a token is never a legal action)."""
        return max(self.vocabulary) + 1

    @cached_property
    def by_token(self) -> dict[int, Tool]:
        """Tool of each tool token."""
        return {t.token: t for t in self.tools}

    def tool(self, name: str) -> Tool:
        """The tool called ``name``; ``KeyError`` naming the choices otherwise."""
        for t in self.tools:
            if t.name == name:
                return t
        raise KeyError(f"profile {self.name} has no tool {name!r}; it has {self.tool_names}")

    @property
    def tool_names(self) -> str:
        return " ".join(t.name for t in self.tools)

    @property
    def operators(self) -> tuple[Tool, ...]:
        """The tools that apply an expression operator."""
        return tuple(t for t in self.tools if t.operator is not None)


# --- the rows ---------------------------------------------------------------------------------


def operator_tool(token: int, name: str, symbol: str, precedence: int, apply: Any) -> Tool:
    """A binary operator: after RCL it takes the armed cell as its left operand and acc as its
    right; with acc empty it combines the next two unread operands; else acc and the next one."""
    return Tool(
        token,
        name,
        cases=(
            Case(Guard(armed=True), Effect(reads=(ARMED, ACC), writes=ACC)),
            Case(
                Guard(empty=(ACC,), unread=2), Effect(reads=(NEXT, SECOND), writes=ACC, advance=2)
            ),
            Case(Guard(set=(ACC,), unread=1), Effect(reads=(ACC, NEXT), writes=ACC, advance=1)),
        ),
        trace=f"{name} acc={{acc}}",
        operator=Operator(symbol, precedence, apply),
    )


def store_tool(token: int, name: str, cell: str) -> Tool:
    """Move acc into a memory cell, leaving acc empty."""
    effect = Effect(reads=(ACC,), writes=cell, clears=(ACC,))
    return Tool(token, name, (Case(Guard(set=(ACC,)), effect),), trace=f"{name} {cell}={{{cell}}}")


def recall_tool(token: int, name: str, cell: str) -> Tool:
    """Arm a memory cell: the next operator computes ``cell op acc``."""
    return Tool(token, name, (Case(Guard(set=(ACC, cell)), Effect(arms=cell)),), trace=name)


MUL = operator_tool(11, "MUL", "*", 2, operator.mul)
ADD = operator_tool(12, "ADD", "+", 1, operator.add)
SUB = operator_tool(13, "SUB", "-", 1, operator.sub)
ANS = Tool(
    14, "ANS", (Case(Guard(set=(ACC,)), Effect(reads=(ACC,), answers=True)),), trace="ANS {verdict}"
)
STO = store_tool(15, "STO", "mem")
RCL = recall_tool(16, "RCL", "mem")
LOAD = Tool(
    18,
    "LOAD",
    (Case(Guard(empty=(ACC,), unread=1), Effect(reads=(NEXT,), writes=ACC, advance=1)),),
    trace="LOAD acc={acc}",
)
STO2 = store_tool(19, "STO2", "mem2")
RCL2 = recall_tool(20, "RCL2", "mem2")

CANONICAL = Profile(
    "canonical",
    cells=("mem",),
    tools=(MUL, ADD, SUB, ANS, STO, RCL),
    max_steps=8,
    summary="the tutorial's six tools: three operators, one memory cell, answer",
    limits="the canonical machine reads operands strictly left to right, starts each chain by "
    "combining the next two unread operands, keeps one value in memory, and uses memory only as "
    "the left operand (mem op acc, after RCL)",
)
EXTENDED = Profile(
    "extended",
    cells=("mem", "mem2"),
    tools=(*CANONICAL.tools, LOAD, STO2, RCL2),
    max_steps=12,
    summary="canonical plus LOAD and a second memory cell: every expression over up to four "
    "operands (in order, each once) is computable",
    limits="the extended machine reads operands strictly left to right, keeps two values in "
    "memory, and uses memory only as the left operand (mem op acc, after RCL or RCL2)",
)
PROFILES: dict[str, Profile] = {p.name: p for p in (CANONICAL, EXTENDED)}
#: Every machine by name: the profiles, and the tutorial's reward function (``legacy.py``),
#: which is not a tool set but runs the canonical tokens.
LEGACY = "seed-legacy"
LEGACY_MAX_STEPS = 7  # the tutorial's step limit
MACHINES: tuple[str, ...] = (*PROFILES, LEGACY)


def check_machine(machine: object) -> str:
    """Return ``machine`` if it names a machine, else raise ``ValueError`` listing the names."""
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r}; choose one of {', '.join(MACHINES)}")
    return str(machine)


def default_max_steps(machine: str) -> int:
    """A machine's own step limit (canonical 8, extended 12, seed-legacy 7)."""
    if check_machine(machine) == LEGACY:
        return LEGACY_MAX_STEPS
    return PROFILES[machine].max_steps


def profile(machine: str) -> Profile:
    """The tool profile a machine runs (``seed-legacy`` runs the canonical tokens)."""
    return PROFILES[CANONICAL.name if check_machine(machine) == LEGACY else machine]


def all_operators() -> dict[str, Tool]:
    """Every operator of every profile, by symbol (the expression language's operators)."""
    found: dict[str, Tool] = {}
    for p in PROFILES.values():
        for tool in p.operators:
            assert tool.operator is not None
            found.setdefault(tool.operator.symbol, tool)
    return found


def token_names() -> dict[int, str]:
    """Short name of every token of every profile (ids never collide across profiles)."""
    names: dict[int, str] = {}
    for p in PROFILES.values():
        names |= p.vocabulary
    return dict(sorted(names.items()))


# --- the table in words (docs/machine.md) -----------------------------------------------------

_UNREAD = {1: "an operand unread", 2: "two operands unread"}


def describe_guard(guard: Guard) -> str:
    """``'acc set, not armed'``: a guard in words."""
    parts = [f"{r} set" for r in guard.set] + [f"{r} empty" for r in guard.empty]
    if guard.unread:
        parts.append(_UNREAD.get(guard.unread, f"{guard.unread} operands unread"))
    parts.append("armed" if guard.armed else "not armed")
    return ", ".join(parts)


def describe_effect(effect: Effect, tool: Tool) -> str:
    """```mem = acc`; acc becomes empty``: an effect in words (Markdown), sources as in the
    table; ``cell`` stands for the armed cell."""
    parts = []
    reads = ["cell" if s == ARMED else s for s in effect.reads]
    if effect.writes:
        symbol = tool.operator.symbol if tool.operator and len(reads) == 2 else None
        value = f"{reads[0]} {symbol} {reads[1]}" if symbol else reads[0]
        parts.append(f"`{effect.writes} = {value}`")
    parts += [f"{r} becomes empty" for r in effect.clears]
    if effect.advance:
        parts.append(f"`p += {effect.advance}`")
    if effect.arms:
        parts.append(f"arm {effect.arms}: the next operator computes `{effect.arms} op acc`")
    if effect.answers:
        parts.append(f"answer {reads[0]}; the episode ends")
    if ARMED in effect.reads:
        parts.append("disarm")
    return "; ".join(parts)


def describe(tool: Tool) -> tuple[str, str]:
    """(effect, legal when) of a tool in words, derived from its cases."""
    if len(tool.cases) == 1:
        case = tool.cases[0]
        return describe_effect(case.then, tool), describe_guard(case.when)
    effect = ". ".join(
        f"{'If' if i == 0 else 'Else if'} {describe_guard(c.when)}: {describe_effect(c.then, tool)}"
        for i, c in enumerate(tool.cases)
    )
    legal = "; or ".join(describe_guard(c.when) for c in tool.cases)
    return effect, legal


def markdown_table(p: Profile) -> str:
    """The profile's tools as the Markdown table docs/machine.md shows (a test checks that the
    page holds exactly this; ``python -m nativeagent.machine`` prints every profile's)."""
    lines = ["| id | token | reads | writes | effect | legal when | trace |", "|---" * 7 + "|"]
    for tool in p.tools:
        effect, legal = describe(tool)
        reads, writes = ", ".join(tool.reads) or "-", ", ".join(tool.writes) or "-"
        trace = tool.trace.replace("{verdict}", "✓/✗").replace("{", "<").replace("}", ">")
        lines.append(
            f"| {tool.token} | `[{tool.name}]` | {reads} | {writes} | {effect} | {legal} | "
            f"`{trace}` |"
        )
    return "\n".join(lines)


__all__ = [
    "ACC",
    "ARMED",
    "CANONICAL",
    "CTX",
    "DIGITS",
    "EOS",
    "EXTENDED",
    "LEGACY",
    "LEGACY_MAX_STEPS",
    "MACHINES",
    "NEXT",
    "PRODUCT",
    "PROFILES",
    "SECOND",
    "SUM",
    "Case",
    "Effect",
    "Guard",
    "Operator",
    "Profile",
    "Tool",
    "all_operators",
    "check_machine",
    "default_max_steps",
    "describe",
    "linear_form",
    "markdown_table",
    "profile",
    "token_names",
]
