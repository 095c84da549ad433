"""Stable-Baselines3's ``check_env`` passes on the single env, over any tasks and machine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env

from nativeagent.build import build_task_set
from nativeagent.config import load_config
from nativeagent.envs import ToolMachineEnv


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stage": None},
        {"stage": 1, "machine": "seed-legacy"},
        {"stage": 2, "machine": "extended"},
        {"tasks": ["a*b+c", "(a-b)*c"]},
        {"tasks": ["a*b+c", "(a-b)*c"], "show_expression": True, "stage": None},
        {"tasks": ["a*(b+c)", "a-(b-c)+d"], "machine": "extended"},
        {"tasks": "a*(b+c), a*b", "machine": "extended", "show_expression": True},
        {"stage": None, "process_reward": 0.1, "partial_reward": 0.2},
    ],
    ids=str,
)
def test_sb3_check_env_passes_without_warnings(kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 reports what it dislikes as warnings
        check_env(ToolMachineEnv(**kwargs), warn=True)


def test_sb3_check_env_passes_on_a_runs_task_set() -> None:
    cfg = load_config(overrides=['task.curriculum=[["a*b", "a+b"], "a*b+c"]'])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(ToolMachineEnv(tasks=build_task_set(cfg), stage=None), warn=True)


def test_sb3_vec_env_steps_episodes_of_the_given_tasks() -> None:
    env = make_vec_env(
        ToolMachineEnv,
        n_envs=3,
        seed=0,
        env_kwargs={"tasks": ["a*b", "a-b"], "machine": "extended", "show_expression": True},
    )
    obs = env.reset()
    assert obs.shape == (3, 3 * 13 + 12 * 9)
    masks = np.stack(env.env_method("action_masks"))
    assert masks.shape == (3, 9) and masks.any(1).all()
    _, _, _, infos = env.step(masks.argmax(1))
    assert {info["task"] for info in infos} <= {0, 1}
