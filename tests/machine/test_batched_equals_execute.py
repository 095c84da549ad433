"""The batched torch machines equal the one-program ``execute``, and canonical reward shaping."""

from __future__ import annotations

import random

import pytest
import torch
from batch_runner import Episode, pad, run_batched
from hypothesis import given, settings
from hypothesis import strategies as st

from nativeagent import execute
from nativeagent.machine import (
    CANONICAL,
    MACHINES,
    BatchedMachine,
    LegacyMachine,
    Shaping,
    ToolMachine,
    make_machine,
    profile,
)
from nativeagent.tasks import STAGES, make_batch, sample_batch
from nativeagent.tokens import ADD, ANS, EOS, MUL, TOOLS, VOCAB_SIZE, parse_token

LENGTH = 10  # programs of 0..10 tokens, EOS-padded to 10 in the batch


def random_episodes(rng: random.Random, count: int) -> list[Episode]:
    """Programs of 0..10 tokens: half from the six tools, half from the whole vocabulary."""
    episodes: list[Episode] = []
    for _ in range(count):
        stage = rng.randrange(3)
        context = [rng.randrange(10) for _ in range(STAGES[stage].n_operands)]
        vocab = list(TOOLS) if rng.random() < 0.5 else list(range(VOCAB_SIZE))
        episodes.append((stage, context, [rng.choice(vocab) for _ in range(rng.randrange(11))]))
    return episodes


def assert_batched_equals_execute(
    machine_name: str, episodes: list[Episode], reward: torch.Tensor, machine: BatchedMachine
) -> None:
    """Compare every episode of a finished batched run with ``execute`` on its padded program."""
    answered, answer = machine.answered.tolist(), machine.answer.tolist()
    steps = machine.steps.tolist()
    length = reward.shape[0]
    total = reward.sum(0).tolist()
    for i, (stage, x, program) in enumerate(episodes):
        out = execute(pad(program, length), x, stage, machine=machine_name)
        plain = execute(program, x, stage, machine=machine_name)
        # EOS padding changes neither the answer nor the reward.
        assert (plain.answer, plain.correct, plain.reward) == (out.answer, out.correct, out.reward)
        where = (machine_name, stage, x, program)
        assert (answer[i] if answered[i] else None) == out.answer, where
        assert steps[i] == out.steps, where
        assert total[i] == pytest.approx(out.reward, abs=1e-5), where


def test_canonical_on_random_programs() -> None:
    episodes = random_episodes(random.Random(1), 4000)
    machine = make_machine("canonical")
    reward = run_batched(machine, episodes, LENGTH)
    assert_batched_equals_execute("canonical", episodes, reward, machine)
    assert int(machine.answered.sum()) > 150  # some random programs do answer


def test_canonical_on_closed_loop_rollouts() -> None:
    # Random legal actions (sometimes any token), chosen from legal() as a policy would.
    gen = torch.Generator().manual_seed(2)
    size = 3000
    batch = sample_batch(torch.randint(0, 3, (size,), generator=gen), gen)
    machine = ToolMachine(CANONICAL)
    machine.reset(batch)
    actions = []
    reward = torch.zeros(LENGTH, size)
    for t in range(LENGTH):
        weights = machine.legal().float() + 0.02  # (B, 18): mostly legal tools
        weights[:, ANS] *= 0.3  # longer episodes
        action = torch.multinomial(weights, 1, generator=gen).squeeze(1)
        action = torch.where(machine.done, EOS, action)
        actions.append(action)
        reward[t], _ = machine.step(action)
    programs = torch.stack(actions, 1).tolist()  # (B, T)
    episodes: list[Episode] = []
    for i in range(size):
        n = int(batch.n_operands[i])
        episodes.append((int(batch.stage[i]), batch.context[i, :n].tolist(), programs[i]))
    assert_batched_equals_execute("canonical", episodes, reward, machine)
    # Many answers, some of them correct, and episodes several steps long.
    assert int(machine.answered.sum()) > 400 and float(reward.sum()) >= 10
    assert float(machine.steps.float().mean()) > 2.5


def test_legacy_on_random_programs() -> None:
    episodes = random_episodes(random.Random(3), 3000)
    machine = make_machine("seed-legacy")
    reward = run_batched(machine, episodes, LENGTH)
    assert_batched_equals_execute("seed-legacy", episodes, reward, machine)


def test_empty_programs() -> None:
    for name in MACHINES:
        machine = make_machine(name)
        episodes: list[Episode] = [(0, [1, 2, 3], []), (2, [1, 2, 3, 4, 5], [])]
        reward = run_batched(machine, episodes, 0)
        assert reward.shape == (0, 2)
        assert not machine.answered.any() and not machine.steps.any()


EPISODE = st.integers(0, 2).flatmap(
    lambda stage: st.tuples(
        st.just(stage),
        st.lists(
            st.integers(0, 9),
            min_size=STAGES[stage].n_operands,
            max_size=STAGES[stage].n_operands,
        ),
        st.lists(st.one_of(st.sampled_from(TOOLS), st.integers(0, VOCAB_SIZE - 1)), max_size=12),
    )
)


@settings(max_examples=200, deadline=None)
@given(
    machine_name=st.sampled_from(MACHINES),
    episodes=st.lists(EPISODE, min_size=1, max_size=6),
    extra=st.integers(0, 3),
)
def test_property_batched_equals_execute(
    machine_name: str, episodes: list[Episode], extra: int
) -> None:
    machine = make_machine(machine_name)
    length = max(len(p) for _, _, p in episodes) + extra
    reward = run_batched(machine, episodes, length)
    assert_batched_equals_execute(machine_name, episodes, reward, machine)


# --- canonical reward shaping ---------------------------------------------------------------

P, Q = 0.125, 0.25  # process and partial, exact in float32


def shaped_rewards(stage: int, context: list[int], program: str, shaping: Shaping) -> list[float]:
    """Per-step rewards of one episode on a shaped canonical machine."""
    machine = make_machine("canonical", shaping=shaping)
    tokens = [parse_token(t) for t in program.split()]
    reward = run_batched(machine, [(stage, context, tokens)])
    return reward[:, 0].tolist()


def test_process_reward_once_per_subgoal() -> None:
    # a b c d e = 2 3 5 7 4: subgoals 6, 11, 28. MUL 6 (new), ADD 11 (new), STO, MUL 28 (new),
    # RCL, SUB -17 (the target, not a subgoal), ANS: correct.
    program = "MUL ADD STO MUL RCL SUB ANS"
    rewards = shaped_rewards(2, [2, 3, 5, 7, 4], program, Shaping(process=P))
    assert rewards == [P, P, 0.0, P, 0.0, 0.0, 1.0]
    assert sum(rewards) == 3 * P + 1.0


def test_process_reward_not_paid_twice() -> None:
    # a b c d e = 2 3 5 1 1: subgoals 6, 11, 1. MUL 6, ADD 11, STO, MUL 1: each new;
    # RCL MUL: 11*1 = 11 again, unpaid; ANS 11 is wrong (target 10).
    rewards = shaped_rewards(2, [2, 3, 5, 1, 1], "MUL ADD STO MUL RCL MUL ANS", Shaping(process=P))
    assert rewards == [P, P, 0.0, P, 0.0, 0.0, 0.0]
    # Stage 1, a b c d = 3 2 0 1: MUL 6 is both a*b and a*b+c (one call, paid once);
    # ADD 6+0 = 6 again: unpaid; SUB 6-1 = 5 is the target.
    rewards = shaped_rewards(1, [3, 2, 0, 1], "MUL ADD SUB ANS", Shaping(process=P))
    assert rewards == [P, 0.0, 0.0, 1.0]


def test_process_reward_only_for_ops_and_subgoals() -> None:
    # Stage 0, 2 3 5: subgoal a*b = 6. SUB 2-3 = -1 and ADD -1+5 = 4 produce none.
    assert shaped_rewards(0, [2, 3, 5], "SUB ADD ANS", Shaping(process=P)) == [0.0, 0.0, 0.0]
    # MUL 6 is a*b; ADD 11 is the target, not a subgoal of stage 0.
    assert shaped_rewards(0, [2, 3, 5], "MUL ADD ANS", Shaping(process=P)) == [P, 0.0, 1.0]


def test_partial_reward_for_answering_a_subgoal() -> None:
    # Stage 1, a b c d = 2 3 5 4: MUL ADD ANS answers a*b+c = 11, a subgoal; the target is 7.
    rewards = shaped_rewards(1, [2, 3, 5, 4], "MUL ADD ANS", Shaping(partial=Q))
    assert rewards == [0.0, 0.0, Q]
    assert not execute(["MUL", "ADD", "ANS"], [2, 3, 5, 4], 1).correct  # not a success
    # With d = 0, a*b+c is the target: 1.0 and no partial credit on top.
    assert shaped_rewards(1, [2, 3, 5, 0], "MUL ADD ANS", Shaping(partial=Q)) == [0.0, 0.0, 1.0]
    # Answering a value that is no subgoal: nothing. MUL SUB: 6-5 = 1.
    assert shaped_rewards(1, [2, 3, 5, 4], "MUL SUB ANS", Shaping(partial=Q)) == [0.0] * 3
    # Stage 2, 2 3 5 7 4: a*b+c = 11 and d*e = 28 are subgoals; both shapings add up.
    both = Shaping(partial=Q, process=P)
    assert shaped_rewards(2, [2, 3, 5, 7, 4], "MUL ADD ANS", both) == [P, P, Q]
    assert shaped_rewards(2, [2, 3, 5, 7, 4], "MUL ADD STO MUL ANS", both) == [P, P, 0, P, Q]


def test_shaping_is_not_success() -> None:
    # Stage 1, MUL ADD ANS on 500 contexts: correct exactly when d = 0. Shaping adds P for
    # a*b, P for a*b+c (unless c = 0, then it equals a*b: already paid) and Q for a wrong
    # answer a*b+c (a subgoal); the answers and the success flags do not change.
    batch = sample_batch(torch.full((500,), 1), torch.Generator().manual_seed(4))
    program = [MUL, ADD, ANS]
    totals, answers = [], []
    for shaping in (Shaping(), Shaping(partial=Q, process=P)):
        machine = ToolMachine(CANONICAL, shaping=shaping)
        machine.reset(batch)
        total = torch.zeros(500)
        for tok in program:
            reward, _ = machine.step(torch.full((500,), tok))
            total += reward
        totals.append(total)
        answers.append(machine.answer.clone())
    c, d = batch.context[:, 2], batch.context[:, 3]
    correct = d == 0
    assert torch.equal(answers[0], answers[1])
    assert torch.equal(answers[0] == batch.target, correct)
    assert torch.equal(totals[0], correct.float())
    want = P * (1 + (c != 0).float()) + torch.where(correct, 1.0, Q)
    assert torch.equal(totals[1], want)
    assert 0 < int(correct.sum()) < 500 and int((c == 0).sum()) > 0


def test_make_machine() -> None:
    canonical, legacy = make_machine("canonical"), make_machine("seed-legacy")
    assert isinstance(canonical, ToolMachine) and canonical.max_steps == 8
    assert isinstance(legacy, LegacyMachine) and legacy.max_steps == 7
    assert canonical.shaping == Shaping(partial=0.0, process=0.0)
    shaping = Shaping(partial=0.1, process=0.2)
    shaped = make_machine("canonical", max_steps=3, shaping=shaping)
    assert isinstance(shaped, ToolMachine)
    assert (shaped.max_steps, shaped.shaping) == (3, shaping)
    with pytest.raises(ValueError, match="unknown machine"):
        make_machine("legacy")
    for name in MACHINES:
        for bad in (0, -1, True, 2.5):
            with pytest.raises(ValueError, match="max_steps"):
                make_machine(name, max_steps=bad)  # type: ignore[arg-type]
    batch = make_batch(torch.tensor([[1, 2, 3, 4, 5]]), torch.tensor([2]))
    for name in MACHINES:
        machine = make_machine(name)
        machine.reset(batch)
        assert machine.legal().shape == (1, profile(name).vocab_size)
