"""TorchRL takes both envs: ``GymWrapper`` and ``check_env_specs``, and rollouts (random, or
masked with TorchRL's ``ActionMask`` transform) whose rewards are the reference machine's."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from env_obs import read, verdict
from gymnasium.vector import AutoresetMode
from tensordict import TensorDictBase
from torchrl.data import Binary
from torchrl.envs import ActionMask, EnvBase, GymWrapper, TransformedEnv, default_info_dict_reader
from torchrl.envs.utils import check_env_specs

from nativeagent.build import build_task_set
from nativeagent.config import load_config
from nativeagent.envs import ENV_ID, ToolMachineEnv, ToolMachineVectorEnv
from nativeagent.envs.tool_machine import EnvSettings

RUN_CONFIG = [
    'task.curriculum=[["a*b", "a+b"], "a*b+c"]',
    'task.held_out_expressions=["a-b"]',
    "task.show_expression=true",
]

KWARGS = [
    {},
    {"stage": None},
    {"stage": 2, "machine": "extended"},
    {"stage": None, "machine": "seed-legacy"},
    {"tasks": ["a*b+c", "(a-b)*c"], "stage": None},
    {"tasks": ["a*(b+c)", "a*b-c*d"], "machine": "extended", "show_expression": True},
    {"tasks": "run config", "stage": None},
]


def make_kwargs(kwargs: dict) -> dict:
    """``kwargs`` with ``tasks="run config"`` replaced by a run's task set (built here)."""
    if kwargs.get("tasks") == "run config":
        return {**kwargs, "tasks": build_task_set(load_config(overrides=RUN_CONFIG))}
    return kwargs


def with_mask(env: ToolMachineEnv, categorical: bool = False) -> GymWrapper:
    """The single env in TorchRL with ``info["action_mask"]`` read into the tensordict."""
    wrapped = GymWrapper(env, categorical_action_encoding=categorical)
    spec = {"action_mask": Binary(env.action_space.n, dtype=torch.bool)}
    wrapped.set_info_dict_reader(default_info_dict_reader(["action_mask"], spec=spec))
    return wrapped


@pytest.mark.parametrize("kwargs", KWARGS, ids=str)
def test_gym_wrapper_takes_the_single_env(kwargs: dict) -> None:
    env = ToolMachineEnv(**make_kwargs(kwargs))
    torch.manual_seed(0)
    check_env_specs(GymWrapper(env))
    wrapped = with_mask(env)
    check_env_specs(wrapped)
    assert wrapped.observation_spec["action_mask"].shape == (env.action_space.n,)


@pytest.mark.parametrize("kwargs", KWARGS, ids=str)
def test_gym_wrapper_takes_the_vector_env(kwargs: dict) -> None:
    env = ToolMachineVectorEnv(4, **make_kwargs(kwargs))
    assert env.autoreset_mode == AutoresetMode.SAME_STEP == env.metadata["autoreset_mode"]
    torch.manual_seed(0)
    wrapped = GymWrapper(env)
    assert wrapped.batch_size == (4,)
    check_env_specs(wrapped)


def test_gym_wrapper_takes_make_vec() -> None:
    env = gymnasium.make_vec(ENV_ID, num_envs=3, tasks=["a*b", "a-b"], show_expression=True)
    assert env.autoreset_mode == AutoresetMode.SAME_STEP
    check_env_specs(GymWrapper(env))


def episodes_agree_with_the_machine(
    rollout: TensorDictBase, settings: EnvSettings, masked: bool, categorical: bool
) -> int:
    """Check every ended episode of a rollout ``(T,)`` against the reference machine (read back
    from its final observation); return how many ended."""
    action = rollout["action"]
    index = action if categorical else action.argmax(-1)
    legal = rollout["action_mask"].gather(-1, index.unsqueeze(-1)).squeeze(-1)
    if masked:
        assert legal.all(), "the ActionMask transform only draws legal actions"
    elif settings.machine != "seed-legacy":  # where every tool is legal
        assert not legal.all(), "a random policy tries illegal actions too"
    done = rollout["next", "done"].squeeze(-1)
    reward = rollout["next", "reward"].squeeze(-1)
    assert (reward[~done] == 0).all()  # no shaping: rewards come at the end only
    final = rollout["next", "observation"][done].numpy()
    for obs, got in zip(final, reward[done].tolist(), strict=True):
        outcome = verdict(settings, read(settings, obs))
        assert got == pytest.approx(outcome.reward)
    correct = rollout.get(("next", "correct"), None)  # read from the vector env's info
    if correct is not None:
        want = [verdict(settings, read(settings, o)).correct for o in final]
        assert correct[done].tolist() == want
    return int(done.sum())


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "random"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"stage": None},
        {"stage": 2, "machine": "seed-legacy"},
        {"tasks": ["a*(b+c)", "a-(b-c)+d", "a*b"], "machine": "extended", "stage": None},
        {"tasks": ["a*b+c", "(a-b)*c"], "show_expression": True},
    ],
    ids=str,
)
def test_single_env_rollout_rewards_are_the_machines_verdict(kwargs: dict, masked: bool) -> None:
    env = ToolMachineEnv(**kwargs)
    categorical = masked  # both action encodings
    wrapped: EnvBase = with_mask(env, categorical)
    if masked:
        wrapped = TransformedEnv(wrapped, ActionMask())
    wrapped.set_seed(0)
    torch.manual_seed(0)
    rollout = wrapped.rollout(300, break_when_any_done=False)
    assert rollout.batch_size == (300,)
    ended = episodes_agree_with_the_machine(rollout, env.settings, masked, categorical)
    assert ended > 40


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "random"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"stage": None},
        {"tasks": ["a*(b+c)", "a*b-c*d"], "machine": "extended", "show_expression": True},
    ],
    ids=str,
)
def test_vector_env_rollout_rewards_are_the_machines_verdict(kwargs: dict, masked: bool) -> None:
    env = ToolMachineVectorEnv(8, **kwargs)
    wrapped = GymWrapper(env)  # a TransformedEnv that handles SAME_STEP autoreset
    if masked:
        wrapped = wrapped.append_transform(ActionMask())
    wrapped.set_seed(0)
    torch.manual_seed(0)
    rollout = wrapped.rollout(60, break_when_any_done=False)
    assert rollout.batch_size == (8, 60)
    ended = sum(
        episodes_agree_with_the_machine(row, env.settings, masked, categorical=False)
        for row in rollout.unbind(0)
    )
    assert ended > 60
    # TorchRL shows each ended episode's final step, then restarts it: steps count up from 0
    steps = rollout["observation"][..., -env.settings.max_steps * env.settings.n_actions :]
    first = steps.sum(-1)[:, 1:] == 0
    assert torch.equal(first, rollout["next", "done"].squeeze(-1)[:, :-1])
    assert np.isfinite(rollout["next", "reward"].numpy()).all()
