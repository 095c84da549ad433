"""ToolMachineVectorEnv: make_vec, same-step autoreset, agreement with N single envs, seeding."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from nativeagent.envs import ENV_ID, ToolMachineEnv, ToolMachineVectorEnv, policy_accuracy
from nativeagent.tasks import STAGES
from nativeagent.tokens import TOOLS

N = 6


def decode(obs: np.ndarray) -> tuple[int, list[int]]:
    """Stage and context digits of one observation row."""
    stage = int(np.argmax(obs[:3]))
    digits = obs[3:53].reshape(5, 10)[: STAGES[stage].n_operands]
    return stage, [int(np.argmax(d)) for d in digits]


def random_actions(mask: np.ndarray, rng: np.random.Generator, p_any: float) -> np.ndarray:
    """One action per row: a random legal one, or with probability ``p_any`` any action."""
    scores = rng.random(mask.shape) + np.where(mask, 1.0, 0.0)
    anything = rng.random(mask.shape[0]) < p_any
    return np.where(anything, rng.integers(0, 6, mask.shape[0]), scores.argmax(1))


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_make_vec_gives_the_vector_env(stage: int) -> None:
    env = gymnasium.make_vec(
        ENV_ID, num_envs=N, vectorization_mode="vector_entry_point", stage=stage
    )
    assert isinstance(env.unwrapped, ToolMachineVectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.single_observation_space == ToolMachineEnv(stage=stage).observation_space
    assert env.observation_space.shape == (N, 101)
    assert env.single_action_space == gymnasium.spaces.Discrete(6)
    obs, info = env.reset(seed=0)
    assert obs.shape == (N, 101) and obs.dtype == np.float32
    assert (info["stage"] == stage).all() and info["action_mask"].shape == (N, 6)
    legacy = gymnasium.make_vec(ENV_ID, num_envs=2, machine="seed-legacy", stage=stage)
    assert isinstance(legacy.unwrapped, ToolMachineVectorEnv)  # the default mode uses it too
    assert legacy.unwrapped.settings.machine == "seed-legacy"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stage": None},
        {"stage": 2},
        {"stage": None, "machine": "seed-legacy"},
        {"stage": None, "partial_reward": 0.3, "process_reward": 0.1},
        {"stage": 2, "max_steps": 5},
    ],
    ids=str,
)
def test_vector_env_agrees_with_single_envs(kwargs: dict) -> None:
    """Same episodes, same actions: identical observations, rewards, ends, masks and infos."""
    vec, rng = ToolMachineVectorEnv(N, **kwargs), np.random.default_rng(0)
    singles = [ToolMachineEnv(**kwargs) for _ in range(N)]
    obs, info = vec.reset(seed=1)

    def start(i: int, row: np.ndarray) -> dict:
        stage, context = decode(row)
        single_obs, single_info = singles[i].reset(options={"stage": stage, "context": context})
        assert np.array_equal(single_obs, row)
        return single_info

    infos = [start(i, obs[i]) for i in range(N)]
    ends = 0
    for _ in range(200):
        assert np.array_equal(info["action_mask"], np.stack([s["action_mask"] for s in infos]))
        actions = random_actions(info["action_mask"], rng, p_any=0.2)
        obs, reward, terminated, truncated, info = vec.step(actions)
        assert not truncated.any()
        for i, single in enumerate(singles):
            s_obs, s_reward, s_term, s_trunc, s_info = single.step(actions[i])
            assert reward[i] == s_reward and terminated[i] == s_term and not s_trunc
            if s_term:
                assert info["_final_obs"][i] and info["_final_info"][i]
                assert np.array_equal(info["final_obs"][i], s_obs)
                final = {k: v[i] for k, v in info["final_info"].items()}
                answer = int(final["answer"]) if final["answered"] else None
                assert answer == s_info["answer"] and final["correct"] == s_info["correct"]
                assert final["target"] == s_info["target"]
                assert not info["answered"][i] and not info["correct"][i]
                infos[i] = start(i, obs[i])
                ends += 1
            else:
                assert np.array_equal(obs[i], s_obs)
                assert info["target"][i] == s_info["target"]
                infos[i] = s_info
    assert ends > 50


def test_same_step_autoreset_returns_the_next_episode() -> None:
    vec = ToolMachineVectorEnv(2, stage=0)
    obs, _ = vec.reset(seed=0)
    first = [decode(row) for row in obs]
    vec.step(np.array([0, 0]))  # MUL in both
    obs, reward, terminated, _, info = vec.step(np.array([1, 4]))  # ADD; STO gets stuck
    assert terminated.tolist() == [False, True] and reward.tolist() == [0.0, 0.0]
    assert info["_final_obs"].tolist() == [False, True]
    assert info["final_obs"][1][53:65].sum() == 2  # the ended episode's two tools
    assert obs[1][53:].sum() == 0  # the new episode has no history
    assert decode(obs[0]) == first[0] and obs[0][53:].sum() == 2
    assert info["action_mask"][1].tolist() == [True, True, True, False, False, False]
    obs, reward, terminated, _, info = vec.step(np.array([3, 0]))  # ANS; MUL
    assert terminated.tolist() == [True, False]
    assert info["final_info"]["correct"][0] == (reward[0] == 1.0)


def test_every_row_always_has_a_legal_action() -> None:
    vec, rng = ToolMachineVectorEnv(64, stage=None), np.random.default_rng(0)
    _, info = vec.reset(seed=0)
    for _ in range(50):
        assert info["action_mask"].any(1).all()
        assert np.array_equal(vec.action_masks(), info["action_mask"])
        _, _, _, _, info = vec.step(random_actions(info["action_mask"], rng, p_any=0.3))


def test_same_seed_same_run() -> None:
    def play(seed: int) -> list[np.ndarray]:
        vec = ToolMachineVectorEnv(N, stage=None)
        obs, info = vec.reset(seed=seed)
        out = [obs]
        for _ in range(30):
            obs, reward, terminated, _, info = vec.step(info["action_mask"].argmax(1))
            out += [obs, reward, terminated]
        return out

    a, b, c = play(5), play(5), play(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_policy_accuracy(stage: int) -> None:
    program = [TOOLS.index(t) for t in STAGES[stage].shortest_program()]

    def shortest(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        steps = obs[:, 53:].reshape(len(obs), -1, 6).any(2).sum(1)
        return np.array([program[t] for t in steps])

    def first_legal(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return mask.argmax(1)

    assert policy_accuracy(shortest, stage, 300, seed=0) == 1.0
    assert policy_accuracy(first_legal, stage, 300, seed=0) < 0.2


def test_render_and_errors() -> None:
    vec = ToolMachineVectorEnv(2, stage=0, render_mode="ansi")
    with pytest.raises(gymnasium.error.ResetNeeded):
        vec.step(np.array([0, 0]))
    vec.reset(seed=0)
    vec.step(np.array([0, 0]))
    lines = vec.render()
    assert len(lines) == 2
    assert all(line.startswith("stage=0 ctx=[") and " | MUL acc=" in line for line in lines)
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        vec.step(np.array([0, 6]))
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        vec.step(np.array([0]))
    with pytest.raises(ValueError, match="num_envs must be a positive int"):
        ToolMachineVectorEnv(0)
    with pytest.raises(ValueError, match=r"stage must be 0\.\.2, got 7"):
        gymnasium.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", stage=7)
    with pytest.raises(ValueError, match="unknown machine 'abacus'"):
        gymnasium.make_vec(ENV_ID, num_envs=2, machine="abacus")
