"""Task sets: enumeration, random reachable expressions, held-out splits, configs that fail."""

import random
import re

import pytest

from nativeagent.build import build_task_set
from nativeagent.config import ConfigError, from_dict, load_config, parse_override
from nativeagent.tasks.expression import n_operands, n_operators, operands
from nativeagent.tasks.generate import all_reachable, all_trees, random_reachable, random_tree
from nativeagent.tasks.solver import solve
from nativeagent.tasks.split import split_held_out


def test_tree_counts_are_catalan_times_operator_choices() -> None:
    assert [len(all_trees(0, n)) for n in (1, 2, 3, 4)] == [1, 3, 2 * 9, 5 * 27]


def test_all_reachable_is_exactly_the_solvable_trees() -> None:
    for n in (2, 3, 4):
        tasks = all_reachable(n)
        shapes = {t.shape for t in tasks}
        assert len(shapes) == len(tasks)
        solvable = {t for t in all_trees(0, n) if solve(t).reachable}
        assert {t.tree for t in tasks} == solvable
    assert [t.expression for t in all_reachable(2)] == ["a*b", "a+b", "a-b"]
    assert "a*(b+c)" not in {t.expression for t in all_reachable(3)}


def test_random_trees_read_operands_once_in_order_and_vary() -> None:
    gen = random.Random(0)
    trees = [random_tree(4, gen) for _ in range(300)]
    assert all(operands(t) == [0, 1, 2, 3] and n_operators(t) == 3 for t in trees)
    assert len(set(trees)) > 60  # 135 possible trees


def test_random_reachable_is_seeded_distinct_and_reachable() -> None:
    first = random_reachable(4, 10, random.Random(5))
    again = random_reachable(4, 10, random.Random(5))
    other = random_reachable(4, 10, random.Random(6))
    assert [t.expression for t in first] == [t.expression for t in again]
    assert [t.expression for t in first] != [t.expression for t in other]
    assert len({t.shape for t in first}) == 10
    assert all(solve(t.tree).reachable and n_operands(t.tree) == 4 for t in first)
    only_add = random_reachable(3, 2, random.Random(0), operators="+")
    assert {t.expression for t in only_add} == {"a+b+c", "a+(b+c)"}


def test_random_reachable_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError, match="only 3 reachable"):
        random_reachable(2, 4, random.Random())
    with pytest.raises(ValueError, match="operators"):
        random_reachable(3, 1, random.Random(), operators="/")
    with pytest.raises(ValueError, match=r"2\.\.26 operands"):
        random_reachable(1, 1, random.Random())


def test_held_out_split_is_seeded_disjoint_and_keeps_every_stage() -> None:
    stages = [list(all_reachable(n)) for n in (2, 3, 4)]
    kept, held = split_held_out(stages, 0.2, seed=0)
    total = sum(len(s) for s in stages)
    assert len(held) == round(0.2 * total)
    assert all(kept) and sum(len(s) for s in kept) + len(held) == total
    seen = {t.shape for s in kept for t in s}
    assert not seen & {t.shape for t in held}
    assert split_held_out(stages, 0.2, seed=0)[1] == held
    assert split_held_out(stages, 0.2, seed=1)[1] != held
    kept_all, none = split_held_out(stages, 0.0, seed=0)
    assert kept_all == stages and none == []
    _, most = split_held_out([[t] for t in all_reachable(2)], 0.9, seed=0)
    assert most == []  # a stage of one task is never emptied


def test_build_task_set_from_a_config() -> None:
    cfg = load_config(
        overrides=[
            'task.curriculum=["a*b", ["a+b", "a-b"]]',
            'task.held_out_expressions=["(a-b)*c"]',
            "task.show_expression=true",
        ]
    )
    tasks = build_task_set(cfg)
    assert [[t.expression for t in s] for s in tasks.stages] == [["a*b"], ["a+b", "a-b"]]
    assert [t.expression for t in tasks.held_out] == ["(a-b)*c"]
    assert tasks.width == 3 and tasks.show_expression and tasks.n_trained == 3
    generated = build_task_set(load_config(overrides=["task.all_reachable=4", "task.held_out=0.2"]))
    assert [len(s) for s in generated.stages] == [2, 10, 76] and len(generated.held_out) == 22


@pytest.mark.parametrize(
    ("overrides", "message", "at_load"),
    [
        (['task.curriculum=["a*(b+c)"]'], "task.curriculum[0]: no program of any length", False),
        (['task.curriculum=["a*b", ["a+b", "(a*b)"]]'], "a*b appears more than once", False),
        (['task.held_out_expressions=["a*b+c"]'], "also in the curriculum", False),
        (['task.held_out_expressions=["a-(b*c)"]'], "task.held_out_expressions: no program", False),
        (['task.curriculum=["a*b-c*d-e*f"]'], "at most 8 tools", False),
        (["task.all_reachable=1"], "task.all_reachable: needs at least 2 operands", False),
        (['task.curriculum=["a*(b+"]'], "at position 6", True),
        (["task.curriculum=[]"], "at least one stage", True),
        (["task.curriculum=[[]]"], "at least one expression", True),
        (["task.all_reachable=7"], "task.all_reachable", True),
        (["task.held_out=1.0"], "task.held_out", True),
        (['machine.name="seed-legacy"', "task.show_expression=true"], "seed-legacy", True),
        (['curriculum.kind="blocks"', "curriculum.blocks=[0, 3]"], "blocks.1: stage 3 ", True),
        (['curriculum.kind="blocks"', 'task.curriculum=["a*b"]'], "blocks.3: stage 1 ", True),
    ],
)
def test_task_configs_that_cannot_work_name_the_key(
    overrides: list[str], message: str, at_load: bool
) -> None:
    """Syntax and ranges fail when the config is parsed; solvability when its task set is built,
    which ``load_config`` does too."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(overrides=overrides)
    if not at_load:
        cfg = from_dict(load_config().to_dict() | {"task": parse_override(overrides[0])["task"]})
        with pytest.raises(ConfigError, match=re.escape(message)):
            build_task_set(cfg)
