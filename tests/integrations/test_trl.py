"""The TRL environment: tool methods from the tool table, episodes against ``execute``, and one
real ``GRPOTrainer`` step with ``environment_factory`` whose logged rewards are the machine's."""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nativeagent import execute
from nativeagent.integrations.trl import (
    ToolMachineEnvironment,
    environment_class,
    machine_reward,
    make_dataset,
)
from nativeagent.machine.tools import PROFILES, describe
from nativeagent.tasks.generate import TaskSpecError
from nativeagent.tasks.task import Task

# --- the environment on its own (no TRL needed) ----------------------------------------------


def test_import_nativeagent_and_the_module_do_not_import_trl() -> None:
    code = (
        "import sys, nativeagent, nativeagent.integrations.trl; "
        "print(sorted(m for m in ('trl', 'transformers', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def public_functions(cls: type) -> list[str]:
    """The members TRL turns into tools: public functions of the class (as GRPOTrainer lists)."""
    found = inspect.getmembers(cls, predicate=inspect.isfunction)
    return [n for n, _ in found if n not in ("reset", "get_reward") and not n.startswith("_")]


@pytest.mark.parametrize("machine", list(PROFILES))
def test_one_tool_method_per_tool_of_the_profile(machine: str) -> None:
    cls = environment_class(machine)
    assert cls is environment_class(machine)  # one class per machine
    names = [t.name for t in PROFILES[machine].tools]
    assert sorted(public_functions(cls)) == sorted(names)
    for tool in PROFILES[machine].tools:
        effect, legal = describe(tool)
        doc = getattr(cls, tool.name).__doc__
        assert effect.replace("`", "") in doc and legal in doc


@pytest.mark.parametrize("machine", list(PROFILES))
def test_tool_methods_become_tool_schemas(machine: str) -> None:
    from transformers.utils import get_json_schema  # the real extra: CI installs it

    env = environment_class(machine)()
    for tool in PROFILES[machine].tools:
        schema = get_json_schema(getattr(env, tool.name))["function"]
        assert schema["name"] == tool.name
        assert schema["parameters"]["properties"] == {}
        assert "Legal when" in schema["description"]


def test_a_solved_episode_pays_one() -> None:
    env = environment_class()()
    text = env.reset(expression="a*b+c", context=[4, 2, 7], prompt="ignored", other=1)
    assert "a*b+c" in text and "a=4 b=2 c=7" in text and "MUL ADD SUB ANS STO RCL" in text
    assert env.MUL().startswith("MUL acc=8")
    env.ADD()
    assert "answered 15, the target" in env.ANS()
    assert env.done and env.reward == 1.0 and env.program == ("MUL", "ADD", "ANS")
    assert "already ended" in env.SUB() and env.program == ("MUL", "ADD", "ANS")
    assert machine_reward([env, object()]) == [1.0, None]
    env.reset(expression="a*b", context=[3, 3])  # TRL reuses instances: reset starts afresh
    assert env.program == () and not env.done and env.reward == 0.0


def test_owns_reward_adds_get_reward_for_trl() -> None:
    cls = environment_class(owns_reward=True)
    assert cls is not environment_class() and "get_reward" not in public_functions(cls)
    assert not hasattr(environment_class(), "get_reward")  # else TRL would count it twice
    env = cls()
    env.reset(expression="a-b", context=[9, 2])
    assert env.get_reward() == 0.0
    env.SUB()
    env.ANS()
    assert env.get_reward() == 1.0


@pytest.mark.parametrize(
    ("machine", "expression", "context", "calls"),
    [
        ("canonical", "a*b+c", [4, 2, 7], ["MUL", "SUB", "ANS"]),  # wrong answer
        ("canonical", "a*b+c", [4, 2, 7], ["RCL", "MUL"]),  # illegal first call
        ("canonical", "a*b", [4, 2], ["MUL", "STO", "ANS"]),  # stuck after STO
        ("canonical", "a*b+c", [1, 1, 1], ["MUL"] * 9),  # out of calls
        ("extended", "a*(b+c)", [3, 4, 5], ["LOAD", "STO", "ADD", "RCL", "MUL", "ANS"]),
        ("extended", "(a-b)*c", [9, 2, 3], ["SUB", "MUL", "ANS", "ADD"]),
    ],
)
def test_episodes_agree_with_execute(
    machine: str, expression: str, context: list[int], calls: list[str]
) -> None:
    env = environment_class(machine)()
    env.reset(expression=expression, context=context, machine=machine)
    texts = [getattr(env, name)() for name in calls]
    outcome = execute(calls, context, expression, machine)
    assert env.reward == outcome.reward
    assert env.outcome == execute(list(env.program), context, expression, machine)
    assert len(env.program) == outcome.steps and env.done
    assert all("already ended" in t for t in texts[outcome.steps :])
    assert ("error" in texts[outcome.steps - 1]) == outcome.trace[-1].endswith("illegal")


def test_bad_rows_are_refused() -> None:
    env = environment_class()()
    with pytest.raises(RuntimeError, match="reset"):
        env.MUL()
    with pytest.raises(ValueError, match="digits"):
        env.reset(expression="a*b+c", context=[4, 2])
    with pytest.raises(ValueError, match="extended"):
        env.reset(expression="a*b", context=[4, 2], machine="extended")
    with pytest.raises(ValueError, match="tool machine"):
        environment_class("seed-legacy")
    with pytest.raises(TaskSpecError):
        make_dataset(["a*(b+c)"], 4)  # canonical cannot compute it


def test_make_dataset_rows_are_seeded_and_valid() -> None:
    data = make_dataset(["a*b", "a*b+c"], 16, np.random.default_rng(3), max_steps=6)
    again = make_dataset(["a*b", "a*b+c"], 16, np.random.default_rng(3), max_steps=6)
    assert data.to_list() == again.to_list()
    assert set(data.column_names) == {"prompt", "expression", "context", "machine", "max_steps"}
    assert {row["expression"] for row in data} == {"a*b", "a*b+c"}
    env = environment_class()()
    for row in data:
        assert len(row["context"]) == Task.parse(row["expression"]).n_operands
        assert row["prompt"][0]["role"] == "user"
        env.reset(**row)  # every row is a valid reset


# --- one real GRPOTrainer step ---------------------------------------------------------------

#: Pieces of the Qwen2.5 chat template's tool-call syntax, each one token of the test tokenizer,
#: so that a tool call is a fixed chain of four tokens: CALL, a tool name, ARGS, the end of turn.
HEADER = "<|im_start|>assistant\n"
CALL = '<tool_call>\n{"name": "'
ARGS = '", "arguments": {}}\n</tool_call>'
END = "<|im_end|>"
#: Sampling weights of the tool names after CALL: random, tilted towards MUL and ANS so that
#: some rollouts of ``a*b`` are correct (MUL ANS) and some are not.
TOOL_WEIGHTS = {"MUL": 6.0, "ANS": 6.0, "ADD": 1.0, "SUB": 1.0, "STO": 1.0, "RCL": 1.0}
#: Probability that a turn makes a tool call (else it ends the rollout with an empty answer).
P_CALL = 0.9


def make_tokenizer(machine: str) -> Any:
    """A byte-level BPE tokenizer trained here on the machine's own texts (nothing downloaded),
    with TRL's copy of the Qwen2.5 chat template, so TRL parses its tool calls itself."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.utils import get_json_schema
    from trl.chat_template_utils import qwen2_5_chat_template

    cls = environment_class(machine)
    names = [t.name for t in cls.profile.tools]
    env = cls()
    corpus = [json.dumps(get_json_schema(getattr(env, n))) for n in names]
    for row in make_dataset(["a*b", "a*b+c"], 8, 0, machine):
        corpus.append(row["prompt"][0]["content"] + env.reset(**row))
        corpus += [getattr(env, n)() for n in names]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=1000, initial_alphabet=alphabet, show_progress=False)
    bpe.train_from_iterator(corpus, trainer)
    bpe.add_special_tokens(["<|endoftext|>", "<|im_start|>", END])
    bpe.add_tokens([AddedToken(t, normalized=False) for t in (HEADER, CALL, ARGS, *names)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=END, pad_token="<|endoftext|>", padding_side="left"
    )
    tokenizer.chat_template = qwen2_5_chat_template
    return tokenizer


def make_model(tokenizer: Any, seed: int = 0) -> Any:
    """A randomly initialised one-layer Llama whose embeddings and output layer are then set so
    that it samples well-formed tool calls: a random model almost never writes one, so the test
    plants a bigram chain (HEADER -> CALL or END, CALL -> a random tool name, name -> ARGS ->
    END) on top of the random weights. Generation is still the model's own, run by TRL."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    ids = tokenizer.convert_tokens_to_ids
    end = ids(END)
    chain: dict[int, dict[int, float]] = {
        ids(HEADER): {ids(CALL): P_CALL, end: 1 - P_CALL},
        ids(CALL): {ids(n): w / sum(TOOL_WEIGHTS.values()) for n, w in TOOL_WEIGHTS.items()},
        **{ids(n): {ids(ARGS): 1.0} for n in TOOL_WEIGHTS},
        ids(ARGS): {end: 1.0},
        end: {end: 1.0},
    }
    scale = math.sqrt(config.hidden_size)  # the final RMSNorm maps 10*e_i to sqrt(hidden)*e_i
    with torch.no_grad():
        head = model.lm_head.weight  # (vocab, hidden)
        head.zero_()
        for slot, (token, following) in enumerate(chain.items()):
            model.model.embed_tokens.weight[token] = 0.0
            model.model.embed_tokens.weight[token, slot] = 10.0
            head[:, slot] = -30.0 / scale
            for nxt, p in following.items():
                head[nxt, slot] = math.log(p) / scale
    return model


def tool_calls(completion: list[dict[str, Any]]) -> list[str]:
    """The tools a rollout called, in order, as TRL parsed them from the model's turns: the
    calls of each assistant turn that TRL answered with tool messages (the calls of the last
    turn, once ``max_tool_calling_iterations`` is reached, are parsed but never run)."""
    calls = []
    for message, after in zip(completion, [*completion[1:], None], strict=True):
        if message["role"] == "assistant" and after is not None and after["role"] == "tool":
            calls += [call["function"]["name"] for call in message.get("tool_calls") or []]
    return calls


def test_grpo_trainer_step_rewards_are_the_machines_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # tests/conftest.py: nothing may be downloaded
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOConfig, GRPOTrainer  # the real extra: CI installs it, never skipped

    machine = "canonical"
    tokenizer = make_tokenizer(machine)
    dataset = make_dataset(["a*b", "a*b+c"], 16, np.random.default_rng(0), machine)
    seen: list[dict[str, Any]] = []

    def record(
        completions: list[list[dict[str, Any]]],
        expression: list[str],
        context: list[list[int]],
        environments: list[ToolMachineEnvironment],
        **kwargs: Any,
    ) -> list[float]:
        """Weight 0: keeps what TRL hands the reward functions, changes no reward."""
        for c, e, x, env in zip(completions, expression, context, environments, strict=True):
            seen.append({"calls": tool_calls(c), "expression": e, "context": x, "env": env})
            seen[-1]["program"] = env.program
        return [0.0] * len(completions)

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        report_to="none",
        use_cpu=True,
        bf16=False,
        max_steps=1,
        per_device_train_batch_size=32,
        num_generations=4,
        max_completion_length=1024,
        max_tool_calling_iterations=4,
        reward_weights=[1.0, 0.0],
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=make_model(tokenizer),
        reward_funcs=[machine_reward, record],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        environment_factory=environment_class(machine),
    )
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train()

    assert trainer.state.global_step == 1
    assert len(seen) == 32
    # Independently of the environments: run the calls TRL parsed from each rollout through
    # execute, and compare with what the environment recorded and the rewards TRL logged.
    verdicts = []
    for s in seen:
        outcome = execute(s["calls"], s["context"], s["expression"], machine)
        assert s["program"] == tuple(s["calls"][: outcome.steps])
        verdicts.append(outcome.reward)
    logged = next(h for h in trainer.state.log_history if "rewards/machine_reward/mean" in h)
    assert logged["rewards/machine_reward/mean"] == pytest.approx(np.mean(verdicts))
    assert logged["reward"] == pytest.approx(np.mean(verdicts))
    # Per rollout, what TRL keeps for its completions table (a private attribute: checked where
    # this TRL has it; the public means above are checked always).
    logs = getattr(trainer, "_logs", None)
    if logs is not None:
        assert list(logs["rewards"]["machine_reward"]) == verdicts
    # The check is not vacuous: tool calls happened, and both verdicts occur.
    assert sum(len(s["calls"]) for s in seen) >= len(seen)
    assert 0.0 in verdicts and 1.0 in verdicts
    assert logged["tools/call_frequency"] > 0
    # And the optimizer stepped.
    after = list(trainer.model.parameters())
    assert any(not (a == b).all() for a, b in zip(after, before, strict=True))
