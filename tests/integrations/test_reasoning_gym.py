"""The reasoning-gym dataset ``nativeagent``: items, scoring by running programs, the split."""

import importlib
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

reasoning_gym = pytest.importorskip("reasoning_gym")

from reasoning_gym import factory  # noqa: E402
from reasoning_gym.arithmetic.chain_sum import ChainSumConfig, ChainSumDataset  # noqa: E402
from reasoning_gym.composite import DatasetSpec  # noqa: E402

import nativeagent.integrations.reasoning_gym as rg  # noqa: E402
from nativeagent import execute  # noqa: E402
from nativeagent.build import build_task_set  # noqa: E402
from nativeagent.config import load_config  # noqa: E402
from nativeagent.machine.tools import PROFILES, describe  # noqa: E402
from nativeagent.tasks.generate import all_reachable  # noqa: E402
from nativeagent.tasks.task import Task  # noqa: E402
from nativeagent.tokens import name  # noqa: E402


def make(**kwargs: Any) -> Any:
    """A dataset through reasoning-gym's own factory, as a user makes one."""
    return reasoning_gym.create_dataset("nativeagent", **kwargs)


def shapes_of(data: Any) -> set[str]:
    return {entry["metadata"]["shape"] for entry in data}


def test_import_nativeagent_does_not_import_reasoning_gym() -> None:
    code = (
        "import sys, nativeagent, nativeagent.integrations; "
        "assert 'reasoning_gym' not in sys.modules, 'imported'; "
        "assert not any(m.startswith('nativeagent.integrations.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registration_is_idempotent_and_refuses_a_foreign_dataset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rg.register()
    rg.register()
    importlib.reload(rg)  # re-executes the module, which registers its new classes
    assert factory.DATASETS["nativeagent"] == (rg.NativeAgentDataset, rg.NativeAgentConfig)
    assert factory.CURRICULA["nativeagent"] is rg.NativeAgentCurriculum
    assert make(seed=0, size=2)[0]["metadata"]["source_dataset"] == "nativeagent"
    monkeypatch.setitem(factory.DATASETS, "nativeagent", (ChainSumDataset, ChainSumConfig))
    with pytest.raises(ValueError, match="already has a dataset 'nativeagent'"):
        rg.register()


def test_items_are_deterministic_per_seed_and_index() -> None:
    a, b = make(seed=7, size=40), make(seed=7, size=40)
    backwards = [b[i] for i in reversed(range(40))][::-1]  # order of access does not matter
    assert list(a) == backwards
    assert len(a) == 40 and len(list(a)) == 40
    other = make(seed=8, size=40)
    assert [e["metadata"]["context"] for e in other] != [e["metadata"]["context"] for e in a]
    assert a[5] == make(seed=7, size=6)[5]  # the item does not depend on the size


def test_every_answer_is_the_solvers_shortest_program_and_scores_one() -> None:
    for machine, size in (("canonical", 300), ("extended", 150)):
        data = make(machine=machine, seed=1, size=size)
        for entry in data:
            meta = entry["metadata"]
            task = Task.parse(meta["expression"])
            program = task.shortest_program(machine, meta["max_steps"])
            assert program is not None
            assert entry["answer"] == " ".join(name(t) for t in program)
            assert meta["target"] == task.target(meta["context"])
            assert meta["program_length"] == len(program)
            assert data.score_answer(entry["answer"], entry) == 1.0
            assert data.score_answer(entry["answer"], json.loads(json.dumps(entry))) == 1.0


def test_question_states_task_digits_tools_and_format() -> None:
    for machine in ("canonical", "extended"):
        entry = make(machine=machine, expressions=["(a*b+c)-(d*e)"], seed=2, size=1)[0]
        q, meta = entry["question"], entry["metadata"]
        assert "(a*b+c)-(d*e)" in q
        letters = "abcde"
        assert ", ".join(f"{x} = {d}" for x, d in zip(letters, meta["context"], strict=True)) in q
        for tool in PROFILES[machine].tools:  # every tool, in the table's words
            effect, legal = describe(tool)
            assert f"- {tool.name}: {effect.replace('`', '')}. Legal when: {legal}." in q
        assert ("LOAD" in q) == (machine == "extended")
        assert "separated by spaces, ending with ANS" in q
        assert f"at most {meta['max_steps']} tools" in q


@pytest.mark.parametrize(
    "answer",
    [
        "MUL ADD ANS",
        "mul add ans",
        "Mul, Add, Ans",
        "MUL,ADD,ANS",
        "[MUL] [ADD] [ANS]",
        " MUL\nADD\tANS ",
    ],
)
def test_tolerated_spellings_score_one(answer: str) -> None:
    data = make(expressions=["a*b+c"], seed=0, size=1)
    assert data.score_answer(answer, data[0]) == 1.0


def test_wrong_programs_score_zero() -> None:
    data = make(expressions=["a*b+c"], seed=0, size=50)
    for entry in data:
        a, b, c = entry["metadata"]["context"]
        assert data.score_answer("MUL ADD", entry) == 0.0  # no answer
        assert data.score_answer("ADD ADD ANS", entry) == float(a + b + c == a * b + c)
        assert data.score_answer("MUL SUB ANS", entry) == float(c == 0)
        assert data.score_answer("MUL ANS", entry) == float(c == 0)
        assert data.score_answer("STO MUL ADD ANS", entry) == 0.0  # illegal first tool
    wrong = [e for e in data if e["metadata"]["context"][2] != 0]
    assert wrong and all(data.score_answer("MUL SUB ANS", e) == 0.0 for e in wrong)


def test_any_correct_program_scores_but_not_beyond_max_steps() -> None:
    longer = "LOAD MUL ADD ANS"  # a*b+c in four tools, one more than the shortest
    four = make(machine="extended", expressions=["a*b+c"], max_steps=4, seed=0, size=5)
    three = make(machine="extended", expressions=["a*b+c"], max_steps=3, seed=0, size=5)
    for entry in four:
        assert entry["answer"] == "MUL ADD ANS"
        assert four.score_answer(longer, entry) == 1.0
    for entry in three:
        assert three.score_answer(entry["answer"], entry) == 1.0
        assert three.score_answer(longer, entry) == 0.0
    canonical = make(expressions=["a*b+c"], seed=0, size=1)
    assert canonical.score_answer(longer, canonical[0]) == 0.0  # LOAD is not a canonical tool


MALFORMED: list[Any] = [
    None,
    "",
    "   ",
    ",,",
    42,
    3.5,
    True,
    b"MUL ADD ANS",
    ["MUL", "ADD", "ANS"],
    ("MUL", "ADD", "ANS"),
    {"answer": "MUL ADD ANS"},
    "The answer is MUL ADD ANS",
    "MUL ADD ANS.",
    "MUL ADD ANS extra",
    "MUL ADD ANS ANS",
    "MUL ADD ANS MUL",
    "ANS MUL ADD ANS",
    "MULADDANS",
    "MUL;ADD;ANS",
    "[MUL][ADD][ANS]",
    "[] MUL ADD ANS",
    "[CTX] MUL ADD ANS",
    "7 ANS",
    "MUL ADD [EOS] ANS",
    "MUL ADD ANS\x00",
    "MUL " * 1000 + "ANS",
    "<answer>MUL ADD ANS</answer>",
]


@pytest.mark.parametrize("answer", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_answers_score_zero(answer: Any) -> None:
    data = make(expressions=["a*b+c"], seed=0, size=1)
    assert data.score_answer(answer, data[0]) == 0.0


@settings(max_examples=300, deadline=None)
@given(answer=st.one_of(st.text(), st.binary(), st.integers(), st.none(), st.lists(st.text())))
def test_random_answers_never_raise(answer: Any) -> None:
    data = make(seed=0, size=20)
    for i in (0, 7, 13):
        assert data.score_answer(answer, data[i]) in (0.0, 1.0)


TOOL_WORDS = [t.name for t in PROFILES["extended"].tools]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from([*TOOL_WORDS, "LOAD", "X", "7", "ctx"]), max_size=14),
    sep=st.sampled_from([" ", ", ", ",", "\n", " , "]),
    case=st.sampled_from([str.upper, str.lower, str.title]),
    index=st.integers(0, 29),
)
def test_random_programs_score_what_the_machine_says(
    words: list[str], sep: str, case: Any, index: int
) -> None:
    data = make(machine="extended", max_operands=3, seed=5, size=30)
    entry = data[index]
    meta = entry["metadata"]
    score = data.score_answer(sep.join(case(w) for w in words), entry)
    if not words or not set(words) <= set(TOOL_WORDS) or len(words) > meta["max_steps"]:
        assert score == 0.0
        return
    outcome = execute(words, meta["context"], meta["expression"], "extended", meta["max_steps"])
    ran_to_the_end = outcome.steps == len(words) and outcome.answer is not None
    assert score == float(ran_to_the_end and outcome.answer == meta["target"])


def test_held_out_and_train_are_disjoint_and_are_nativeagents_split() -> None:
    cfg = load_config(preset="generalization")  # task.all_reachable=4, held_out=0.2, seed 0
    task_set = build_task_set(cfg)
    trained = {t.shape for stage in task_set.stages for t in stage}
    held = {t.shape for t in task_set.held_out}
    train_items = make(split="train", seed=0, size=400)
    held_items = make(split="held_out", seed=0, size=400)
    assert shapes_of(train_items) <= trained
    assert shapes_of(held_items) == held  # 400 draws meet all 22 held-out shapes
    assert not shapes_of(train_items) & shapes_of(held_items)
    assert {e["metadata"]["split"] for e in train_items} == {"train"}
    assert {e["metadata"]["split"] for e in held_items} == {"held_out"}
    train, held_tasks = rg.split_tasks(rg.NativeAgentConfig())
    assert {t.shape for t in train} == trained and {t.shape for t in held_tasks} == held
    every = {t.shape for n in (2, 3, 4) for t in all_reachable(n)}
    assert {t.shape for t in rg.pool(rg.NativeAgentConfig(split="all"))} == every


def test_operand_counts_filter_the_same_split() -> None:
    full_train, full_held = rg.split_tasks(rg.NativeAgentConfig())
    train, held = rg.split_tasks(rg.NativeAgentConfig(min_operands=3))
    assert train == tuple(t for t in full_train if t.n_operands >= 3)
    assert held == tuple(t for t in full_held if t.n_operands >= 3)
    counts = {e["metadata"]["n_operands"] for e in make(min_operands=3, seed=0, size=60)}
    assert counts == {3, 4}
    counts = {e["metadata"]["n_operands"] for e in make(max_operands=2, seed=0, size=30)}
    assert counts == {2}


def test_explicit_expressions_split_like_a_curriculum() -> None:
    stage = ["a*b", "a+b", "a-b", "a*b+c", "a*b-c"]
    data = make(expressions=[stage], held_out=0.4, seed=0, size=100)
    train, held = rg.split_tasks(data.config)
    assert len(held) == 2 and len(train) == 3
    assert shapes_of(data) == set(stage)
    cfg = load_config(overrides=[f"task.curriculum=[{json.dumps(stage)}]", "task.held_out=0.4"])
    assert {t.shape for t in build_task_set(cfg).held_out} == {t.shape for t in held}


def test_extended_machine_computes_what_canonical_cannot() -> None:
    data = make(machine="extended", expressions=["a*(b+c)", "a-(b*c-d)"], seed=0, size=30)
    assert shapes_of(data) == {"a*(b+c)", "a-(b*c-d)"}
    for entry in data:
        assert entry["metadata"]["machine"] == "extended"
        assert entry["metadata"]["max_steps"] == 12
        assert data.score_answer(entry["answer"], entry) == 1.0
    answers = {e["answer"] for e in data if e["metadata"]["expression"] == "a*(b+c)"}
    assert answers <= {"LOAD STO ADD RCL MUL ANS", "LOAD STO2 ADD RCL2 MUL ANS"}
    every = {t.shape for t in rg.pool(rg.NativeAgentConfig(machine="extended", split="all"))}
    assert len(every) == 3 + 18 + 135
    with pytest.raises(ValueError, match=r"^expressions\[0\]"):
        make(expressions=["a*(b+c)"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"machine": "nope"}, "machine"),
        ({"machine": "seed-legacy"}, "machine"),
        ({"min_operands": 1}, "min_operands"),
        ({"max_operands": 6}, "max_operands"),
        ({"min_operands": 4, "max_operands": 3}, "max_operands"),
        ({"min_operands": "2"}, "min_operands"),
        ({"split": "test"}, "split"),
        ({"held_out": 1.0}, "held_out"),
        ({"held_out": -0.1}, "held_out"),
        ({"held_out": "0.2"}, "held_out"),
        ({"split_seed": -1}, "split_seed"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": True}, "max_steps"),
        ({"seed": "x"}, "seed"),
        ({"size": 0}, "size"),
        ({"expressions": "a*b"}, "expressions"),
        ({"expressions": []}, "expressions"),
        ({"expressions": [[]]}, r"expressions\[0\]"),
        ({"expressions": [3]}, r"expressions\[0\]"),
        ({"expressions": ["a*b", "a**b"]}, r"expressions\[1\]"),
        ({"expressions": ["a*b", "(a*b)"]}, "expressions"),
        ({"expressions": ["a*b+c"], "max_steps": 2}, r"expressions\[0\]"),
        ({"split": "held_out", "held_out": 0.0}, "split"),
        ({"split": "held_out", "expressions": ["a*b", "a+b"], "held_out": 0.5}, "split"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        make(**kwargs)


def test_reasoning_gyms_own_helpers_score_the_items() -> None:
    data = make(seed=3, size=10)
    score = reasoning_gym.get_score_answer_fn("nativeagent")  # a default-config dataset's
    assert all(score(e["answer"], e) == 1.0 for e in data)
    assert all(score("MUL", e) == 0.0 for e in data)
    specs = [
        DatasetSpec("nativeagent", 1.0, {"machine": "extended"}),
        DatasetSpec("chain_sum", 1.0, {}),
    ]
    mixed = reasoning_gym.create_dataset("composite", datasets=specs, seed=1, size=40)
    ours = [e for e in mixed if e["metadata"]["source_dataset"] == "nativeagent"]
    assert ours and all(mixed.score_answer(e["answer"], e) == 1.0 for e in ours)
    assert all(mixed.score_answer("ANS", e) == 0.0 for e in ours)
    curriculum = factory.create_curriculum("nativeagent")
    curriculum.increment_attr_level("n_operands")
    config = curriculum.generate_configuration({"seed": 0, "size": 20})
    assert (config.min_operands, config.max_operands) == (2, 3)
    counts = {
        e["metadata"]["n_operands"]
        for e in reasoning_gym.create_dataset("nativeagent", **vars(config))
    }
    assert counts == {2, 3}
