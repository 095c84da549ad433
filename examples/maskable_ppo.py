"""Train sb3-contrib's MaskablePPO on nativeagent's tool machine and print greedy accuracy.

    pip install 'nativeagent[sb3]'
    python examples/maskable_ppo.py --timesteps 100000

One policy learns all three stages: ``stage=None`` draws a stage per episode, and the stage is
part of the observation. Action masks come from the env's ``action_masks()`` method.

Expect about 1.000 / 1.000 / 0.28 (35 s on one core): without a curriculum PPO settles on stage 2
for shortcuts that read the digits (e.g. ``MUL ADD ANS``, right whenever ``d*e`` is 0), and a
longer run does not escape them (``benchmarks/vs_sb3.py``). ``nativeagent train`` solves all
three stages in a few seconds.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.env_util import make_vec_env

from nativeagent.envs import ToolMachineEnv, policy_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny networks: more threads only add overhead

    env = make_vec_env(ToolMachineEnv, n_envs=8, seed=args.seed, env_kwargs={"stage": None})
    model = MaskablePPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=4,
        learning_rate=1e-3,
        ent_coef=0.01,
        seed=args.seed,
        verbose=0,
    )
    model.learn(total_timesteps=args.timesteps)

    def greedy(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True, action_masks=mask)[0]

    for stage in range(3):
        accuracy = policy_accuracy(greedy, stage, episodes=1000, seed=10_000 + stage)
        print(f"stage {stage}: greedy accuracy {accuracy:.3f} on 1,000 fresh episodes")


if __name__ == "__main__":
    main()
