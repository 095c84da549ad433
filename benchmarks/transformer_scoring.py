"""Where the Transformer's update time goes, and what one-pass scoring saves (CPU, 1 thread).

    python benchmarks/transformer_scoring.py [--batch 512] [--repeats 20] [--threads 1]

On the previous generalization preset's Transformer (the preset with ``model.kind =
"transformer"`` and no read head) and a batch of its longest stage, times (median of
``--repeats``):
- ``decode+grad``: decoding step by step while keeping each step's graph, then backward (what
  an A2C update does);
- ``decode, no gradients``: the same decoding without a graph (evaluation; or the first half
  of decoding without gradients and scoring afterwards);
- ``replay-steps`` / ``replay-pass``: re-scoring the stored actions step by step, or in one
  causal pass (``model.score``), forward and backward (what PPO and GRPO do per minibatch and
  epoch, and the second half of scoring afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from nativeagent.build import build_machine, build_task_set
from nativeagent.config import load_config
from nativeagent.rollout import policy_step, replay, rollout
from nativeagent.training.train import init_model


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    previous = ['model.kind="transformer"', "decode.window=0", "decode.operator_window=0"]
    cfg = load_config(preset="generalization", overrides=[*previous, "decode.observe_unused=false"])
    model = init_model(cfg, 0, torch.device("cpu"))
    tasks, machine = build_task_set(cfg), build_machine(cfg)
    gen = torch.Generator().manual_seed(0)
    batch = tasks.sample(torch.full((args.batch,), tasks.n_stages - 1), gen)
    ro = rollout(model, machine, batch, cfg.max_steps, gen)

    def decode_grad() -> None:
        rollout(model, machine, batch, cfg.max_steps, gen).log_prob.sum().backward()

    def decode() -> None:
        with torch.no_grad():
            rollout(model, machine, batch, cfg.max_steps, gen)

    def score() -> None:
        replay(model, batch, ro.actions, ro.legal, ro.observations)[0].sum().backward()

    def replay_steps() -> None:
        state, token = model.start(batch)
        total = torch.zeros(())
        for t in range(ro.actions.shape[1]):
            obs = None if ro.observations is None else ro.observations[:, t]
            legal = None if ro.legal is None else ro.legal[:, t]
            log_probs, _, state = policy_step(model, state, token, legal, obs)
            token = ro.actions[:, t]
            total = total + log_probs.gather(1, token[:, None]).sum()
        total.backward()

    print(
        f"previous generalization preset model, batch {args.batch}, {ro.actions.shape[1]} decoded "
        f"steps, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    for label, fn in (
        ("decode+grad (forward and backward)", decode_grad),
        ("decode, no gradients", decode),
        ("replay-steps (forward and backward)", replay_steps),
        ("replay-pass, one pass (forward and backward)", score),
    ):
        print(f"{label}: {_median_s(fn, args.repeats) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
