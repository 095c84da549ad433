"""Curriculum: mastery promotion with replay, and the tutorial's fixed blocks."""

import torch

from nativeagent.config import CurriculumConfig
from nativeagent.tasks.curriculum import Curriculum


def test_mastery_promotes_only_at_threshold_and_replays_earlier_stages() -> None:
    cur = Curriculum(CurriculumConfig(kind="mastery", mastery=0.99, replay=0.25), 100)
    gen = torch.Generator().manual_seed(0)
    assert set(cur.stages(0, 64, gen).tolist()) == {0}
    assert not cur.observe({0: 0.98, 1: 0.0, 2: 0.0})
    assert cur.stage == 0
    assert cur.observe({0: 0.99, 1: 0.0, 2: 0.0})
    assert cur.stage == 1
    assert cur.observe({0: 1.0, 1: 1.0, 2: 0.0})
    stages = cur.stages(5, 400, gen)
    assert (stages == 2).sum() == 300
    assert set(stages[stages != 2].tolist()) == {0, 1}
    assert not cur.observe({0: 1.0, 1: 1.0, 2: 1.0})  # nothing after the last stage
    assert cur.solved({0: 1.0, 1: 0.995, 2: 0.99})
    assert not cur.solved({0: 1.0, 1: 0.98, 2: 1.0})


def test_blocks_follow_the_tutorial_schedule() -> None:
    cur = Curriculum(CurriculumConfig(kind="blocks", blocks=[0, 0, 0, 1, 1, 2]), 60)
    gen = torch.Generator().manual_seed(0)
    seen = [int(cur.stages(u, 4, gen)[0]) for u in range(60)]
    assert seen == [0] * 30 + [1] * 20 + [2] * 10
    assert not cur.observe({0: 1.0, 1: 1.0, 2: 1.0})


def test_state_round_trip() -> None:
    cfg = CurriculumConfig()
    cur = Curriculum(cfg, 10)
    cur.observe({0: 1.0, 1: 0.0, 2: 0.0})
    other = Curriculum(cfg, 10)
    other.load_state_dict(cur.state_dict())
    assert other.stage == 1


def test_failure_rates_follow_training_outcomes_by_hand() -> None:
    cur = Curriculum(CurriculumConfig(focus=0.5), 10, n_stages=2, n_tasks=3)
    assert cur.failure.tolist() == [1.0, 1.0, 1.0]  # unseen tasks count as failing
    task = torch.tensor([0, 0, 0, 0, 2])
    correct = torch.tensor([True, True, True, False, True])
    cur.record(task, correct, rate=0.5)
    # task 0: 1/4 failed -> 0.5 * 1 + 0.5 * 0.25; task 1 unseen; task 2: 0 failed -> 0.5
    assert torch.allclose(cur.failure, torch.tensor([0.625, 1.0, 0.5]))
    other = Curriculum(CurriculumConfig(focus=0.5), 10, n_stages=2, n_tasks=3)
    other.load_state_dict(cur.state_dict())
    assert torch.equal(other.failure, cur.failure)
    other.load_state_dict({"stage": 1})  # a checkpoint from before focus existed
    assert other.stage == 1 and torch.equal(other.failure, cur.failure)
