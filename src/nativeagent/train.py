"""The training loop: sample a curriculum batch, decode, A2C update, evaluate, log, checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nativeagent.algos.a2c import A2CLossWeights, a2c_loss
from nativeagent.checkpoint import CHECKPOINT, RESULT, save_checkpoint
from nativeagent.config import Config, save_config
from nativeagent.curriculum import Curriculum
from nativeagent.evaluate import StageAccuracy, decode_tokens, evaluate
from nativeagent.fileio import atomic_write_json
from nativeagent.machine import Shaping, make_machine
from nativeagent.metrics_log import MetricsLog
from nativeagent.models import make_model
from nativeagent.rollout import rollout
from nativeagent.tasks import N_STAGES, sample_batch


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available here")
    return torch.device(name)


@dataclass
class Generators:
    """One explicit generator per source of randomness, all derived from the run's seed."""

    init: int  # seed for weight initialisation
    data: torch.Generator  # contexts and curriculum replay
    policy: torch.Generator  # action sampling
    eval: torch.Generator  # periodic evaluation contexts
    final: torch.Generator  # the final table's contexts

    @classmethod
    def from_seed(cls, seed: int, device: torch.device) -> Generators:
        seeds = np.random.SeedSequence(seed).generate_state(5, dtype=np.uint64)
        gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds[1:]]
        return cls(int(seeds[0]), *gens)


def build_model(cfg: Config, init_seed: int, device: torch.device) -> torch.nn.Module:
    """Build the policy with weights drawn from ``init_seed`` (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = make_model(cfg.model.kind, cfg.model.d_model)
    return model.to(device)


def accuracy_dict(acc: dict[int, StageAccuracy]) -> dict[str, float]:
    """``{"0": 0.99, ...}``, the form ``result.json`` and metrics use."""
    return {str(s): a.accuracy for s, a in acc.items()}


def _rates(acc: dict[int, StageAccuracy]) -> dict[int, float]:
    return {s: a.accuracy for s, a in acc.items()}


Reporter = Callable[[dict[str, Any]], None]


def train(cfg: Config, out_dir: Path, report: Reporter | None = None) -> dict[str, Any]:
    """Train one run into ``out_dir`` and return its ``result.json`` contents.

    ``report`` is called with every metrics record (for progress displays).
    """
    start = time.perf_counter()
    t = cfg.train
    if t.threads:
        torch.set_num_threads(t.threads)
    device = resolve_device(t.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir)

    gens = Generators.from_seed(t.seed, device)
    model = build_model(cfg, gens.init, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.algo.lr)
    shaping = Shaping(cfg.machine.partial_reward, cfg.machine.process_reward)
    machine = make_machine(cfg.machine.name, cfg.machine.max_steps, shaping)
    curriculum = Curriculum(cfg.curriculum, t.max_updates)
    weights = A2CLossWeights(
        cfg.algo.value_coef,
        cfg.algo.entropy_coef,
        cfg.algo.gamma,
        cfg.algo.gae_lambda,
        cfg.algo.normalize_advantages,
    )
    n_tokens, masked = decode_tokens(cfg), cfg.decode.mode == "closed"

    episodes, update, solved_early = 0, 0, False
    with MetricsLog(out_dir, t.tensorboard) as metrics_log:
        for update in range(1, t.max_updates + 1):
            model.train()
            stages = curriculum.stages(update - 1, t.batch_size, gens.data)
            batch = sample_batch(stages, gens.data)
            ro = rollout(model, machine, batch, n_tokens, gens.policy, masked=masked)
            loss, parts = a2c_loss(ro, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.algo.max_grad_norm)
            optimizer.step()
            episodes += t.batch_size

            record: dict[str, Any] = {}
            last = update == t.max_updates
            if update % t.eval_every == 0 or last:
                model.eval()
                acc = evaluate(model, cfg, t.eval_episodes, gens.eval)
                record["eval"] = accuracy_dict(acc)
                record["promoted"] = curriculum.observe(_rates(acc))
                if t.stop_when_solved and curriculum.solved(_rates(acc)):
                    # A passing 256-episode check is noisy: confirm on a larger fresh sample.
                    confirm = evaluate(model, cfg, t.final_eval_episodes, gens.eval)
                    record["confirm"] = accuracy_dict(confirm)
                    solved_early = curriculum.solved(_rates(confirm))
            if record or update % t.log_every == 0:
                current = stages == stages[-1]  # the stage being learned (replay comes first)
                record = {
                    "update": update,
                    "episodes": episodes,
                    "wall_s": round(time.perf_counter() - start, 4),
                    "stage": int(stages[-1]),
                    "train_acc": round(float(ro.correct[current].float().mean()), 6),
                    "train_reward": round(float(ro.reward.sum(1).mean()), 6),
                    **{k: round(v, 6) for k, v in parts.items()},
                    "grad_norm": round(float(grad_norm), 6),
                    **record,
                }
                metrics_log.log(record)
                if report:
                    report(record)
            if solved_early:
                break

    model.eval()
    final = evaluate(model, cfg, t.final_eval_episodes, gens.final)
    save_checkpoint(
        out_dir / CHECKPOINT,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": cfg.to_dict(),
            "update": update,
            "episodes": episodes,
            "curriculum": curriculum.state_dict(),
        },
    )
    result = {
        "accuracy": accuracy_dict(final),
        "interval": {str(s): [a.low, a.high] for s, a in final.items()},
        "eval_episodes": t.final_eval_episodes,
        "solved": all(final[s].accuracy >= cfg.curriculum.mastery for s in range(N_STAGES)),
        "updates": update,
        "episodes": episodes,
        "wall_s": round(time.perf_counter() - start, 3),
        "seed": t.seed,
        "machine": cfg.machine.name,
        "device": str(device),
    }
    atomic_write_json(out_dir / RESULT, result)
    return result
