"""The Gym envs over any task set: expressions, a run's TaskSet, task mode, every machine."""

from __future__ import annotations

import warnings
from collections import Counter

import gymnasium
import numpy as np
import pytest
from env_obs import read, template, verdict
from gymnasium.utils.env_checker import check_env

from nativeagent.build import build_task_set
from nativeagent.config import load_config
from nativeagent.envs import ENV_ID, ToolMachineEnv, ToolMachineVectorEnv, policy_accuracy
from nativeagent.tasks import BUILTIN, Task, TaskSet
from nativeagent.tasks.expression import OP_TOKENS
from nativeagent.tokens import ADD, MUL

#: Two stages (the first of two expressions) and a held-out expression, in task mode.
RUN_CONFIG = [
    'task.curriculum=[["a*b", "a+b"], "a*b+c"]',
    'task.held_out_expressions=["a-b"]',
    "task.show_expression=true",
]

KWARGS = [
    {"tasks": ["a*b+c", "(a-b)*c"]},
    {"tasks": "a*b-c*d, a-b", "stage": None},
    {"tasks": ["a*b+c", "(a-b)*c"], "show_expression": True},
    {"tasks": ["a*(b+c)", "a-(b-c)+d", "a*b"], "machine": "extended"},
    {"tasks": ["a*(b+c)", "a*b"], "machine": "extended", "show_expression": True},
    {"stage": None, "show_expression": True},
    {"stage": 2, "machine": "extended", "show_expression": True, "process_reward": 0.1},
]


def random_episode(env: ToolMachineEnv, rng: np.random.Generator, p_any: float) -> tuple:
    """One episode of random actions (legal ones, or with probability ``p_any`` any action):
    the first observation, the rewards, the last observation and info."""
    first, info = env.reset(seed=int(rng.integers(1 << 30)))
    rewards, terminated = [], False
    while not terminated:
        legal = np.flatnonzero(info["action_mask"])
        act = rng.integers(env.action_space.n) if rng.random() < p_any else rng.choice(legal)
        obs, reward, terminated, truncated, info = env.step(int(act))
        rewards.append(reward)
        assert not truncated
    return first, rewards, obs, info


@pytest.mark.parametrize("kwargs", KWARGS, ids=str)
def test_check_env_passes_without_warnings(kwargs: dict) -> None:
    env = gymnasium.make(ENV_ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("kwargs", [k for k in KWARGS if "process_reward" not in k], ids=str)
def test_rewards_and_answers_match_the_reference_machine(kwargs: dict) -> None:
    """Random programs: the env's rewards, answer, target and the observation's task and digits
    agree with ``execute`` on the episode read back from the last observation."""
    env, rng = ToolMachineEnv(**kwargs), np.random.default_rng(0)
    seen_tasks = Counter()
    for _ in range(150):
        first, rewards, last, info = random_episode(env, rng, p_any=0.2)
        seen = read(env.settings, last)
        start = read(env.settings, first)
        assert (start.task, start.digits, start.actions) == (seen.task, seen.digits, [])
        assert seen.task == info["task"]
        task = env.task_set.tasks[seen.task]
        outcome = verdict(env.settings, seen)
        assert rewards == [0.0] * (len(rewards) - 1) + [outcome.reward]
        assert info["answer"] == outcome.answer and info["correct"] == outcome.correct
        assert info["target"] == task.target(seen.digits)
        if env.settings.show_expression:
            assert [t if t >= 10 else None for t in seen.prompt] == template(task)
        seen_tasks[seen.task] += 1
    stage = env.settings.stage
    stages = range(env.task_set.n_stages) if stage is None else [stage]
    wanted = {i for s in stages for i in env.task_set.stage_tasks(s)}
    assert set(seen_tasks) == wanted  # every task of the stage(s) is drawn


def test_task_mode_shows_the_expression_in_postfix_order() -> None:
    env = ToolMachineEnv(tasks=["a*b+c", "(a-b)*c"], show_expression=True)
    obs, info = env.reset(options={"context": [4, 2, 7], "task": 0})
    assert read(env.settings, obs).prompt == [4, 2, MUL, 7, ADD]  # 4 2 [MUL] 7 [ADD]
    assert obs.shape == (5 * 13 + 8 * 6,) and obs.sum() == 5  # no task one-hot in task mode
    obs, info = env.reset(options={"context": [9, 2, 3], "task": "(a-b)*c"})
    assert read(env.settings, obs).prompt == [9, 2, OP_TOKENS["-"], 3, MUL]
    assert info["target"] == 21 and info["task"] == 1


def test_id_mode_layout_is_the_builtin_one_for_the_builtin_stages() -> None:
    """Default: task id one-hot (the stage), 5 digit slots, 8 steps of 6 actions: 101 values."""
    env = ToolMachineEnv(tasks=["a*b+c", "(a-b)*c", "a*b-c*d"])
    assert env.observation_space.shape == (3 + 4 * 10 + 8 * 6,)
    obs, _ = env.reset(options={"task": 2, "context": [1, 2, 3, 4]})
    assert read(env.settings, obs).digits == [1, 2, 3, 4] and obs[2] == 1 and obs.sum() == 5
    assert ToolMachineEnv().observation_space.shape == (101,)
    assert ToolMachineEnv(tasks=BUILTIN).observation_space.shape == (101,)


@pytest.mark.parametrize("machine", ["canonical", "extended"])
def test_the_solvers_shortest_program_earns_one_for_every_task(machine: str) -> None:
    texts = ["a*b+c", "(a-b)*c", "a*b-c*d", "a-b"]
    if machine == "extended":
        texts += ["a*(b+c)", "a-(b*c-d)"]
    env = ToolMachineEnv(tasks=texts, machine=machine)
    for task in env.task_set.tasks:
        program = task.shortest_program(machine)
        assert program is not None
        _, info = env.reset(seed=0, options={"task": task.expression})
        for tok in program:
            assert info["action_mask"][list(env.action_tokens).index(tok)]
            _, reward, terminated, _, info = env.step(list(env.action_tokens).index(tok))
        assert (reward, terminated, info["correct"]) == (1.0, True, True)


def test_a_runs_task_set_with_stages_and_held_out_tasks() -> None:
    task_set = build_task_set(load_config(overrides=RUN_CONFIG))
    env = ToolMachineEnv(tasks=task_set, stage=None)
    assert env.settings.machine == "canonical" and env.settings.max_steps == 8
    assert env.settings.show_expression  # from the task set
    stages, tasks = Counter(), Counter()
    env.reset(seed=0)
    for _ in range(300):
        _, info = env.reset()
        stages[info["stage"]] += 1
        tasks[env.task_set.tasks[info["task"]].expression] += 1
    assert set(stages) == {0, 1} and min(stages.values()) > 100  # a stage each, uniformly
    assert set(tasks) == {"a*b", "a+b", "a*b+c"} and tasks["a*b"] > 50 and tasks["a+b"] > 50
    held = gymnasium.make(ENV_ID, tasks=task_set, stage=-1)  # its held-out task, a-b
    assert held.reset(seed=0)[1]["task"] == 3 and held.reset()[1]["stage"] == -1
    vec = gymnasium.make_vec(ENV_ID, num_envs=4, tasks=task_set, stage=-1)
    assert isinstance(vec, ToolMachineVectorEnv) and (vec.reset(seed=0)[1]["task"] == 3).all()
    plain = ToolMachineEnv(tasks=task_set, show_expression=False)
    assert plain.observation_space.shape == (4 + 3 * 10 + 8 * 6,)  # 4 tasks, 3 digits
    assert not plain.settings.show_expression and task_set.show_expression


def test_same_seed_same_episodes_in_a_stage_of_several_tasks() -> None:
    def episodes(seed: int) -> list[tuple[int, int]]:
        env = ToolMachineEnv(tasks=["a*b", "a+b", "a-b"])
        env.reset(seed=seed)
        return [(i["task"], i["target"]) for i in (env.reset()[1] for _ in range(40))]

    assert episodes(1) == episodes(1) and episodes(1) != episodes(2)
    assert {t for t, _ in episodes(1)} == {0, 1, 2}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tasks": ["a*b+c", "(a-b)*c", "a*b-c*d"], "stage": None},
        {"tasks": ["a*(b+c)", "a*b"], "machine": "extended", "show_expression": True},
        {"stage": None, "show_expression": True, "partial_reward": 0.3},
    ],
    ids=str,
)
def test_vector_env_agrees_with_single_envs(kwargs: dict) -> None:
    """Same episodes, same actions: identical observations, rewards, ends and infos."""
    n, rng = 5, np.random.default_rng(0)
    vec = gymnasium.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    singles = [ToolMachineEnv(**kwargs) for _ in range(n)]
    obs, info = vec.reset(seed=1)

    def start(i: int) -> dict:
        seen = read(singles[i].settings, obs[i])
        options = {"task": seen.task, "context": seen.digits}
        single_obs, single_info = singles[i].reset(options=options)
        assert np.array_equal(single_obs, obs[i])
        return single_info

    infos, ends = [start(i) for i in range(n)], 0
    for _ in range(100):
        assert np.array_equal(info["action_mask"], np.stack([s["action_mask"] for s in infos]))
        legal = rng.random(info["action_mask"].shape) + info["action_mask"]
        actions = legal.argmax(1)
        obs, reward, terminated, _, info = vec.step(actions)
        for i, single in enumerate(singles):
            s_obs, s_reward, s_term, _, s_info = single.step(actions[i])
            assert reward[i] == s_reward and terminated[i] == s_term
            if s_term:
                assert np.array_equal(info["final_obs"][i], s_obs)
                assert info["final_info"]["correct"][i] == s_info["correct"]
                assert info["final_info"]["task"][i] == s_info["task"]
                infos[i], ends = start(i), ends + 1
            else:
                assert np.array_equal(obs[i], s_obs) and info["task"][i] == s_info["task"]
                infos[i] = s_info
    assert ends > 25


def test_policy_accuracy_over_expressions() -> None:
    tasks = ["a*b+c", "(a-b)*c", "a*b-c*d"]
    env = ToolMachineVectorEnv(1, tasks=tasks)
    programs = [
        [list(env.action_tokens).index(t) for t in task.shortest_program()]
        for task in env.task_set.tasks
    ]

    def shortest(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        seen = [read(env.settings, row) for row in obs]
        return np.array([programs[s.task][len(s.actions)] for s in seen])

    assert policy_accuracy(shortest, None, 200, seed=0, tasks=tasks) == 1.0
    assert policy_accuracy(lambda o, m: m.argmax(1), None, 200, seed=0, tasks=tasks) < 0.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tasks": ["a*(b+c)"]}, r"tasks: expression a\*\(b\+c\): no program of any length"),
        ({"tasks": ["(a*b+c)-(d*e)"], "max_steps": 5}, "no program of at most 5 tools"),
        ({"tasks": ["a*b"], "machine": "seed-legacy"}, "'seed-legacy' runs only the built-in"),
        ({"tasks": ["a*+b"]}, r"tasks: bad expression 'a\*\+b'"),
        ({"tasks": []}, "tasks: no expression given"),
        ({"tasks": 5}, "tasks must be None, an expression, a list of expressions or a TaskSet"),
        ({"tasks": [1, 2]}, "tasks must be None"),
        ({"show_expression": "yes"}, "show_expression must be True, False or None"),
        ({"tasks": ["a*b", "a+b"], "stage": 1}, "stage must be 0, got 1"),
        ({"tasks": ["a*b"], "stage": -1}, "holds no task out"),
        ({"tasks": ["a*b"], "machine": "abacus"}, "unknown machine 'abacus'"),
    ],
)
def test_bad_keywords_raise_one_line_errors_naming_the_key(kwargs: dict, message: str) -> None:
    for make in (ToolMachineEnv, lambda **k: ToolMachineVectorEnv(2, **k)):
        with pytest.raises(ValueError, match=message) as err:
            make(**kwargs)
        assert "\n" not in str(err.value)


def test_seed_legacy_takes_the_builtin_stages_in_any_form() -> None:
    env = ToolMachineEnv(stage=None, machine="seed-legacy", tasks=BUILTIN, show_expression=True)
    _, info = env.reset(seed=0, options={"stage": 1})
    assert info["stage"] == info["task"] == 1 and info["action_mask"].all()


def test_reset_options_for_task_sets() -> None:
    env = ToolMachineEnv(tasks=["a*b", "a+b", "a*b+c"], render_mode="ansi")
    assert env.reset(options={"context": [4, 2, 7]})[1]["task"] == 2  # the only 3-digit task
    assert env.reset(options={"task": "a + b", "context": [4, 2]})[1]["target"] == 6
    assert env.render() == "task=a+b ctx=[4 2] target=6 | (no steps yet)"
    with pytest.raises(ValueError, match="2 of the tasks take that many"):
        env.reset(options={"context": [4, 2]})
    with pytest.raises(ValueError, match="task a\\*b needs 2 digits"):
        env.reset(options={"task": 0, "context": [4, 2, 7]})
    with pytest.raises(ValueError, match="a-b is not one of this env's tasks"):
        env.reset(options={"task": "a-b"})
    with pytest.raises(ValueError, match=r"options\['task'\] must be a task id 0..2"):
        env.reset(options={"task": 3})
    with pytest.raises(ValueError, match=r"digits must be ints 0\.\.9"):
        env.reset(options={"task": 0, "context": [4, 12]})
    task_set = TaskSet([[Task.parse("a*b")], [Task.parse("a+b")]])
    env = ToolMachineEnv(tasks=task_set, stage=None)
    with pytest.raises(ValueError, match="is not a task of stage 0"):
        env.reset(options={"stage": 0, "task": 1})
