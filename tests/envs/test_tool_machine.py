"""ToolMachineEnv: Gymnasium API, documented rewards and episode ends, masks, seeding, errors."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from helpers import canonical_legal

import nativeagent
from nativeagent import execute
from nativeagent.envs import ACTION_NAMES, ACTION_TOKENS, ENV_ID, ToolMachineEnv
from nativeagent.machine import make_machine
from nativeagent.tasks import STAGES, make_batch
from nativeagent.tokens import ADD, ANS, EOS, MUL, RCL, STO, SUB, TOOLS

ENV_KWARGS = [
    {"stage": 0},
    {"stage": 1},
    {"stage": 2},
    {"stage": None},
    {"stage": 0, "machine": "seed-legacy"},
    {"stage": 2, "machine": "seed-legacy"},
    {"stage": 1, "partial_reward": 0.3, "process_reward": 0.1},
    {"stage": 2, "machine": "extended"},
    {"stage": None, "machine": "extended", "process_reward": 0.1},
]


def action(token: int) -> int:
    """The action index of a tool token."""
    return TOOLS.index(token)


def run(env: ToolMachineEnv, tokens: list[int]) -> tuple[float, bool, dict]:
    """Step ``tokens``; return the summed reward, whether the last step ended, the last info."""
    total, terminated, info = 0.0, False, {}
    for tok in tokens:
        _, reward, terminated, truncated, info = env.step(action(tok))
        assert truncated is False
        total += reward
    return total, terminated, info


def decode(obs: np.ndarray) -> tuple[int, list[int], list[int]]:
    """Stage, context digits and action history read back from one observation."""
    stage = int(np.argmax(obs[:3]))
    digits = obs[3:53].reshape(5, 10)
    context = [int(np.argmax(d)) for d in digits[: STAGES[stage].n_operands]]
    assert not digits[STAGES[stage].n_operands :].any()
    history = obs[53:].reshape(-1, 6)
    return stage, context, [int(np.argmax(h)) for h in history if h.any()]


@pytest.mark.parametrize("kwargs", ENV_KWARGS, ids=str)
def test_check_env_passes_without_warnings(kwargs: dict) -> None:
    env = gymnasium.make(ENV_ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_make_gives_the_env_with_its_keywords(stage: int) -> None:
    env = gymnasium.make(ENV_ID, stage=stage, machine="seed-legacy")
    assert isinstance(env.unwrapped, ToolMachineEnv)
    assert env.unwrapped.settings.stage == stage
    assert env.unwrapped.settings.machine == "seed-legacy"
    assert env.unwrapped.settings.max_steps == 7
    _, info = env.reset(seed=0)
    assert info["stage"] == stage


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_shortest_program_earns_reward_one_and_is_correct(stage: int) -> None:
    env = gymnasium.make(ENV_ID, stage=stage)
    env.reset(seed=stage)
    for _ in range(50):
        _, info = env.reset()
        program = STAGES[stage].shortest_program()
        rewards = []
        for t, tok in enumerate(program):
            assert info["action_mask"][action(tok)], f"step {t}: {tok} masked"
            _, reward, terminated, truncated, info = env.step(action(tok))
            rewards.append(reward)
            assert terminated == (t == len(program) - 1) and not truncated
        assert rewards == [0.0] * (len(program) - 1) + [1.0]
        assert info["correct"] and info["answer"] == info["target"]


def test_observation_layout_holds_stage_context_and_tools() -> None:
    env = ToolMachineEnv(stage=None)
    obs, _ = env.reset(seed=0, options={"context": [4, 2, 7, 3, 5]})
    assert obs.dtype == np.float32 and obs.shape == (3 + 50 + 8 * 6,)
    assert decode(obs) == (2, [4, 2, 7, 3, 5], [])
    assert obs.sum() == 1 + 5
    obs, *_ = env.step(action(MUL))
    obs, *_ = env.step(action(ADD))
    assert decode(obs) == (2, [4, 2, 7, 3, 5], [action(MUL), action(ADD)])
    assert obs.sum() == 1 + 5 + 2
    legacy = ToolMachineEnv(stage=0, machine="seed-legacy")
    assert legacy.observation_space.shape == (3 + 50 + 7 * 6,)


def test_action_order_follows_tokens_tools() -> None:
    assert ACTION_NAMES == ("MUL", "ADD", "SUB", "ANS", "STO", "RCL")
    assert tuple(ACTION_TOKENS) == TOOLS


def test_illegal_action_ends_unsolved() -> None:
    env = ToolMachineEnv(stage=0)
    _, info = env.reset(options={"context": [4, 2, 7]})
    assert not info["action_mask"][action(ANS)]
    _, reward, terminated, truncated, info = env.step(action(ANS))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["answer"] is None and not info["correct"]
    assert not info["action_mask"].any()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action(MUL))


def test_illegal_action_mid_episode_ends_unsolved() -> None:
    env = ToolMachineEnv(stage=2)
    env.reset(options={"context": [4, 2, 7, 3, 5]})
    reward, terminated, info = run(env, [MUL, ADD, RCL])  # RCL with an empty memory
    assert (reward, terminated, info["answer"], info["correct"]) == (0.0, True, None, False)


def test_stuck_state_ends_unsolved() -> None:
    env = ToolMachineEnv(stage=0)
    env.reset(options={"context": [4, 2, 7]})
    reward, terminated, info = run(env, [MUL, STO])  # one operand left, acc empty: no tool
    assert (reward, terminated, info["correct"]) == (0.0, True, False)


def test_step_limit_terminates_unsolved() -> None:
    env = ToolMachineEnv(stage=2)
    env.reset(options={"context": [4, 2, 7, 3, 5]})
    program = [MUL, STO, MUL, RCL, ADD, RCL, SUB, RCL]  # 8 legal tools, never ANS
    for t, tok in enumerate(program):
        _, reward, terminated, truncated, info = env.step(action(tok))
        assert reward == 0.0 and not truncated
        assert terminated == (t == 7), f"step {t}"
    assert info["answer"] is None and not info["correct"]
    assert execute(program, [4, 2, 7, 3, 5], 2).steps == 8


def test_max_steps_keyword_shortens_the_limit() -> None:
    env = ToolMachineEnv(stage=2, max_steps=3)
    env.reset(options={"context": [4, 2, 7, 3, 5]})
    assert run(env, [MUL, ADD, STO])[1]
    assert env.observation_space.shape == (3 + 50 + 3 * 6,)


def random_episode(env: ToolMachineEnv, rng: np.random.Generator, legal_only: bool):
    """Play one episode with random actions; yield (mask before the step, action, step result)."""
    _, info = env.reset(seed=int(rng.integers(1 << 30)))
    terminated = False
    while not terminated:
        mask = info["action_mask"]
        choices = np.flatnonzero(mask) if legal_only or rng.random() < 0.8 else np.arange(6)
        act = int(rng.choice(choices))
        obs, reward, terminated, truncated, info = env.step(act)
        yield mask, act, (obs, reward, terminated, truncated, info)


@pytest.mark.parametrize("machine", ["canonical", "seed-legacy"])
@pytest.mark.parametrize("stage", [0, 1, 2])
def test_rewards_and_answers_match_execute(machine: str, stage: int) -> None:
    """Random programs: the env's summed reward and answer equal the reference ``execute``."""
    env, rng = ToolMachineEnv(stage=stage, machine=machine), np.random.default_rng(stage)
    for _ in range(100):
        steps = list(random_episode(env, rng, legal_only=False))
        tools = [TOOLS[act] for _, act, _ in steps]
        total = sum(result[1] for _, _, result in steps)
        obs, _, _, _, info = steps[-1][2]
        context = decode(obs)[1]
        outcome = execute(tools, context, stage, machine=machine)
        assert total == pytest.approx(outcome.reward) and info["answer"] == outcome.answer
        assert info["target"] == STAGES[stage].target(context)
        assert info["correct"] == (outcome.answer == info["target"])


def test_legacy_reward_is_the_tutorials_and_correct_is_the_stated_target() -> None:
    env = ToolMachineEnv(stage=1, machine="seed-legacy")
    env.reset(options={"context": [4, 2, 7, 3]})
    reward, terminated, info = run(env, [MUL, ADD, ANS])  # answers a*b+c, the rewarded target
    assert reward == pytest.approx(1.0 + 0.2 * 0.5) and terminated
    assert info["answer"] == 15 and info["target"] == 12 and not info["correct"]


def test_legacy_masks_allow_every_tool() -> None:
    env = ToolMachineEnv(stage=2, machine="seed-legacy")
    _, info = env.reset(seed=0)
    assert info["action_mask"].all() and env.action_masks().all()
    _, _, info = run(env, [ANS])  # ANS with nothing computed still ends the episode
    assert info["answer"] is None and not info["action_mask"].any()


def test_shaping_rewards() -> None:
    env = ToolMachineEnv(stage=0, process_reward=0.1)
    env.reset(options={"context": [4, 2, 7]})
    rewards = [env.step(action(tok))[1] for tok in (MUL, ADD, ANS)]
    assert rewards == pytest.approx([0.1, 0.0, 1.0])  # a*b is stage 0's only subgoal
    env = ToolMachineEnv(stage=1, partial_reward=0.3)
    env.reset(options={"context": [4, 2, 7, 3]})
    reward, _, info = run(env, [MUL, ADD, ANS])  # answers the subgoal a*b+c
    assert reward == pytest.approx(0.3) and not info["correct"]


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_masks_equal_the_batched_machine_and_the_reference(stage: int) -> None:
    env, rng = ToolMachineEnv(stage=stage), np.random.default_rng(10 + stage)
    for _ in range(60):
        machine = make_machine("canonical")
        acc = mem = None
        p, armed, context = 0, False, None
        for mask, act, (obs, *_) in random_episode(env, rng, legal_only=True):
            if context is None:
                context = decode(obs)[1]
                padded = torch.tensor([[*context, *[EOS] * (5 - len(context))]])
                machine.reset(make_batch(padded, torch.tensor([stage])))
            assert np.array_equal(mask, machine.legal()[0, list(TOOLS)].numpy())
            reference = canonical_legal(acc, mem, p, armed, len(context))
            assert {TOOLS[i] for i in np.flatnonzero(mask)} == reference
            machine.step(torch.tensor([TOOLS[act]]))
            acc, mem, p, armed = _reference_step(TOOLS[act], acc, mem, p, armed, context)


def _reference_step(tok: int, acc, mem, p: int, armed: bool, x: list[int]):
    """The documented transition (docs/machine.md) for a legal tool, enough to track legality."""
    ops = {MUL: lambda a, b: a * b, ADD: lambda a, b: a + b, SUB: lambda a, b: a - b}
    if tok in ops:
        if armed:
            return ops[tok](mem, acc), mem, p, False
        if acc is None:
            return ops[tok](x[p], x[p + 1]), mem, p + 2, False
        return ops[tok](acc, x[p]), mem, p + 1, False
    if tok == STO:
        return None, acc, p, False
    return acc, mem, p, tok == RCL or armed


def test_action_masks_method_equals_info() -> None:
    env, rng = ToolMachineEnv(stage=2), np.random.default_rng(0)
    for _, _, result in random_episode(env, rng, legal_only=True):
        mask = result[4]["action_mask"]
        assert mask.dtype == np.bool_ and mask.shape == (6,)
        assert np.array_equal(env.action_masks(), mask)
    assert not env.action_masks().any()  # the episode has ended: nothing is legal


@pytest.mark.parametrize("stage", [0, None])
def test_same_seed_same_episodes(stage: int | None) -> None:
    def episodes(seed: int) -> list[tuple]:
        env = gymnasium.make(ENV_ID, stage=stage)
        obs, _ = env.reset(seed=seed)
        firsts = [decode(obs)]
        for _ in range(30):
            firsts.append(decode(env.reset()[0]))
        return firsts

    assert episodes(3) == episodes(3)
    assert episodes(3) != episodes(4)
    if stage is None:
        assert {s for s, _, _ in episodes(3)} == {0, 1, 2}


def test_render_ansi_returns_the_trace_so_far() -> None:
    env = gymnasium.make(ENV_ID, stage=2, render_mode="ansi")
    env.reset(options={"context": [4, 2, 7, 3, 5]})
    assert env.render() == "stage=2 ctx=[4 2 7 3 5] target=0 | (no steps yet)"
    for tok in STAGES[2].shortest_program():
        env.step(action(tok))
    assert env.render() == (
        "stage=2 ctx=[4 2 7 3 5] target=0 | MUL acc=8 · ADD acc=15 · STO mem=15 · MUL acc=15"
        " · RCL · SUB acc=0 · ANS ✓"
    )


def test_reset_options() -> None:
    env = ToolMachineEnv(stage=None)
    assert env.reset(options={"stage": 1})[1]["stage"] == 1
    assert env.reset(options={"context": [1, 2, 3, 4]})[1]["target"] == 1
    with pytest.raises(ValueError, match="needs 3 digits"):
        env.reset(options={"stage": 0, "context": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"seed": 1})


def test_bad_action_is_refused() -> None:
    env = ToolMachineEnv(stage=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be"):
        env.step(6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"stage": 7}, ValueError, "stage must be 0..2, got 7"),
        ({"stage": "1"}, ValueError, "stage must be an int"),
        ({"machine": "abacus"}, ValueError, "unknown machine 'abacus'"),
        ({"max_steps": 0}, ValueError, "max_steps must be a positive int"),
        ({"partial_reward": -1.0}, ValueError, "partial_reward must be"),
        ({"process_reward": float("nan")}, ValueError, "process_reward must be"),
        ({"machine": "seed-legacy", "process_reward": 0.1}, ValueError, "tool profiles only"),
        ({"render_mode": "rgb_array"}, TypeError, "render_mode must be None or 'ansi'"),
        ({"stages": 1}, TypeError, "unexpected keyword argument 'stages'"),
    ],
)
def test_bad_keywords_raise_one_line_errors(kwargs: dict, error: type, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns about unknown render modes first
        with pytest.raises(error, match=message) as err:
            gymnasium.make(ENV_ID, **kwargs)
    assert "\n" not in str(err.value)


def test_registered_by_importing_nativeagent() -> None:
    assert ENV_ID in gymnasium.registry
    assert nativeagent.envs.ToolMachineEnv is ToolMachineEnv


def test_import_works_without_gymnasium() -> None:
    code = (
        "import sys; sys.modules['gymnasium'] = None\n"  # makes `import gymnasium` fail
        "import nativeagent\n"
        "assert 'nativeagent.envs' not in sys.modules\n"
        "print(nativeagent.execute(['MUL', 'ADD', 'ANS'], [4, 2, 7], 0).correct)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_extended_env_has_the_profiles_nine_actions() -> None:
    env = gymnasium.make(ENV_ID, stage=0, machine="extended", render_mode="ansi")
    names = env.unwrapped.action_names
    assert names == ("MUL", "ADD", "SUB", "ANS", "STO", "RCL", "LOAD", "STO2", "RCL2")
    assert env.action_space == gymnasium.spaces.Discrete(9)
    obs, info = env.reset(seed=0, options={"context": [4, 2, 7]})
    assert obs.shape == (3 + 5 * 10 + 12 * 9,) and env.unwrapped.settings.max_steps == 12
    assert [names[i] for i in np.flatnonzero(info["action_mask"])] == ["MUL", "ADD", "SUB", "LOAD"]
    for name in ("LOAD", "MUL", "ADD", "ANS"):  # a*b+c another way: LOAD a, then * b, + c
        obs, reward, terminated, _, info = env.step(names.index(name))
    assert (reward, terminated, info["answer"], info["correct"]) == (1.0, True, 15, True)
    assert (
        env.render()
        == "stage=0 ctx=[4 2 7] target=15 | LOAD acc=4 · MUL acc=8 · ADD acc=15 · ANS ✓"
    )
    vec = gymnasium.make_vec(
        ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", machine="extended", stage=2
    )
    obs, info = vec.reset(seed=1)
    assert obs.shape == (3, 161) and info["action_mask"].shape == (3, 9)
    assert vec.single_action_space == gymnasium.spaces.Discrete(9)
