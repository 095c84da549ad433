"""Held-out splits by shape, drawn with a seeded torch generator (shared by all training seeds)."""

from __future__ import annotations

import torch

from nativeagent.tasks.task import Task


def split_held_out(
    stages: list[list[Task]], fraction: float, seed: int
) -> tuple[list[list[Task]], list[Task]]:
    """Hold out ``round(fraction * shapes)`` shapes drawn uniformly from every stage's tasks.

    A draw that would empty a stage is skipped, so every stage keeps a task to train on.
    """
    pool = [(s, t) for s, tasks in enumerate(stages) for t in tasks]
    want = round(fraction * len(pool))
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed)).tolist()
    left = [len(tasks) for tasks in stages]
    held: set[int] = set()
    for i in order:
        if len(held) == want:
            break
        s = pool[i][0]
        if left[s] > 1:
            held.add(i)
            left[s] -= 1
    kept = [
        [t for j, (s, t) in enumerate(pool) if s == k and j not in held] for k in range(len(stages))
    ]
    return kept, [pool[i][1] for i in sorted(held)]


__all__ = ["split_held_out"]
