"""The Python API (``nativeagent.load_config``, ``train``, ``load`` and ``Agent``)."""

from pathlib import Path

import pytest

import nativeagent
from nativeagent.config import ConfigError
from nativeagent.errors import RunDirError
from nativeagent.tasks.execution import execute
from nativeagent.tasks.task import STAGES


def test_load_config_takes_dotted_keys_or_set_strings() -> None:
    by_dict = nativeagent.load_config(overrides={"train.seed": 3, "algo.name": "ppo"})
    by_list = nativeagent.load_config(overrides=["train.seed=3", 'algo.name="ppo"'])
    assert by_dict == by_list
    assert (by_dict.train.seed, by_dict.algo.name) == (3, "ppo")
    tutorial = nativeagent.load_config(preset="tutorial")
    assert (tutorial.machine.name, tutorial.train.max_updates) == ("seed-legacy", 60)


def test_load_config_names_a_bad_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.bogus"):
        nativeagent.load_config(overrides={"train.bogus": 1})
    with pytest.raises(ConfigError, match="unknown preset"):
        nativeagent.load_config(preset="nope")
    with pytest.raises(ConfigError, match="not found"):
        nativeagent.load_config(file=tmp_path / "missing.toml")


def test_train_returns_the_result_and_refuses_to_overwrite(tmp_path: Path) -> None:
    cfg = nativeagent.load_config(
        overrides={"train.max_updates": 3, "train.eval_every": 3, "train.threads": 1}
    )
    result = nativeagent.train(cfg, out=tmp_path / "run")
    assert result.updates == 3 and result.run_dir == tmp_path / "run"
    assert set(result.accuracy) == {"0", "1", "2"}
    assert result.data["accuracy"] == result.accuracy
    assert (tmp_path / "run" / "result.json").is_file()
    with pytest.raises(FileExistsError, match="already holds a run"):
        nativeagent.train(cfg, out=tmp_path / "run")
    assert nativeagent.train(cfg, out=tmp_path / "run", overwrite=True).updates == 3


def test_solve_returns_program_answer_and_trace(solved_run: Path) -> None:
    agent = nativeagent.load(solved_run)
    for stage, digits in [(0, [4, 2, 7]), (1, [4, 2, 7, 3]), (2, [4, 2, 7, 3, 5])]:
        s = agent.solve(stage, digits)
        assert s.task == STAGES[stage].expression
        assert s.target == STAGES[stage].target(digits)
        # The machine's verdict on the returned program, computed independently.
        outcome = execute(list(s.program), digits, stage)
        assert (s.answer, s.correct, s.trace) == (
            outcome.answer,
            outcome.correct,
            outcome.format_trace(),
        )
        assert s.correct
    by_expression = agent.solve("(a*b+c)-(d*e)", [4, 2, 7, 3, 5])
    assert by_expression.program == ("MUL", "ADD", "STO", "MUL", "RCL", "SUB", "ANS")


def test_solve_rejects_what_the_agent_cannot_be_asked(solved_run: Path) -> None:
    agent = nativeagent.load(solved_run)
    with pytest.raises(ValueError, match=r"task a\*b\+c needs a context of 3 digits, got 2"):
        agent.solve(0, [1, 2])
    with pytest.raises(ValueError, match=r"digits must be ints 0\.\.9, got 10"):
        agent.solve(0, [1, 2, 10])
    with pytest.raises(ValueError, match="must be a sequence of digits"):
        agent.solve(0, "123")
    with pytest.raises(ValueError, match="stage must be one of"):
        agent.solve(5, [1, 2, 3])
    with pytest.raises(ValueError, match="does not read the expression"):
        agent.solve("a*(b+c)", [1, 2, 3])


def test_evaluate_and_explain(solved_run: Path) -> None:
    agent = nativeagent.load(solved_run)
    table = agent.evaluate(episodes=300)
    assert set(table) == {0, 1, 2}
    for row in table.values():
        assert row.episodes == 300 and row.accuracy >= 0.95
        assert row.low <= row.accuracy <= row.high
        assert row.mean_reward == pytest.approx(row.accuracy)  # canonical: 1 when correct
    lines = agent.explain(stage=2, n=3)
    assert len(lines) == 3 and all(e.trace.endswith(("✓", "✗")) for e in lines)


def test_task_mode_agent_solves_and_evaluates_other_expressions(custom_run: Path) -> None:
    agent = nativeagent.load(custom_run)
    s = agent.solve("a*b-c", [3, 4, 5])  # not one of its tasks
    assert s.target == 7
    assert execute(list(s.program), [3, 4, 5], "a*b-c").answer == s.answer
    acc = agent.evaluate_expressions(["a*b", "a*b-c"], episodes=40)
    assert acc.episodes == 40 and [e for e, _, _ in acc.per_expression] == ["a*b", "a*b-c"]
    with pytest.raises(ValueError, match="has 2 expressions"):
        agent.solve(0, [1, 2])


def test_load_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="does not exist"):
        nativeagent.load(tmp_path / "nothing")
    with pytest.raises(RunDirError, match="no checkpoint"):
        nativeagent.load(tmp_path)
