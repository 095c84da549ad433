"""sb3-contrib's MaskablePPO learns stage 0 on the Gymnasium env (a short, seeded run)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nativeagent.envs import ENV_ID, policy_accuracy

sb3_contrib = pytest.importorskip("sb3_contrib")
env_util = pytest.importorskip("stable_baselines3.common.env_util")


def greedy(model: sb3_contrib.MaskablePPO):
    """A ``policy_accuracy`` predictor: argmax over the legal actions."""

    def predict(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True, action_masks=mask)[0]

    return predict


# SB3's make_vec_env asks for render_mode="rgb_array" first; gymnasium warns, the env refuses
# with a TypeError and SB3 retries without a render mode.
@pytest.mark.filterwarnings("ignore:.*render_mode='rgb_array'")
def test_maskable_ppo_solves_stage_0() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env = env_util.make_vec_env(ENV_ID, n_envs=4, seed=0, env_kwargs={"stage": 0})
        model = sb3_contrib.MaskablePPO(
            "MlpPolicy",
            env,
            n_steps=128,
            batch_size=128,
            n_epochs=4,
            learning_rate=1e-3,
            seed=0,
            device="cpu",
        )
        before = policy_accuracy(greedy(model), 0, 500, seed=123)
        model.learn(8192)
        after = policy_accuracy(greedy(model), 0, 500, seed=456)
    finally:
        torch.set_num_threads(threads)
    assert before < 0.5, f"an untrained policy should not solve stage 0 (got {before})"
    assert after >= 0.9, f"greedy accuracy on 500 fresh stage-0 episodes: {after}"
