"""Time to solve, side by side: sb3-contrib's MaskablePPO on the Gymnasium env vs nativeagent.

    python benchmarks/vs_sb3.py                      # seeds 0..2, 240 s budget per PPO run
    python benchmarks/vs_sb3.py --seeds 1 --budget-s 60

nativeagent: ``training.train.train`` with the default config (mastery curriculum, stops when every
stage is solved). MaskablePPO (MlpPolicy, sb3 defaults unless set below) trains on one
``ToolMachineEnv(stage=None)`` per worker, so every episode draws its stage uniformly; a callback
measures greedy accuracy per stage every ``--eval-every`` steps and stops when all are >= 0.99
(confirmed on 1,000 fresh episodes each), or when the time or step budget runs out. Both
methods run on one torch thread; wall time includes periodic evaluation for both. The table's
accuracy is greedy, against the stated target, on 1,000 fresh episodes per stage.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from nativeagent.config import load_config
from nativeagent.envs import ACTION_NAMES, ToolMachineEnv, ToolMachineVectorEnv, policy_accuracy
from nativeagent.tasks import N_STAGES
from nativeagent.training.train import train

MASTERY = 0.99


@dataclass
class Row:
    """One line of the table."""

    method: str
    seed: int
    accuracy: list[float]
    episodes: int
    steps: int | None
    wall_s: float

    @property
    def solved(self) -> bool:
        return all(a >= MASTERY for a in self.accuracy)


def greedy_accuracy(model: MaskablePPO, episodes: int, seed: int) -> list[float]:
    """Greedy exact-match accuracy of ``model`` per stage on fresh episodes."""

    def predict(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True, action_masks=mask)[0]

    return [policy_accuracy(predict, s, episodes, seed=seed + s) for s in range(N_STAGES)]


def greedy_programs(model: MaskablePPO, stage: int, episodes: int, seed: int) -> Counter[str]:
    """How often each greedy program occurs on fresh episodes of ``stage``."""
    env = ToolMachineVectorEnv(episodes, stage=stage)
    obs, info = env.reset(seed=seed)
    programs: dict[int, str] = {}
    while len(programs) < episodes:
        actions = model.predict(obs, deterministic=True, action_masks=info["action_mask"])[0]
        obs, _, ended, _, info = env.step(actions)
        for i in np.flatnonzero(ended):
            history = info["final_obs"][i, -env.settings.max_steps * 6 :].reshape(-1, 6)  # (T, 6)
            programs.setdefault(i, " ".join(ACTION_NAMES[h.argmax()] for h in history if h.any()))
    return Counter(programs.values())


class StopWhenSolved(BaseCallback):
    """Every ``every`` steps check greedy accuracy; stop at mastery or when the budget is spent."""

    def __init__(self, every: int, episodes: int, budget_s: float, seed: int) -> None:
        super().__init__()
        self.every, self.episodes, self.budget_s = every, episodes, budget_s
        self.eval_seed = seed * 1_000_003  # evaluation seeds apart from the training envs' seeds
        self.start = time.perf_counter()
        self.n_episodes = 0

    def _on_step(self) -> bool:
        self.n_episodes += int(np.sum(self.locals["dones"]))
        if time.perf_counter() - self.start > self.budget_s:
            return False
        if self.num_timesteps % self.every >= self.training_env.num_envs:
            return True
        self.eval_seed += 10
        acc = greedy_accuracy(self.model, self.episodes, self.eval_seed)
        if min(acc) < MASTERY:
            return True
        return min(greedy_accuracy(self.model, 1000, self.eval_seed + 5)) < MASTERY


def run_ppo(seed: int, args: argparse.Namespace) -> tuple[Row, MaskablePPO]:
    """Train MaskablePPO on all stages until solved or out of budget."""
    start = time.perf_counter()
    env = make_vec_env(ToolMachineEnv, n_envs=args.n_envs, seed=seed, env_kwargs={"stage": None})
    model = MaskablePPO(
        "MlpPolicy",
        env,
        learning_rate=args.lr,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        ent_coef=args.ent_coef,
        seed=seed,
        device="cpu",
    )
    callback = StopWhenSolved(args.eval_every, args.eval_episodes, args.budget_s, seed)
    model.learn(args.max_timesteps, callback=callback)
    wall = time.perf_counter() - start
    accuracy = greedy_accuracy(model, 1000, 7_000_000 + seed)
    return Row("MaskablePPO", seed, accuracy, callback.n_episodes, model.num_timesteps, wall), model


def run_nativeagent(seed: int, out_dir: Path) -> Row:
    """nativeagent's default trainer; its result already holds 1,000-episode accuracies."""
    r = train(load_config(overrides=[f"train.seed={seed}", "train.threads=1"]), out_dir)
    accuracy = [r["accuracy"][str(s)] for s in range(N_STAGES)]
    return Row("nativeagent", seed, accuracy, r["episodes"], None, r["wall_s"])


def print_row(row: Row) -> None:
    """One aligned table line."""
    acc = " ".join(f"{a:>6.3f}" for a in row.accuracy)
    steps = f"{row.steps:>9}" if row.steps is not None else f"{'-':>9}"
    print(
        f"{row.method:<12} {row.seed:>4} {row.solved!s:>6} {acc} {row.episodes:>9} {steps} "
        f"{row.wall_s:>7.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="run seeds 0..N-1")
    parser.add_argument("--budget-s", type=float, default=240.0, help="wall budget per PPO run")
    parser.add_argument("--max-timesteps", type=int, default=3_000_000, help="PPO step budget")
    parser.add_argument("--eval-every", type=int, default=16_384, help="PPO steps between checks")
    parser.add_argument("--eval-episodes", type=int, default=256, help="per stage, per check")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ent-coef", type=float, default=0.01)
    args = parser.parse_args()

    torch.set_num_threads(1)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} ppo={vars(args)}")
    print(
        f"{'method':<12} {'seed':>4} {'solved':>6} {'T0':>6} {'T1':>6} {'T2':>6} "
        f"{'episodes':>9} {'env_steps':>9} {'wall_s':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            print_row(run_nativeagent(seed, Path(tmp) / f"seed{seed}"))
            row, model = run_ppo(seed, args)
            print_row(row)
            top = greedy_programs(model, 2, 1000, 9_000_000 + seed).most_common(2)
            print(f"{'':<12} stage-2 greedy programs: {top}", flush=True)


if __name__ == "__main__":
    main()
