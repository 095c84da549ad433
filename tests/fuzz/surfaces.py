"""What the fuzz tests and ``benchmarks/fuzz.py`` share: per surface, a hypothesis strategy of
inputs and ``check(input) -> str``, which runs one input through the real code, asserts the
contract and returns the outcome's label (``"ok"``, ``"exit 2"``, ``"ValueError"``, ...).

The contract of a command: it ends with exit 0, or with a documented exit code and exactly one
line on stderr starting with ``error:`` (``solve``'s exit 1 prints its usual lines instead);
never a traceback (any exception other than ``SystemExit`` escaping ``nativeagent.cli.main`` is
a crash, and ``check`` lets it propagate); and never a partial file: after a failure the paths
the command would write do not exist (or are unchanged), and no temporary (``.*.tmp``) is left.
Commands run in-process (``run_cli``), in an empty scratch working directory that must stay
empty. A library surface must return a result or raise the ``ValueError`` subclass it
documents, with a one-line message.

Inputs that would make the solver search for minutes (many operands with a long step limit:
the symbolic search grows exponentially with ``max_steps``) are avoided by the strategies, or
labelled ``"skipped: solver search too large"`` where only the validated configuration shows it
(``SOLVER_DEPTH``); ``configure("bench")`` allows larger searches than the tests' default.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import random
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import tomli_w
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Operand letters the fuzzing writes expressions with: the first eight of the parser's a..z
#: (beyond them the solver's search grows too fast for any budget).
LETTERS = "abcdefgh"
OPS = "*+-"
MACHINES = ("canonical", "extended", "seed-legacy")
#: Characters near the grammar's: other letters, digits, operators it lacks, whitespace and
#: control characters, look-alikes of its operators (U+2212 minus, U+00D7 times), emoji.
JUNK = "IJXYZABH0123456789/^%.,_=!#[]{}\t\n\r\x00\x0b\x1c\u2028\u2212\u00d7\u00e9\U0001f600"

# --- budgets ---------------------------------------------------------------------------------

#: The longest step limit the fuzzing lets the solver search, per machine and operand count:
#: beyond it one search takes seconds to minutes (it grows exponentially with the limit).
#: "test" keeps every search of a session under about a second; "bench" under about 20 s.
SOLVER_DEPTH = {
    "test": {
        "canonical": {1: 64, 2: 64, 3: 16, 4: 14, 5: 11, 6: 8},
        "extended": {1: 64, 2: 16, 3: 12, 4: 10},
    },
    "bench": {
        "canonical": {1: 64, 2: 64, 3: 16, 4: 14, 5: 11, 6: 10, 7: 9, 8: 8},
        "extended": {1: 64, 2: 16, 3: 14, 4: 12, 5: 12},
    },
}
DEFAULT_STEPS = {"canonical": 8, "extended": 12, "seed-legacy": 8}
BUDGET = {"name": "test"}
SKIPPED = "skipped: solver search too large"


def configure(budget: str) -> None:
    """Choose the solver budget (``"test"`` or ``"bench"``) before building strategies."""
    if budget not in SOLVER_DEPTH:
        raise ValueError(f"unknown budget {budget!r}")
    BUDGET["name"] = budget


def solver_depth(machine: str, n: int) -> int:
    """The longest step limit searched over ``n`` operands on ``machine`` (0: none)."""
    table = SOLVER_DEPTH[BUDGET["name"]]["extended" if machine == "extended" else "canonical"]
    return table.get(n, 0)


def letters_for(machine: str, steps: int) -> str:
    """The operand letters whose searches stay within the budget at ``steps``."""
    n = max((k for k in range(1, len(LETTERS) + 1) if solver_depth(machine, k) >= steps), default=1)
    return LETTERS[:n]


def fuzz_settings(max_examples: int) -> settings:
    """Settings of every fuzz test: no database, derandomized (the same inputs every run, so CI
    is stable), no deadline (the first input of a surface pays for its imports)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# --- the command line, in-process ------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """What one ``nativeagent`` command did: exit code, stdout, stderr."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str


_SCRATCH: dict[str, Path] = {}


def scratch_root() -> Path:
    """A temporary directory for this process's fuzz files (removed at exit)."""
    if "root" not in _SCRATCH:
        root = Path(tempfile.mkdtemp(prefix="nativeagent-fuzz-"))
        _SCRATCH["root"] = root
        import atexit

        atexit.register(shutil.rmtree, root, True)
    return _SCRATCH["root"]


def fresh_dir(label: str) -> Path:
    """A new empty directory under the scratch root."""
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=scratch_root()))


def _show_on_stderr(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` as Python's own: pytest records warnings instead, so a command
    that printed one beside its error line would pass unseen."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run_cli(args: Sequence[str]) -> CliResult:
    """Run ``nativeagent ARGS`` through ``nativeagent.cli.main`` in this process.

    stdout and stderr (the rich consoles included) are captured, warnings are shown every
    time (so that a warning a real process prints once is seen here too), and the command runs
    in a fresh empty working directory that must still be empty afterwards. Only ``SystemExit``
    is caught: any other exception is a crash and propagates.
    """
    from nativeagent import cli
    from nativeagent.cli import common

    out, err = io.StringIO(), io.StringIO()
    cwd = fresh_dir("cwd")
    saved = sys.argv, common.console._file, common.err_console._file
    sys.argv = ["nativeagent", *args]
    common.console._file, common.err_console._file = out, err
    code: Any = 0
    try:
        with (
            contextlib.chdir(cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("always")
            warnings.showwarning = _show_on_stderr  # as a process does, even under pytest
            try:
                cli.main()
            except SystemExit as exit_:
                code = exit_.code
    finally:
        sys.argv = saved[0]
        common.console._file, common.err_console._file = saved[1], saved[2]
    left = sorted(p.name for p in cwd.iterdir())
    assert not left, f"{list(args)} wrote {left} into the working directory"
    cwd.rmdir()
    assert code is None or isinstance(code, int), f"exit code {code!r} is not an int"
    return CliResult(tuple(args), int(code or 0), out.getvalue(), err.getvalue())


def lines(text: str) -> list[str]:
    """Lines as a terminal shows them (``\\n``, ``\\r\\n`` or ``\\r``), trailing empties dropped."""
    parts = re.split(r"\r\n|\r|\n", text)
    while parts and not parts[-1]:
        parts.pop()
    return parts


def cli_outcome(
    r: CliResult, allowed: Sequence[int] = (0, 2), own_output: Sequence[int] = ()
) -> str:
    """Check the command contract on ``r``; ``"ok"`` for exit 0, ``"exit N"`` otherwise.

    ``own_output``: exit codes that are not errors but a documented result with the command's
    usual output (``solve``'s 1); the caller checks those."""
    where = f"nativeagent {' '.join(map(repr, r.args))[:300]}"
    for stream in (r.out, r.err):
        assert "Traceback (most recent call last)" not in stream, f"{where}: traceback\n{stream}"
    assert r.code in allowed, f"{where}: exit {r.code}, expected one of {allowed}\n{r.err}"
    if r.code == 0:
        return "ok"
    if r.code in own_output:
        return f"exit {r.code}"
    err = lines(r.err)
    assert len(err) == 1, f"{where}: exit {r.code} with {len(err)} stderr lines:\n{r.err[:2000]}"
    assert err[0].startswith("error: ") and len(err[0]) > len("error: ") + 5, (
        f"{where}: stderr is not one 'error: ...' line: {err}"
    )
    return f"exit {r.code}"


def shown(text: str) -> str:
    """``text`` as a terminal shows it: rich drops control characters, ``fail`` escapes line
    breaks and tabs; what a command prints is compared with a library message through this."""
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return "".join(c for c in text if c.isprintable())


def one_line(err: BaseException) -> str:
    """The message of a library error, checked to be one non-empty line."""
    message = str(err)
    assert message.strip(), f"{type(err).__name__} without a message"
    assert len(lines(message)) == 1, f"{type(err).__name__} message of several lines: {message!r}"
    return message


# --- files ------------------------------------------------------------------------------------


def tree_state(root: Path) -> dict[str, str]:
    """Every path under ``root`` (itself included) with a digest of its content."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": hashlib.sha1(root.read_bytes()).hexdigest()}
    state = {".": "dir"}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        state[rel] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return state


def temporaries(directory: Path) -> list[str]:
    """Temporary files and staging directories (``.NAME.*.tmp``) anywhere under ``directory``."""
    if not directory.is_dir():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob(".*.tmp"))


def assert_unchanged(before: dict[str, str], after: dict[str, str], what: str) -> None:
    """``after`` equals ``before``, apart from a run directory's lock file (``.lock``)."""
    keep = {k: v for k, v in after.items() if Path(k).name != ".lock"}
    base = {k: v for k, v in before.items() if Path(k).name != ".lock"}
    changed = sorted(k for k in base.keys() | keep.keys() if base.get(k) != keep.get(k))
    assert not changed, f"{what} changed {changed}"


# --- a. expressions ---------------------------------------------------------------------------


def expression_trees(letters: str = LETTERS, max_leaves: int = 10) -> st.SearchStrategy[str]:
    """Valid expressions, with or without parentheses around each operation."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(inner, st.sampled_from(OPS), inner, st.booleans()).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})" if t[3] else f"{t[0]}{t[1]}{t[2]}"
        )

    return st.recursive(st.sampled_from(list(letters)), extend, max_leaves=max_leaves)


@st.composite
def ordered_expressions(draw: st.DrawFn, letters: str = LETTERS) -> str:
    """Expressions that read each operand once, in order (the ones a machine may compute),
    drawn by ``generate.random_tree``; with or without redundant parentheses."""
    from nativeagent.tasks.expression import to_text
    from nativeagent.tasks.generate import random_tree

    dice = _dice(draw, "ordered_expressions")
    text = to_text(random_tree(dice.randint(1, len(letters)), dice))
    return f"({text})" if dice.random() < 0.1 else text


@st.composite
def _mutated(draw: st.DrawFn, base: st.SearchStrategy[str], alphabet: str) -> str:
    """``base`` with a few characters inserted, deleted, replaced or swapped."""
    text = list(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(("insert", "delete", "replace", "swap", "space")))
        if kind == "insert" or not text:
            text.insert(i, draw(st.sampled_from(alphabet)))
        elif kind == "space":
            text.insert(i, draw(st.sampled_from(" \t\n")))
        elif kind == "delete":
            del text[min(i, len(text) - 1)]
        elif kind == "replace":
            text[min(i, len(text) - 1)] = draw(st.sampled_from(alphabet))
        else:
            j = draw(st.integers(0, len(text) - 1))
            k = min(i, len(text) - 1)
            text[k], text[j] = text[j], text[k]
    return "".join(text)


@st.composite
def _deep(draw: st.DrawFn, letters: str) -> str:
    """Deeply nested or very long expressions: parentheses, right-nested operations, chains."""
    depth = draw(
        st.one_of(st.sampled_from((63, 64, 65, 100, 500, 1000, 5000)), st.integers(0, 3000))
    )
    inner = draw(expression_trees(letters, 4))
    style = draw(st.sampled_from(("parens", "unbalanced", "right", "chain", "repeat")))
    op = draw(st.sampled_from(OPS))
    if style == "parens":
        return "(" * depth + inner + ")" * depth
    if style == "unbalanced":
        return "(" * depth + inner + ")" * max(0, depth + draw(st.integers(-2, 2)))
    if style == "right":
        head = "".join(f"{letters[i % len(letters)]}{op}(" for i in range(depth))
        return head + inner + ")" * depth
    if style == "chain":
        return op.join(letters[i % len(letters)] for i in range(depth + 1))
    return draw(st.sampled_from(("", " ", inner, f"({inner})", f"{inner}{op}"))) * depth


def expression_texts(letters: str = LETTERS) -> st.SearchStrategy[str]:
    """Text biased towards the grammar: valid expressions, small mutations of them, random
    strings over the grammar's characters and junk, any unicode, deep nesting, long inputs."""
    from nativeagent.tasks.expression import LETTERS as PARSED

    grammar = letters + OPS + "()  "
    others = "".join(c for c in PARSED if c not in letters)  # operands beyond the budget
    junk = "".join(c for c in JUNK if c not in others)
    return st.one_of(
        expression_trees(letters),
        expression_trees(letters),
        _mutated(expression_trees(letters), grammar + junk),
        st.text(st.sampled_from(grammar + junk[:12]), max_size=30),
        st.text(st.characters(exclude_characters=others), max_size=20),
        _deep(letters),
    )


def check_parse(text: str) -> str:
    """``parse`` returns a tree that prints back to an equal tree, or an ``ExpressionError``
    with one line naming the position; ``parse_expressions`` agrees (a valid expression holds
    no comma or space, so it is one part)."""
    from nativeagent.tasks import expression as ex
    from nativeagent.tasks.generate import TaskSpecError, parse_expressions

    try:
        tree = ex.parse(text)
    except ex.ExpressionError as err:
        message = one_line(err)
        assert "position" in message, message
        assert 0 <= err.position <= len(text), (err.position, len(text))
        outcome = "ExpressionError"
    else:
        printed = ex.to_text(tree)
        assert ex.parse(printed) == tree, (text, printed)
        assert ex.postfix_text(tree) and ex.n_operands(tree) >= 1
        context = [i % 10 for i in range(1, ex.n_operands(tree) + 1)]
        assert len(ex.subgoal_values(tree, context)) == ex.n_operators(tree) - 1 or (
            ex.n_operators(tree) == 0
        )
        ex.polynomial(tree)
        outcome = "ok"
    try:
        tasks = parse_expressions([text])
    except TaskSpecError as err:  # nothing but separators
        one_line(err)
        assert not re.sub(r"[\s,]+", "", text), text
    except ex.ExpressionError as err:
        one_line(err)
    else:
        if outcome == "ok":
            assert [t.tree for t in tasks] == [tree] or re.search(r"[\s,]", text.strip()), text
    return outcome


def _dice(draw: st.DrawFn, salt: str) -> random.Random:
    """A ``random.Random`` whose seed hypothesis draws: even odds for the choices that shape an
    input (hypothesis's own values, its ``randoms()`` too, lean towards simple ones). ``salt``
    names the call site, so that one drawn seed means different choices at different sites."""
    return random.Random(f"{salt}:{draw(st.integers(0, 2**32 - 1))}")


@st.composite
def solve_args(draw: st.DrawFn) -> list[str]:
    """``nativeagent solve`` arguments: expressions, ``--machine``, ``--max-steps``, ``--json``,
    now and then an unknown option; operands limited so that every search fits the budget."""
    dice = _dice(draw, "solve_args")
    machine = draw(st.text(max_size=8)) if dice.random() < 0.1 else dice.choice(MACHINES)
    steps: Any = None
    if dice.random() < 0.4:
        steps = dice.randint(1, 16)
    elif dice.random() < 0.1:
        steps = draw(st.one_of(st.integers(-3, 40), st.text(max_size=5)))
    limit = steps if isinstance(steps, int) and 1 <= steps <= 16 else None
    letters = letters_for(machine, limit or DEFAULT_STEPS.get(machine, 8))
    n = 0 if dice.random() < 0.03 else dice.choice((1, 1, 1, 2, 3))
    kinds = (ordered_expressions(letters), expression_trees(letters), expression_texts(letters))
    exprs = [draw(dice.choices(kinds, (4, 3, 3))[0]) for _ in range(n)]
    options = []
    if machine != "canonical" or dice.random() < 0.3:
        options += ["--machine", machine]
    if steps is not None:
        options += ["--max-steps", str(steps)]
    if dice.random() < 0.3:
        options.append("--json")
    if dice.random() < 0.05:
        options.append(dice.choice(("--bogus", "-x", "--max-steps", "--machine")))
    if any(e.startswith("-") for e in exprs):  # an expression that looks like an option
        return ["solve", *options, "--", *exprs]
    return ["solve", *exprs, *options]


def check_solve(args: list[str]) -> str:
    """exit 0: every expression solved, a line each; exit 1: some expression not computable,
    said on stdout with nothing on stderr; exit 2: one error line."""
    r = run_cli(args)
    outcome = cli_outcome(r, (0, 1, 2), own_output=(1,))
    if r.code == 1:
        assert not r.err, r.err
        if "--json" in args:
            records = [json.loads(line) for line in r.out.splitlines()]
            assert any(not rec["reachable"] for rec in records), r.out
        else:
            assert "not computable" in r.out, r.out
    if r.code == 0 and "--json" in args:
        for line in r.out.splitlines():
            rec = json.loads(line)
            assert rec["reachable"] and rec["program"][-1] == "ANS", rec
    return outcome


@st.composite
def expressions_args(draw: st.DrawFn) -> list[str]:
    """``nativeagent expressions`` arguments: operand counts, samples, seeds, operator strings
    and machines, in and out of range; only counts whose listing fits the budget."""
    dice = _dice(draw, "expressions_args")
    machine = draw(st.text(max_size=8)) if dice.random() < 0.1 else dice.choice(MACHINES)
    most = min(5, len(letters_for(machine, DEFAULT_STEPS.get(machine, 8))))
    args = ["expressions"]
    if dice.random() < 0.9:
        wrong = draw(st.one_of(st.integers(-3, 12), st.text(max_size=3)))
        operands = wrong if dice.random() < 0.1 else dice.randint(2, max(2, most))
        if isinstance(operands, int) and operands > most and machine in MACHINES:
            operands = most
        args += ["--operands", str(operands)]
    if dice.random() < 0.5:
        sample = dice.choice((dice.randint(1, 20), dice.randint(1, 200), 10**6, 0, -1))
        args += ["--sample", str(sample)]
    if dice.random() < 0.5:
        args += ["--seed", str(draw(st.integers(-(2**70), 2**70)))]
    if dice.random() < 0.4:
        ops = draw(st.text(st.sampled_from("*+-"), min_size=1, max_size=4))
        if dice.random() < 0.2:
            ops = draw(st.text(max_size=4))
        args.append(f"--operators={ops}")
    if machine != "canonical" or dice.random() < 0.3:
        args += ["--machine", machine]
    return args


def check_expressions(args: list[str]) -> str:
    """exit 0 with one expression per line, or one error line."""
    r = run_cli(args)
    outcome = cli_outcome(r)
    if r.code == 0:
        assert r.out.strip(), args
    return outcome


# --- b. configuration -------------------------------------------------------------------------

CHOICES: dict[str, tuple[Any, ...]] = {
    "machine.name": MACHINES,
    "model.kind": ("gru", "transformer", "mlp"),
    "model.encoder": ("mean", "gru"),
    "model.positions": ("absolute", "none", "randomized", "coupled"),
    "decode.mode": ("closed", "open"),
    "algo.name": ("a2c", "ppo", "grpo", "tutorial"),
    "curriculum.kind": ("mastery", "blocks", "mixed"),
    "train.device": ("auto", "cpu", "cuda"),
}
#: Keys of a cost that grows with the value (the expression search): drawn small.
EXPRESSION_KEYS = ("task.curriculum", "task.held_out_expressions")


def _fields() -> dict[str, dict[str, Any]]:
    from nativeagent.config import Config

    return Config().to_dict()


def toml_values() -> st.SearchStrategy[Any]:
    """Any TOML value: huge and 64-bit-edge ints, NaN and infinities, strings, dates, arrays
    and tables."""
    import datetime as dt

    scalars = st.one_of(
        st.booleans(),
        st.integers(-(2**64), 2**64),
        st.sampled_from((0, 1, -1, 2**63 - 1, -(2**63), 2**63, 10**100)),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.dates(),
        st.datetimes(max_value=dt.datetime(9999, 1, 1)),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )


def field_values(key: str, default: Any, small_tasks: bool = False) -> st.SearchStrategy[Any]:
    """Values for one configuration field: plausible ones of its type, edge values, any TOML."""
    letters = "abcd" if small_tasks else letters_for("extended", 12)
    if key in CHOICES:
        plausible: st.SearchStrategy[Any] = st.one_of(
            st.sampled_from(CHOICES[key]), st.text(max_size=10)
        )
    elif key in EXPRESSION_KEYS:
        exprs = expression_texts(letters)
        plausible = st.lists(
            st.one_of(exprs, st.lists(exprs, max_size=3)) if key == "task.curriculum" else exprs,
            max_size=4,
        )
    elif key == "task.all_reachable":
        plausible = st.integers(-1, 6)
    elif key == "machine.max_steps":
        plausible = st.one_of(st.integers(1, 12), st.integers(-2, 70))
    elif key == "curriculum.blocks":
        plausible = st.lists(st.integers(-1, 4), max_size=8)
    elif isinstance(default, bool):
        plausible = st.booleans()
    elif isinstance(default, int) or default is None:
        plausible = st.one_of(
            st.integers(-3, 50), st.sampled_from((0, 2**31, 2**63 - 1, 2**63, 10**30))
        )
    elif isinstance(default, float):
        plausible = st.one_of(
            st.floats(-2, 2),
            st.sampled_from((0.0, 1e-12, 1.0, 1e308, math.inf, -math.inf, math.nan)),
        )
    else:
        plausible = toml_values()
    return st.one_of(plausible, plausible, plausible, toml_values())


@st.composite
def config_documents(draw: st.DrawFn, small_tasks: bool = False) -> dict[str, Any]:
    """A configuration as TOML data: half clean (known keys, values of their type and range),
    30% known keys with any plausible or edge value, 20% anything (unknown sections and keys,
    sections that are not tables, any TOML value)."""
    fields = _fields()
    dice = _dice(draw, "config_documents")
    mode = dice.choices(("clean", "known", "wild"), (5, 3, 2))[0]
    doc: dict[str, Any] = {}
    if mode != "wild":
        keys = dice.sample(sorted(CHEAP), dice.randint(0, 6))
        for key in keys:
            sec, name = key.split(".")
            value = (
                CHEAP[key] if mode == "clean" else field_values(key, fields[sec][name], small_tasks)
            )
            doc.setdefault(sec, {})[name] = draw(value)
        return doc
    sections = draw(
        st.lists(
            st.one_of(st.sampled_from(sorted(fields)), st.text(max_size=8)),
            max_size=4,
            unique=True,
        )
    )
    for sec in sections:
        known = fields.get(sec, {})
        keys = draw(
            st.lists(
                st.one_of(st.sampled_from(sorted(known)), st.text(max_size=8))
                if known
                else st.text(max_size=8),
                max_size=4,
                unique=True,
            )
        )
        if not keys and dice.random() < 0.5:
            doc[sec] = draw(toml_values())  # a section that is not a table
            continue
        doc[sec] = {k: draw(field_values(f"{sec}.{k}", known.get(k), small_tasks)) for k in keys}
    return doc


def toml_text(data: dict[str, Any]) -> str:
    """``data`` as TOML (tomli_w cannot write every value: those are left out)."""
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return ""


def value_text(value: Any) -> str:
    """A value as the right-hand side of a TOML line (what ``--set`` reads)."""
    text = toml_text({"v": value})
    return text[4:].strip() if text.startswith("v = ") and "\n" not in text.strip() else str(value)


@st.composite
def toml_files(draw: st.DrawFn, documents: st.SearchStrategy[dict[str, Any]]) -> bytes:
    """File contents: valid TOML of ``documents``, text mutations of it, invalid syntax,
    deep nesting, non-UTF-8 bytes, empty."""
    text = toml_text(draw(documents))
    kind = _dice(draw, "toml_files").choices(
        ("toml", "mutated", "deep", "binary", "bad-utf8"), (12, 3, 1, 1, 1)
    )[0]
    if kind == "toml":
        return text.encode()
    if kind == "mutated":
        return draw(_mutated(st.just(text or "x"), "[]=\"'.#\n{},abc019")).encode()
    if kind == "deep":
        depth = draw(st.sampled_from((10, 500, 1000, 5000)))
        opener = draw(st.sampled_from(("[", "{a=", "[{a=[")))
        return f"{text}\nx = {opener * depth}".encode()
    if kind == "binary":
        return draw(st.binary(max_size=40))
    return text.encode() + draw(st.sampled_from((b"\xff", b"\xc3", b"# \x80\n", b"x = '\xe9'")))


@st.composite
def override_texts(draw: st.DrawFn, small_tasks: bool = False) -> str:
    """``--set`` strings: ``section.key=value`` with a clean value, a plausible or edge value
    or any text; unknown and nested keys; text without ``=``; deeply nested values."""
    fields = _fields()
    dice = _dice(draw, "override_texts")
    kind = dice.choices(
        ("clean", "field", "text", "deep", "nested", "unknown"), (8, 3, 1, 1, 1, 1)
    )[0]
    if kind == "clean":
        key = dice.choice(sorted(CHEAP))
        return f"{key}={value_text(draw(CHEAP[key]))}"
    if kind == "text":
        return draw(st.text(st.sampled_from("algo.lr=1 []\"'\n\x00é"), max_size=20))
    if kind == "deep":
        return "task.curriculum=" + "[" * dice.choice((10, 1000, 5000))
    sec = dice.choice(sorted(fields))
    name = dice.choice(sorted(fields[sec]))
    if kind == "unknown":
        sec, name = dice.choice(
            ((draw(st.text(max_size=5)), name), (sec, draw(st.text(max_size=5))))
        )
    value = draw(field_values(f"{sec}.{name}", fields.get(sec, {}).get(name), small_tasks))
    if kind == "nested":
        name = f"{name}.{draw(st.text(max_size=4))}"
    raw = value_text(value) if dice.random() < 0.8 else draw(st.text(max_size=10))
    return f"{sec}.{name}={raw}"


@dataclass(frozen=True)
class ConfigInput:
    """A configuration to load: a TOML file's bytes (or no file), a preset, overrides."""

    toml: bytes | None
    preset: str
    overrides: tuple[str, ...]
    file_kind: str = "file"  # "file", "missing" (a path that does not exist) or "directory"


@st.composite
def config_inputs(draw: st.DrawFn, small_tasks: bool = False) -> ConfigInput:
    """A TOML file (or none, a missing path, a directory), a preset and ``--set`` overrides."""
    dice = _dice(draw, "config_inputs")
    kind = dice.choices(("file", "none", "missing", "directory"), (12, 6, 1, 1))[0]
    toml = draw(toml_files(config_documents(small_tasks))) if kind == "file" else None
    preset = dice.choices(("default", "tutorial", "generalization", "junk"), (14, 2, 2, 1))[0]
    if preset == "junk":
        preset = draw(st.text(max_size=6))
    overrides = [
        draw(override_texts(small_tasks)) for _ in range(dice.choice((0, 0, 1, 1, 2, 3, 5)))
    ]
    return ConfigInput(toml, preset, tuple(overrides), "none" if kind == "none" else kind)


def _config_path(inp: ConfigInput, where: Path) -> Path | None:
    if inp.file_kind == "none":
        return None
    path = where / "config.toml"
    if inp.file_kind == "directory":
        path.mkdir()
    elif inp.file_kind == "file":
        path.write_bytes(inp.toml or b"")
    return path


def solver_fits(cfg: Any) -> bool:
    """Whether every expression search of a validated ``cfg`` stays within the budget."""
    from nativeagent.tasks.expression import n_operands, parse

    machine, steps = cfg.machine.name, cfg.max_steps
    t = cfg.task
    if t.all_reachable:
        most = t.all_reachable
    else:
        texts = [
            e for entry in t.curriculum for e in ([entry] if isinstance(entry, str) else entry)
        ]
        most = max(n_operands(parse(e)) for e in [*texts, *t.held_out_expressions])
    return steps <= solver_depth(machine, most)


def load_checked(inp: ConfigInput, path: Path | None) -> tuple[str, Any]:
    """``load_config`` on ``inp`` (its file at ``path``): ``("valid", cfg)``,
    ``("ConfigError", message)``, ``("ValueError", message)`` or ``(SKIPPED, None)``; any other
    exception propagates (a crash)."""
    from nativeagent.config import (
        ConfigError,
        _merge,
        _read_toml,
        from_dict,
        load_config,
        parse_override,
        preset_dict,
    )

    try:  # the same steps as load_config up to validation, to see the search it would run
        data = preset_dict(inp.preset)
        if path is not None:
            data = _merge(data, _read_toml(path))
        for text in inp.overrides:
            data = _merge(data, parse_override(text))
        if not solver_fits(from_dict(data)):
            return SKIPPED, None
    except ValueError:
        pass  # load_config must fail the same way, below
    try:
        cfg = load_config(path, inp.preset, list(inp.overrides))
    except ValueError as err:  # ConfigError, or a ValueError of the expression search
        message = one_line(err)
        return ("ConfigError" if isinstance(err, ConfigError) else "ValueError"), message
    assert cfg.to_dict()["train"]["batch_size"] >= 1
    return "valid", cfg


def check_config(inp: ConfigInput) -> str:
    """The library contract of ``load_config``: a validated ``Config`` (which saves as TOML that
    loads back equal) or a one-line ``ConfigError``/``ValueError``."""
    from nativeagent.config import CONFIG_TOML, load_config, save_config

    where = fresh_dir("config")
    label, cfg = load_checked(inp, _config_path(inp, where))
    if label == "valid":
        run = where / "run"
        run.mkdir()
        save_config(cfg, run)
        again = load_config(run / CONFIG_TOML, "default")
        assert again.to_dict() == cfg.to_dict() or _has_nan(cfg.to_dict()), "config round trip"
    shutil.rmtree(where)
    return label


def _has_nan(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_has_nan(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_nan(v) for v in data)
    return isinstance(data, float) and math.isnan(data)


def check_train_config(inp: ConfigInput) -> str:
    """``nativeagent train --config FILE --preset P --set ... --out EXISTING_FILE``: exit 2
    always, with ``load_config``'s own message when the configuration is invalid, and the
    ``--out`` refusal (or a missing CUDA) when it is valid; nothing written."""
    where = fresh_dir("train-config")
    path = _config_path(inp, where)
    label, detail = load_checked(inp, path)
    if label == SKIPPED:
        shutil.rmtree(where)
        return label
    blocker = where / "a-file"
    blocker.write_text("not a run directory\n")
    args = ["train", f"--preset={inp.preset}", *(f"--set={o}" for o in inp.overrides)]
    args += ["--out", str(blocker)] + ([f"--config={path}"] if path is not None else [])
    before = tree_state(where)
    r = run_cli(args)
    assert cli_outcome(r, (2,)) == "exit 2"
    message = lines(r.err)[0].removeprefix("error: ")
    if label == "valid":
        assert "exists and is not a directory" in message or "CUDA" in message, message
    else:
        assert shown(message) == shown(detail), (message, detail)
    assert_unchanged(before, tree_state(where), "train")
    shutil.rmtree(where)
    return label


#: Cheap values for every field a real training run's cost grows with.
CHEAP: dict[str, st.SearchStrategy[Any]] = {
    "train.max_updates": st.integers(1, 3),
    "train.batch_size": st.integers(1, 16),
    "train.eval_every": st.integers(1, 3),
    "train.eval_episodes": st.integers(1, 8),
    "train.final_eval_episodes": st.integers(1, 8),
    "train.log_every": st.integers(1, 3),
    "train.checkpoint_every": st.integers(1, 3),
    "train.seed": st.integers(0, 2**64),
    "train.stop_when_solved": st.booleans(),
    "train.device": st.sampled_from(("cpu", "auto")),
    "model.kind": st.sampled_from(("gru", "transformer")),
    "model.d_model": st.integers(1, 16),
    "model.n_layers": st.integers(1, 2),
    "model.n_heads": st.integers(1, 4),
    "model.encoder": st.sampled_from(("mean", "gru")),
    "model.positions": st.sampled_from(("absolute", "none", "randomized")),
    "decode.mode": st.sampled_from(("closed", "open")),
    "decode.open_tokens": st.integers(1, 8),
    "decode.observe": st.booleans(),
    "machine.name": st.sampled_from(MACHINES),
    "machine.max_steps": st.integers(1, 10),
    "machine.partial_reward": st.one_of(st.floats(0, 2), st.just(math.inf)),
    "machine.process_reward": st.one_of(st.floats(0, 2), st.just(1e308)),
    "algo.name": st.sampled_from(("a2c", "ppo", "grpo", "tutorial")),
    "algo.lr": st.one_of(st.floats(1e-6, 1.0), st.just(1.0)),
    "algo.entropy_coef": st.one_of(st.floats(0, 10), st.just(1e308)),
    "algo.value_coef": st.one_of(st.floats(0, 10), st.just(math.inf)),
    "algo.max_grad_norm": st.one_of(st.floats(1e-9, 10), st.just(math.inf)),
    "algo.gamma": st.floats(0, 1),
    "algo.gae_lambda": st.floats(0, 1),
    "algo.normalize_advantages": st.booleans(),
    "ppo.epochs": st.integers(1, 2),
    "ppo.minibatches": st.integers(1, 40),
    "ppo.clip_value": st.booleans(),
    "ppo.normalize_advantages": st.booleans(),
    "grpo.group_size": st.integers(2, 40),
    "grpo.epochs": st.integers(1, 2),
    "curriculum.kind": st.sampled_from(("mastery", "blocks", "mixed")),
    "curriculum.mastery": st.floats(0.01, 1),
    "curriculum.replay": st.floats(0, 0.99),
    "curriculum.blocks": st.lists(st.integers(0, 3), min_size=1, max_size=8),
    "curriculum.focus": st.floats(0, 1),
    "task.curriculum": st.lists(
        st.one_of(
            expression_trees("abcd", 3),
            st.lists(expression_trees("abc", 3), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=3,
    ),
    "task.held_out_expressions": st.lists(expression_trees("abc", 3), max_size=2),
    "task.all_reachable": st.sampled_from((0, 0, 2, 3)),
    "task.held_out": st.one_of(st.just(0.0), st.floats(0, 0.95)),
    "task.split_seed": st.integers(0, 2**40),
    "task.show_expression": st.booleans(),
    "task.show_signs": st.booleans(),
}


@st.composite
def train_run_args(draw: st.DrawFn) -> list[str]:
    """``--set`` overrides of a real (tiny) training run: any mix of cheap values of every
    field, then ``train.threads=1`` (the fuzzing shares its process)."""
    keys = draw(st.lists(st.sampled_from(sorted(CHEAP)), max_size=12, unique=True))
    sets = {
        "train.max_updates": 2,
        "train.batch_size": 16,
        "train.eval_episodes": 8,
        "train.final_eval_episodes": 8,
        "model.d_model": 16,
    }
    sets.update({k: draw(CHEAP[k]) for k in keys})
    sets["train.threads"] = 1
    return [f"--set={k}={value_text(v)}" for k, v in sets.items()]


def check_train_run(sets: list[str]) -> str:
    """A real training run, tiny: exit 0 with a complete ``result.json``; exit 2 with nothing
    written; or exit 3 (non-finite loss) with the last good checkpoint and no result. Never a
    temporary left behind."""
    from nativeagent.config import load_config

    parent = fresh_dir("train-run")
    out = parent / "run"
    try:
        cfg = load_config(overrides=[s.removeprefix("--set=") for s in sets])
    except ValueError:
        cfg = None
    if cfg is not None and not solver_fits(cfg):
        shutil.rmtree(parent)
        return SKIPPED
    r = run_cli(["train", "-q", "--out", str(out), *sets])
    outcome = cli_outcome(r, (0, 2, 3))
    assert not temporaries(parent), temporaries(parent)
    if r.code == 0:
        result = json.loads((out / "result.json").read_text())
        assert {"accuracy", "solved", "updates", "episodes", "wall_s", "seed"} <= result.keys()
        assert (out / "checkpoint.pt").is_file() and (out / "metrics.jsonl").is_file()
    elif r.code == 2:
        assert not out.exists(), f"exit 2 left {sorted(tree_state(out))}"
    else:
        assert (out / "checkpoint.pt").is_file() and not (out / "result.json").exists()
    shutil.rmtree(parent)
    return outcome


# --- c. execute and the batched machines --------------------------------------------------------


@dataclass(frozen=True)
class ExecuteInput:
    """One call ``execute(program, context, stage, machine, max_steps)``."""

    program: Any
    context: Any
    stage: Any
    machine: Any
    max_steps: Any


def _vocab(machine: Any) -> int:
    return 21 if machine == "extended" else 18


@st.composite
def execute_inputs(draw: st.DrawFn) -> ExecuteInput:
    """Calls of ``execute``, each argument right most of the time (so that most calls run):
    programs of tools, other tokens, names, invalid ids and junk, of any length (empty and
    over-long too); contexts right and wrong (length, extreme ints, floats, bools, strings,
    tensors); built-in stages, expressions and junk; every machine and junk; step limits."""
    import torch

    from nativeagent.tasks.expression import ExpressionError, n_operands, parse
    from nativeagent.tasks.task import STAGES

    dice = _dice(draw, "execute_inputs")
    machine: Any = dice.choice(MACHINES) if dice.random() < 0.95 else draw(toml_values())
    if dice.random() < 0.9:
        stage: Any = dice.randint(0, 2)
        if machine != "seed-legacy" and dice.random() < 0.4:
            stage = draw(
                ordered_expressions("abcde") if dice.random() < 0.7 else expression_texts("abcde")
            )
    else:
        stage = dice.choice((-1, 3, True, None, 1.0, 2**70, "", "0", "x"))
    if isinstance(stage, int) and not isinstance(stage, bool) and 0 <= stage <= 2:
        n = STAGES[stage].n_operands
    else:
        try:
            n = n_operands(parse(stage)) if isinstance(stage, str) else 3
        except ExpressionError:
            n = 3
    digits = [dice.randrange(10) for _ in range(n)]
    context: Any = digits
    if dice.random() < 0.15:
        context = dice.choice(
            (
                tuple(digits),
                torch.tensor(digits),
                digits[:-1],
                [*digits, 1],
                [*digits[:-1], dice.choice((10, -1, 2**63, -(2**70), 2.0, True, "7", None))],
                "123",
                None,
                7,
            )
        )
    vocab = _vocab(machine)

    def token() -> Any:
        if dice.random() < 0.93:
            return dice.randint(11, vocab - 1) if dice.random() < 0.9 else dice.randrange(vocab)
        return dice.choice(
            (-1, vocab, 2**63 - 1, 2**70, "MUL", "[ADD]", " sto ", "LOAD", "JUMP", "", "7",
             "[CTX]", True, None, 1.5)
        )  # fmt: skip

    length = dice.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 20, 200))
    program: Any = [token() for _ in range(length)]
    if dice.random() < 0.05:
        program = dice.choice((torch.tensor([11, 12, 14]), "MUL ADD ANS", None, 5))
    max_steps: Any = None
    if dice.random() < 0.3:
        max_steps = dice.choice((dice.randint(1, 20), 0, -1, 2**62, 2**63, 2**70, True, 2.0, "8"))
    return ExecuteInput(program, context, stage, machine, max_steps)


def check_execute(inp: ExecuteInput) -> str:
    """``execute`` returns an ``Outcome`` that the batched machine of the same name reproduces
    (answer, steps, reward), or raises a ``ValueError`` with one line; nothing else."""
    from nativeagent import execute

    try:
        out = execute(inp.program, inp.context, inp.stage, inp.machine, inp.max_steps)
    except ValueError as err:
        one_line(err)
        return "ValueError"
    assert out.answer is None or isinstance(out.answer, int)
    assert isinstance(out.correct, bool) and isinstance(out.reward, float) and out.steps >= 0
    out.format_trace()
    _execute_on_batched(inp, out)
    return "ok"


def _execute_on_batched(inp: ExecuteInput, out: Any) -> None:
    """Run the episode ``execute`` ran on the batched machine and compare."""
    import torch

    from nativeagent.machine import make_machine
    from nativeagent.machine.tools import LEGACY, profile
    from nativeagent.tasks import make_batch
    from nativeagent.tasks.task import STAGES, Task
    from nativeagent.tokens import EOS, parse_token

    program = inp.program.tolist() if isinstance(inp.program, torch.Tensor) else inp.program
    context = inp.context.tolist() if isinstance(inp.context, torch.Tensor) else list(inp.context)
    tokens = [parse_token(t, profile(inp.machine).vocab_size) for t in program]
    machine = make_machine(inp.machine, inp.max_steps)
    if inp.machine == LEGACY:
        padded = torch.full((1, 5), EOS)
        padded[0, : len(context)] = torch.tensor(context)
        batch: Any = make_batch(padded, torch.tensor([inp.stage]))
    else:
        task = STAGES[inp.stage] if isinstance(inp.stage, int) else Task.parse(inp.stage)
        batch = _episodes([context], [task.target(context)])
    machine.reset(batch)
    total = 0.0
    for token in tokens:
        if bool(machine.done[0]):
            break
        reward, _ = machine.step(torch.tensor([token]))
        total += float(reward[0])
    answered = bool(machine.answered[0])
    got = int(machine.answer[0]) if answered else None
    where = (inp, out)
    assert got == out.answer, where
    assert int(machine.steps[0]) == out.steps, where
    assert math.isclose(total, out.reward, abs_tol=1e-5), where


def _episodes(contexts: Sequence[Sequence[int]], targets: Sequence[int]) -> SimpleNamespace:
    """``machine.Episodes`` for the tool machines: EOS-padded contexts, targets, no subgoals."""
    import torch

    from nativeagent.tokens import EOS

    width = max(1, max(len(c) for c in contexts))
    context = torch.full((len(contexts), width), EOS, dtype=torch.long)
    for i, c in enumerate(contexts):
        context[i, : len(c)] = torch.tensor(list(c), dtype=torch.long)
    return SimpleNamespace(
        context=context,
        n_operands=torch.tensor([len(c) for c in contexts]),
        target=torch.tensor(list(targets), dtype=torch.long),
        subgoals=torch.zeros(len(contexts), 1, dtype=torch.long),
        subgoal_valid=torch.zeros(len(contexts), 1, dtype=torch.bool),
        stage=torch.zeros(len(contexts), dtype=torch.long),
    )


@dataclass(frozen=True)
class BatchInput:
    """Episodes stepped at once on one batched machine, with raw int64 actions."""

    machine: str
    max_steps: int | None
    contexts: tuple[tuple[int, ...], ...]
    stages: tuple[int, ...]  # seed-legacy's stages
    targets: tuple[int, ...]
    programs: tuple[tuple[int, ...], ...]


INT64 = (-(2**63), 2**63 - 1)


def _walk(dice: random.Random, machine: str, n: int, vocab: int) -> list[int]:
    """A program that mostly follows legal tools (so that many use memory and answer), now and
    then any id: a tool, another token, one outside the vocabulary or int64's extremes."""
    from nativeagent.machine import rules
    from nativeagent.machine.tools import profile

    tools = profile(machine)
    state, program = rules.start(tools), []
    x = list(range(1, n + 1))
    for _ in range(dice.choice((0, 3, 6, 10, 14, 40))):
        if machine == "seed-legacy":  # every token is legal: mostly the six tools
            program.append(dice.randint(11, 16) if dice.random() < 0.9 else dice.randrange(vocab))
            continue
        legal = rules.legal(tools, state, n)
        if not legal or dice.random() < 0.1:
            program.append(
                dice.choice(
                    (
                        dice.randrange(vocab),
                        dice.randint(-3, vocab + 40),
                        *INT64,
                        dice.randint(*INT64),
                    )
                )
            )
            continue
        tool = dice.choice(legal)
        program.append(tool.token)
        if tool.answers:
            break
        move = rules.move(tools, tool, state, n)
        assert move is not None
        state = rules.apply(tools, move, state, x)
    return program


@st.composite
def batch_inputs(draw: st.DrawFn) -> BatchInput:
    """Batches of 1..6 episodes: programs that mostly walk legal tools, with raw ids now and
    then (other tokens, ids outside the vocabulary, int64's extremes); contexts of any int64
    digits (0..9 for seed-legacy, whose contexts are digits by definition); empty and
    over-long programs; any step limit."""
    dice = _dice(draw, "batch_inputs")
    machine = dice.choice(MACHINES)
    vocab = _vocab(machine)
    size = dice.randint(1, 6)
    if machine == "seed-legacy":
        stages = tuple(dice.randint(0, 2) for _ in range(size))
        contexts = tuple(tuple(dice.randrange(10) for _ in range(5)) for _ in stages)
    else:
        stages = (0,) * size

        def digit() -> int:
            return dice.randrange(10) if dice.random() < 0.8 else dice.randint(*INT64)

        contexts = tuple(tuple(digit() for _ in range(dice.randint(1, 8))) for _ in range(size))
    programs = tuple(
        tuple(
            _walk(dice, machine, len(c), vocab)
            if dice.random() < 0.7
            else [
                dice.choice((dice.randrange(11, vocab), dice.randint(*INT64)))
                for _ in range(dice.randint(0, 20))
            ]
        )
        for c in contexts
    )
    targets = tuple(dice.choice((dice.randint(-20, 100), sum(c) % 2**63)) for c in contexts)
    max_steps = dice.choice((None, None, dice.randint(1, 16), 2**62, 2**63 - 1, 2**63, 2**70))
    return BatchInput(machine, max_steps, contexts, stages, targets, programs)


def _wrap(x: int) -> int:
    """``x`` as int64 arithmetic gives it (two's complement wrap-around)."""
    return (x + 2**63) % 2**64 - 2**63


def check_batched(inp: BatchInput) -> str:
    """The batched machine steps raw actions without an exception, and agrees with the
    reference machine on the same programs with every id outside the vocabulary read as
    ``[EOS]`` (both machines end an episode on it, or ignore it, as on any non-tool token);
    tool profiles in int64 arithmetic. Returns "answered" or "unanswered" for the first
    episode."""
    import torch

    from nativeagent.machine import make_machine
    from nativeagent.machine.legacy import LEGACY_MAX_STEPS, run_legacy
    from nativeagent.machine.reference import run_program
    from nativeagent.machine.tools import LEGACY, profile
    from nativeagent.tasks import make_batch
    from nativeagent.tokens import EOS

    vocab = profile(inp.machine).vocab_size
    machine = make_machine(inp.machine, inp.max_steps)
    length = max(len(p) for p in inp.programs) + 1
    if inp.machine == LEGACY:
        batch: Any = make_batch(torch.tensor(inp.contexts), torch.tensor(inp.stages))
    else:
        batch = _episodes(inp.contexts, inp.targets)
    machine.reset(batch)
    total = torch.zeros(len(inp.programs))
    for t in range(length):
        action = torch.tensor([p[t] if t < len(p) else EOS for p in inp.programs])
        was_done = machine.done.clone()
        reward, done = machine.step(action)
        assert torch.equal(done, machine.done & ~was_done), inp
        assert not reward[was_done].any(), inp
        total += reward
    for i, program in enumerate(inp.programs):
        padded = [t if 0 <= t < vocab else EOS for t in program] + [EOS] * (length - len(program))
        if inp.machine == LEGACY:
            ref = run_legacy(
                padded, list(inp.contexts[i]), inp.stages[i], inp.max_steps or LEGACY_MAX_STEPS
            )
            answered = bool(machine.answered[i])
            assert (ref.answer if answered else None) == (
                int(machine.answer[i]) if answered else None
            ), (inp, i, ref)
        else:
            ref = run_program(
                profile(inp.machine), padded, inp.contexts[i], inp.targets[i], inp.max_steps
            )
            got = int(machine.answer[i]) if bool(machine.answered[i]) else None
            assert got == (None if ref.answer is None else _wrap(ref.answer)), (inp, i, ref)
        assert int(machine.steps[i]) == ref.steps, (inp, i, ref)
        if ref.answer is not None and ref.answer != _wrap(ref.answer):
            continue  # overflowed: int64 and Python compare different numbers
        assert math.isclose(float(total[i]), ref.reward, abs_tol=1e-5), (inp, i, ref)
    return "answered" if bool(machine.answered[0]) else "unanswered"


# --- d. sweeps -------------------------------------------------------------------------------


def _sweep_field_values() -> st.SearchStrategy[Any]:
    """Values of a field the sweep strategies know nothing special about."""
    return st.one_of(st.integers(-2, 300), st.floats(), st.booleans(), st.text(max_size=6))


@st.composite
def _sweep_keys(draw: st.DrawFn) -> str:
    """A ``[grid]``/``[random]`` key: ``section.key`` (known or not), or a bare name."""
    fields = _fields()
    sec = draw(st.one_of(st.sampled_from(sorted(fields)), st.text(max_size=5)))
    known = sorted(fields.get(sec, {})) or [draw(st.text(max_size=5))]
    key = draw(st.one_of(st.sampled_from(known), st.text(max_size=5)))
    return draw(st.sampled_from((f"{sec}.{key}", f"{sec}.{key}", sec, key)))


#: Fields whose sweep values stay cheap: a training-cost or expression-search key with a
#: plausible value of its kind.
SWEEP_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{k: v for k, v in CHEAP.items() if k not in ("train.seed",)},
    "task.all_reachable": st.sampled_from((0, 2, 3, 4, 6)),
    "machine.max_steps": st.integers(-1, 10),
}


@st.composite
def _grid_values(draw: st.DrawFn, key: str) -> Any:
    values = SWEEP_VALUES.get(key, _sweep_field_values())
    kind = draw(st.sampled_from(("list", "list", "list", "empty", "scalar", "any")))
    if kind == "list":
        return draw(st.lists(st.one_of(values, _sweep_field_values()), min_size=1, max_size=3))
    if kind == "empty":
        return []
    if kind == "scalar":
        return draw(values)
    return draw(toml_values())


@st.composite
def _distributions(draw: st.DrawFn, key: str) -> Any:
    values = SWEEP_VALUES.get(key, _sweep_field_values())
    kind = draw(st.sampled_from(("loguniform", "uniform", "randint", "choice", "list", "junk")))
    if kind == "list":
        return draw(st.lists(values, max_size=3))
    if kind == "junk":
        return draw(toml_values())
    if kind == "choice":
        return {"choice": draw(st.one_of(st.lists(values, max_size=3), toml_values()))}
    number = st.one_of(st.integers(-5, 300), st.floats(allow_nan=True), st.text(max_size=2))
    args = draw(st.one_of(st.lists(number, min_size=2, max_size=2), st.lists(number, max_size=3)))
    return {draw(st.one_of(st.just(kind), st.text(max_size=6))): args}


@st.composite
def _clean_sweep(draw: st.DrawFn) -> dict[str, Any]:
    """A sweep file as its documentation describes it: known keys, values of the right kind,
    grids and distributions over cheap fields; most of them expand to a plan."""
    dice = _dice(draw, "_clean_sweep")
    fields = sorted(SWEEP_VALUES)
    sweep: dict[str, Any] = {}
    if dice.random() < 0.5:
        sweep["name"] = dice.choice(("entropy", "a.b-c_1", "x"))
    if dice.random() < 0.5:
        sweep["seeds"] = dice.sample(range(6), dice.randint(1, 3))
    elif dice.random() < 0.5:
        sweep["n_seeds"] = dice.randint(1, 3)
    if dice.random() < 0.3:
        sweep["preset"] = dice.choice(("default", "tutorial", "generalization"))
    if dice.random() < 0.2:
        sweep["config"] = "base.toml"
    if dice.random() < 0.4:
        keys = dice.sample(fields, dice.randint(1, 2))
        sweep["overrides"] = [f"{k}={value_text(draw(SWEEP_VALUES[k]))}" for k in keys]
    if dice.random() < 0.3:
        sweep["max_failures"] = dice.randint(0, 3)
    doc: dict[str, Any] = {"sweep": sweep}
    if dice.random() < 0.8:
        grid = dice.sample(fields, dice.randint(1, 3))
        doc["grid"] = {k: [draw(SWEEP_VALUES[k]) for _ in range(dice.randint(1, 3))] for k in grid}
    if dice.random() < 0.4:
        sweep["search"], sweep["samples"] = "random", dice.randint(1, 4)
        if dice.random() < 0.5:
            sweep["sample_seed"] = dice.randint(0, 2**40)
        table: dict[str, Any] = {}
        for k in dice.sample(fields, dice.randint(1, 2)):
            if k in doc.get("grid", {}):
                continue
            kind = dice.choice(("loguniform", "uniform", "randint", "choice", "list"))
            if kind == "randint":
                low = dice.randint(1, 10)
                table[k] = {"randint": [low, low + dice.randint(0, 5)]}
            elif kind in ("uniform", "loguniform"):
                low = dice.uniform(0.001, 0.5)
                table[k] = {kind: [low, low * dice.uniform(1.1, 3)]}
            else:
                values = [draw(SWEEP_VALUES[k]) for _ in range(dice.randint(1, 3))]
                table[k] = values if kind == "list" else {"choice": values}
        doc["random"] = table
    if dice.random() < 0.3:
        doc["resources"] = {"cpus_per_trial": dice.randint(1, 4), "gpus_per_trial": 0}
    return doc


@st.composite
def sweep_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A sweep file as TOML data: half clean (``_clean_sweep``), half with ``[sweep]``,
    ``[grid]``, ``[random]``, ``[resources]`` and junk sections of right and wrong keys and
    values; small enough to expand in well under a second (or far over ``MAX_TRIALS``, which
    is refused before anything is expanded)."""
    dice = _dice(draw, "sweep_documents")
    if dice.random() < 0.5:
        return draw(_clean_sweep())
    doc: dict[str, Any] = {}
    small = st.integers(0, 4)
    settings_values: dict[str, st.SearchStrategy[Any]] = {
        "name": st.one_of(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True), st.text(max_size=6)
        ),
        "search": st.one_of(st.sampled_from(("grid", "random")), st.text(max_size=5)),
        "seeds": st.one_of(st.lists(st.integers(-1, 2**64), max_size=3), toml_values()),
        "n_seeds": st.one_of(small, st.integers(10**4 + 1, 10**9), toml_values()),
        "samples": st.one_of(small, st.integers(10**4 + 1, 10**9), toml_values()),
        "sample_seed": st.one_of(st.integers(-1, 2**64), toml_values()),
        "preset": st.one_of(st.sampled_from(("default", "tutorial")), st.text(max_size=5)),
        "config": st.one_of(
            st.sampled_from(("base.toml", "nope.toml", ".", "")), st.text(max_size=5)
        ),
        "overrides": st.lists(override_texts(small_tasks=True), max_size=3),
        "max_failures": st.one_of(small, toml_values()),
    }
    if dice.random() < 0.8:
        keys = dice.sample(sorted(settings_values), dice.randint(0, 5))
        doc["sweep"] = {k: draw(settings_values[k]) for k in keys}
        if dice.random() < 0.15:
            doc["sweep"][draw(st.text(max_size=5))] = draw(toml_values())
    if dice.random() < 0.5:
        keys = draw(st.lists(_sweep_keys(), max_size=3, unique=True))
        doc["grid"] = {k: draw(_grid_values(k)) for k in keys}
    if dice.random() < 0.5:
        keys = draw(st.lists(_sweep_keys(), min_size=1, max_size=3, unique=True))
        doc["random"] = {k: draw(_distributions(k)) for k in keys}
        if dice.random() < 0.5:
            doc.setdefault("sweep", {})["search"] = "random"
            doc["sweep"].setdefault("samples", dice.randint(1, 4))
    if dice.random() < 0.5:
        resources = {
            "cpus_per_trial": st.one_of(st.integers(-1, 4), toml_values()),
            "gpus_per_trial": st.one_of(st.floats(-1, 2), toml_values()),
            "max_concurrent": st.one_of(st.integers(-1, 4), toml_values()),
        }
        keys = dice.sample(sorted(resources), dice.randint(0, 3))
        doc["resources"] = {k: draw(resources[k]) for k in keys}
    if dice.random() < 0.1:
        doc[draw(st.text(max_size=6))] = draw(toml_values())
    return doc


@dataclass(frozen=True)
class SweepInput:
    """A sweep file's bytes and the base configuration file beside it (``base.toml``)."""

    sweep: bytes
    base: bytes | None


#: A base configuration of a sweep: only keys whose every value is cheap to validate.
CHEAP_CONFIGS = st.dictionaries(
    st.sampled_from(("train", "algo", "model", "machine", "junk")),
    st.dictionaries(
        st.sampled_from(("lr", "batch_size", "kind", "name", "max_steps", "x")),
        st.one_of(st.integers(-1, 8), st.floats(), st.sampled_from(("gru", "x"))),
        max_size=2,
    ),
    max_size=2,
)


@st.composite
def sweep_inputs(draw: st.DrawFn) -> SweepInput:
    """Sweep files (valid TOML of ``sweep_documents``, mutated, nested deeply, invalid,
    binary) and, now and then, a base configuration file they may name."""
    sweep = draw(toml_files(sweep_documents()))
    base = draw(st.one_of(st.none(), toml_files(CHEAP_CONFIGS)))
    return SweepInput(sweep, base)


def check_sweep(inp: SweepInput) -> str:
    """``read_sweep`` gives a plan (every trial's configuration valid) or a one-line
    ``SweepError``; ``nativeagent sweep FILE --out EXISTING_FILE`` then stops before Ray with
    exit 2 and the same message (or the ``--out`` refusal for a valid plan), writing nothing."""
    from nativeagent.config import load_config
    from nativeagent.experiments.sweep import SweepError, read_sweep

    where = fresh_dir("sweep")
    path = where / "sweep.toml"
    path.write_bytes(inp.sweep)
    if inp.base is not None:
        (where / "base.toml").write_bytes(inp.base)
    blocker = where / "a-file"
    blocker.write_text("not a sweep directory\n")
    try:
        plan = read_sweep(path)
    except SweepError as err:
        label, message = "SweepError", one_line(err)
    else:
        label, message = "plan", ""
        assert plan.trials and len(plan.trials) == len(plan.configurations) * len(plan.seeds)
        trial = plan.trials[-1]
        assert load_config(overrides=[]).to_dict().keys() == trial.config.keys()
    before = tree_state(where)
    r = run_cli(["sweep", str(path), "--out", str(blocker)])
    assert cli_outcome(r, (2,)) == "exit 2"
    got = lines(r.err)[0].removeprefix("error: ")
    if label == "plan":
        assert "exists and is not a directory" in got, got
    else:
        assert shown(got) == shown(message), (got, message)
    assert_unchanged(before, tree_state(where), "sweep")
    shutil.rmtree(where)
    return label


# --- e. run directories ----------------------------------------------------------------------

RUN_FILES = (
    "metrics.jsonl",
    "result.json",
    "config.toml",
    "config.json",
    "checkpoint.pt",
    "command.txt",
)
#: Settings of the small runs every run-directory input copies: a few updates, every update
#: logged, evaluated and checkpointed.
TINY_RUN = [
    "train.max_updates=2",
    "train.batch_size=32",
    "train.eval_every=1",
    "train.log_every=1",
    "train.checkpoint_every=1",
    "train.eval_episodes=16",
    "train.final_eval_episodes=20",
    "train.threads=1",
]


@dataclass(frozen=True)
class BaseRuns:
    """A finished run, and an unfinished one (its checkpoint asks for two more updates)."""

    finished: Path
    unfinished: Path


_RUNS: dict[str, BaseRuns] = {}


def base_runs() -> BaseRuns:
    """The two small runs every run-directory input starts from (made once per process)."""
    if "runs" not in _RUNS:
        _RUNS["runs"] = make_base_runs(fresh_dir("base-runs"))
    return _RUNS["runs"]


def make_base_runs(root: Path) -> BaseRuns:
    """Train a tiny run into ``root/finished``; ``root/unfinished`` is the same run before its
    end: no ``result.json``, and a checkpoint (and saved config) that ask for 4 updates."""
    from nativeagent.config import from_dict, load_config, save_config
    from nativeagent.training.checkpoint import load_checkpoint, save_checkpoint
    from nativeagent.training.train import train

    finished = root / "finished"
    train(load_config(overrides=TINY_RUN), finished, command="nativeagent train --out finished")
    unfinished = root / "unfinished"
    shutil.copytree(finished, unfinished)
    (unfinished / "result.json").unlink()
    (unfinished / ".lock").unlink(missing_ok=True)
    state = load_checkpoint(unfinished)
    state.pop("format")
    state["config"]["train"]["max_updates"] = 4
    state["stopped"] = False
    save_checkpoint(unfinished / "checkpoint.pt", state)
    save_config(from_dict(state["config"]), unfinished)
    (finished / ".lock").unlink(missing_ok=True)
    return BaseRuns(finished, unfinished)


@dataclass(frozen=True)
class Corruption:
    """One file of a run directory damaged one way; positions are fractions of its length."""

    file: str
    kind: str
    at: float = 0.0
    flips: tuple[tuple[float, int], ...] = ()
    data: bytes = b""
    value: Any = None
    path: tuple[int, ...] = ()
    finished: bool = True


KINDS = ("truncate", "flip", "random-bytes", "json", "mutate", "empty", "delete", "append")


def json_values() -> st.SearchStrategy[Any]:
    """JSON values, NaN and infinities included (Python's json reads and writes them)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )


@st.composite
def ckpt_values(draw: st.DrawFn) -> Any:
    """What a mutated checkpoint entry becomes: JSON-like values or tensors of any shape."""
    import torch

    if draw(st.booleans()):
        return draw(json_values())
    dtype = draw(st.sampled_from((torch.float32, torch.int64, torch.bool, torch.float16)))
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    fill = draw(st.sampled_from((0.0, 1.0, math.nan, math.inf)))
    if dtype in (torch.int64, torch.bool) and not math.isfinite(fill):
        fill = 1.0
    return torch.full(shape, fill).to(dtype)


@st.composite
def corruptions(
    draw: st.DrawFn, files: Sequence[str] = RUN_FILES, unfinished: float = 0.0
) -> Corruption:
    """One damaged file of a run: truncated at a random byte, bytes flipped, replaced with
    random bytes, with a random JSON value or empty, deleted, a random line appended; or one
    value inside it (JSON, a metrics line, a checkpoint entry) replaced or deleted.
    ``unfinished``: how often the run is the unfinished one."""
    file = draw(st.sampled_from(list(files)))
    kind = draw(st.sampled_from(KINDS))
    finished = draw(st.floats(0, 1)) >= unfinished
    flips = tuple(
        draw(
            st.lists(
                st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                min_size=1,
                max_size=8,
            )
        )
    )
    data = draw(st.binary(max_size=64))
    value: Any
    if kind == "mutate" and file == "checkpoint.pt":
        value = draw(st.one_of(ckpt_values(), st.just("<delete>")))
    elif kind == "append":
        value = draw(st.one_of(json_values().map(json.dumps), st.text(max_size=20)))
    else:
        value = draw(st.one_of(json_values(), st.just("<delete>")))
    path = tuple(draw(st.lists(st.integers(0, 1000), min_size=1, max_size=4)))
    at = draw(st.floats(0, 1))
    return Corruption(file, kind, at, flips, data, value, path, finished)


def _replace_in(data: Any, path: Sequence[int], value: Any) -> Any:
    """``data`` with the entry that ``path`` picks (indices modulo each level's size) replaced by
    ``value`` (``"<delete>"``: removed); the walk stops where a level has no entries."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    data = copy.copy(data)
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    inner = _replace_in(data[key], path[1:], value)
    if inner == "<delete>" and isinstance(inner, str):
        del data[key]
    else:
        data[key] = inner
    return data


def corrupt(run: Path, c: Corruption) -> None:
    """Apply ``c`` to the run directory ``run``."""
    import torch

    path = run / c.file
    if not path.exists() and c.kind in ("truncate", "flip", "mutate"):
        return  # nothing to damage (an unfinished run has no result.json)
    raw = path.read_bytes() if path.exists() else b""
    if c.kind == "delete":
        path.unlink(missing_ok=True)
    elif c.kind == "empty":
        path.write_bytes(b"")
    elif c.kind == "truncate":
        path.write_bytes(raw[: int(c.at * len(raw))])
    elif c.kind == "flip":
        data = bytearray(raw or b"\0")
        for where, mask in c.flips:
            data[int(where * len(data))] ^= mask
        path.write_bytes(bytes(data))
    elif c.kind == "random-bytes":
        path.write_bytes(c.data)
    elif c.kind == "json":
        path.write_text(json.dumps(c.value))
    elif c.kind == "append":
        path.write_bytes(raw + str(c.value).encode() + b"\n")
    elif c.file == "checkpoint.pt":
        state = torch.load(path, map_location="cpu", weights_only=True)
        torch.save(_replace_in(state, c.path, c.value), path)
    elif c.file == "metrics.jsonl":
        records = raw.decode().splitlines()
        i = c.path[0] % len(records)
        record = _replace_in(json.loads(records[i]), c.path[1:], c.value)
        records[i : i + 1] = [] if record == "<delete>" else [json.dumps(record)]
        path.write_text("".join(f"{r}\n" for r in records))
    elif c.file.endswith(".json"):
        path.write_text(json.dumps(_replace_in(json.loads(raw), c.path, c.value)))
    elif c.file == "config.toml":
        import tomllib

        data = _replace_in(tomllib.loads(raw.decode()), c.path, c.value)
        path.write_text(toml_text(data) if isinstance(data, dict) else json.dumps(data))
    else:
        path.write_bytes(raw + json.dumps(c.value).encode())


@dataclass(frozen=True)
class RunCommand:
    """How one command reads (and maybe writes) a run directory."""

    name: str
    args: Callable[[Path, Path], list[str]]  # (run, out) -> arguments
    reads: tuple[str, ...]  # the files it reads, damaged most often
    writes: bool  # writes ``out`` (or, for resume, the run)
    unfinished: float = 0.0  # how often the input is the unfinished run


RUN_COMMANDS = {
    c.name: c
    for c in (
        RunCommand(
            "eval",
            lambda run, out: ["eval", str(run), "--episodes", "4"],
            ("checkpoint.pt",),
            False,
        ),
        RunCommand(
            "eval-json",
            lambda run, out: ["eval", str(run), "--episodes", "4", "--json"],
            ("checkpoint.pt",),
            False,
        ),
        RunCommand(
            "explain", lambda run, out: ["explain", str(run), "-n", "1"], ("checkpoint.pt",), False
        ),
        RunCommand(
            "plot",
            lambda run, out: ["plot", str(run), "--out", str(out / "curves.png")],
            ("metrics.jsonl", "config.json"),
            True,
        ),
        RunCommand(
            "report",
            lambda run, out: [
                "report",
                str(run),
                "--out",
                str(out / "report.html"),
                "--search",
                "4",
            ],
            ("metrics.jsonl", "result.json", "checkpoint.pt", "config.json", "config.toml"),
            True,
        ),
        RunCommand(
            "export",
            lambda run, out: ["export", str(run), str(out / "export")],
            ("result.json", "checkpoint.pt"),
            True,
        ),
        RunCommand(
            "resume",
            lambda run, out: ["train", "--resume", str(run), "-q"],
            ("checkpoint.pt", "metrics.jsonl", "result.json"),
            True,
            unfinished=0.8,
        ),
    )
}


def run_dir_inputs(command: str) -> st.SearchStrategy[Corruption]:
    """Damage for ``command``'s input: mostly in the files it reads, now and then in any."""
    c = RUN_COMMANDS[command]
    return st.one_of(
        corruptions(c.reads, c.unfinished),
        corruptions(c.reads, c.unfinished),
        corruptions(RUN_FILES, c.unfinished),
    )


def check_run_dir(command: str, c: Corruption) -> str:
    """Copy a small run, damage it with ``c``, run ``command`` on it. Readers leave the run as
    it was; a writer that fails leaves no output and no temporary (resume: the run as it was);
    a writer that succeeds leaves its whole output."""
    spec = RUN_COMMANDS[command]
    runs = base_runs()
    parent = fresh_dir(f"run-{command}")
    run, out = parent / "run", parent / "out"
    shutil.copytree(runs.finished if c.finished else runs.unfinished, run)
    out.mkdir()
    corrupt(run, c)
    before = tree_state(run)
    metrics = run / "metrics.jsonl"
    nul_before = metrics.is_file() and b"\0" in metrics.read_bytes()
    r = run_cli(spec.args(run, out))
    outcome = cli_outcome(r, (0, 2, 3) if command == "resume" else (0, 2))
    assert not temporaries(parent), temporaries(parent)
    if command == "resume":
        if r.code == 0:
            result = json.loads((run / "result.json").read_text())
            assert {"accuracy", "solved", "updates"} <= result.keys()
            assert nul_before or b"\0" not in metrics.read_bytes(), "resume wrote NUL bytes"
        elif r.code == 2:
            assert_unchanged(before, tree_state(run), "a failed resume")
    else:
        assert_unchanged(before, tree_state(run), command)
        written = sorted(p.name for p in out.iterdir())
        if r.code != 0:
            assert not written, f"{command} failed but wrote {written}"
        elif spec.writes:
            assert len(written) == 1, written
            if command == "export":
                files = sorted(p.name for p in (out / "export").iterdir())
                assert files == ["README.md", "config.json", "model.safetensors"], files
    shutil.rmtree(parent)
    return outcome


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """One fuzzed surface: what its inputs are, and how one is checked."""

    name: str
    inputs: Callable[[], st.SearchStrategy[Any]]
    check: Callable[[Any], str]
    about: str
    group: str = field(default="")


def _run_surface(command: str) -> Surface:
    return Surface(
        f"run-dir {command}",
        lambda: run_dir_inputs(command),
        lambda c: check_run_dir(command, c),
        f"a damaged run directory fed to {command}",
        "e",
    )


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface("parse", expression_texts, check_parse, "tasks.expression.parse", "a"),
        Surface("solve", solve_args, check_solve, "nativeagent solve", "a"),
        Surface("expressions", expressions_args, check_expressions, "nativeagent expressions", "a"),
        Surface("config", config_inputs, check_config, "config.load_config", "b"),
        Surface(
            "train --config/--set",
            config_inputs,
            check_train_config,
            "nativeagent train, stopped at --out",
            "b",
        ),
        Surface(
            "train (tiny runs)",
            train_run_args,
            check_train_run,
            "nativeagent train, real tiny runs",
            "b",
        ),
        Surface("execute", execute_inputs, check_execute, "execute() + batched machine", "c"),
        Surface(
            "batched machine",
            batch_inputs,
            check_batched,
            "ToolMachine/LegacyMachine vs reference",
            "c",
        ),
        Surface("sweep", sweep_inputs, check_sweep, "read_sweep + nativeagent sweep", "d"),
        *(_run_surface(c) for c in RUN_COMMANDS),
    )
}
