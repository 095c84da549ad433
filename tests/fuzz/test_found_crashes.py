"""Every crash the fuzzing found, as a plain example: each input once crashed (a traceback, an
error of several lines, or a half-done job) and must now end as the contract says.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import surfaces as s
import torch

from nativeagent.config import ConfigError, from_dict, load_config
from nativeagent.machine import make_machine
from nativeagent.machine.tools import EOS
from nativeagent.tasks.expression import ExpressionError, parse
from nativeagent.training.checkpoint import load_checkpoint, save_checkpoint


def error_line(args: list[str], code: int = 2) -> str:
    """Run a command that must fail with ``code`` and one error line; return the line."""
    r = s.run_cli(args)
    assert s.cli_outcome(r, (code,)) == f"exit {code}"
    return s.lines(r.err)[0]


@contextlib.contextmanager
def rewritten_checkpoint(run: Path) -> Iterator[dict[str, Any]]:
    """``run``'s checkpoint as a dict to change; saved back (format and all) when the block ends."""
    state = load_checkpoint(run)
    state.pop("format")
    yield state
    save_checkpoint(run / "checkpoint.pt", state)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A copy of the fuzzing's small finished run."""
    shutil.copytree(s.base_runs().finished, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def unfinished(tmp_path: Path) -> Path:
    """A copy of the fuzzing's small unfinished run (two updates to go)."""
    shutil.copytree(s.base_runs().unfinished, tmp_path / "unfinished")
    return tmp_path / "unfinished"


# --- expressions: RecursionError on deep nesting ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("(" * 2000 + "a" + ")" * 2000, "parentheses nested more than 64 deep at position 65"),
        ("a-(" * 2000 + "b" + ")" * 2000, "more than 64 operators at position 194"),
        ("a+" * 3000 + "a", "more than 64 operators at position 130"),
    ],
    ids=["parentheses", "right-nested", "chain"],
)
def test_deep_or_long_expressions_are_one_short_line(text: str, needle: str) -> None:
    with pytest.raises(ExpressionError, match=needle) as info:
        parse(text)
    assert len(str(info.value)) < 200 and "\n" not in str(info.value)
    assert needle in error_line(["solve", text])


def test_sixty_four_levels_still_parse() -> None:
    tree = parse("(" * 64 + "a*b" + ")" * 64)
    assert parse("a+" * 64 + "a") and tree == parse("a*b")
    assert s.run_cli(["solve", "(" * 64 + "a*b" + ")" * 64]).code == 0


# --- configuration ------------------------------------------------------------------------------


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*: Is a directory"):
        load_config(tmp_path)
    assert "Is a directory" in error_line(["train", "--config", str(tmp_path), "--out", "x"])


def test_config_file_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000)
    with pytest.raises(ConfigError, match="nests its values too deeply"):
        load_config(path)


def test_override_nested_too_deeply_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"task\.curriculum") as info:
        load_config(overrides=["task.curriculum=" + "[" * 5000])
    assert "\n" not in str(info.value)


def test_config_key_with_a_line_break_is_quoted() -> None:
    with pytest.raises(ConfigError, match=r"'a\\rb': unknown key") as info:
        from_dict({"a\rb": {}})
    assert len(s.lines(str(info.value))) == 1


def test_config_value_whose_repr_spans_lines_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"got tensor\(\[\[0\.\], \[0\.\]\]\)") as info:
        from_dict({"model": torch.zeros(2, 1)})
    assert "\n" not in str(info.value)


def test_error_naming_a_path_with_a_line_break_is_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "a\nb"
    odd.write_text("x")
    assert "a\\nb exists and is not a directory" in error_line(["train", "--out", str(odd)])


# --- batched machines: ids outside the vocabulary, huge step limits -----------------------------


@pytest.mark.parametrize("action", [29, 21, 10**6, -1, 2**63 - 1, -(2**63)])
@pytest.mark.parametrize("machine", ["canonical", "extended"])
def test_an_id_outside_the_vocabulary_ends_the_episode_as_eos_does(
    machine: str, action: int
) -> None:
    # 10**6 and int64's extremes raised IndexError (or read another control state's row).
    results = []
    for a in (action, EOS):
        m = make_machine(machine)
        m.reset(s._episodes([[1, 2, 3]], [5]))
        results.append((m.step(torch.tensor([a])), m.done.tolist(), m.steps.tolist()))
    (reward, done), *rest = results[0]
    assert reward.tolist() == [0.0] and done.tolist() == [True] and m.answered.tolist() == [False]
    assert rest == list(results[1][1:])


def test_an_id_outside_the_vocabulary_never_acts_as_a_tool() -> None:
    # 83 = 11 + 4 * 18 read the row of another control state: [83, ANS] answered 6 on 1 2 3 4.
    m = make_machine("canonical")
    m.reset(s._episodes([[1, 2, 3, 4]], [6]))
    for token in (83, 14):
        m.step(torch.tensor([token]))
    assert m.answered.tolist() == [False] and m.steps.tolist() == [1]


@pytest.mark.parametrize("machine", ["canonical", "seed-legacy"])
@pytest.mark.parametrize("limit", [2**63, 2**70])
def test_a_step_limit_beyond_int64_is_never_reached(machine: str, limit: int) -> None:
    # 2**70 raised OverflowError; 2**63 wrapped around and ended every episode at once.
    m = make_machine(machine, limit)
    if machine == "seed-legacy":
        from nativeagent.tasks import make_batch

        m.reset(make_batch(torch.tensor([[1, 2, 3, EOS, EOS]]), torch.tensor([0])))
    else:
        m.reset(s._episodes([[1, 2, 3]], [5]))
    _, done = m.step(torch.tensor([11]))  # MUL
    assert done.tolist() == [False]


# --- damaged checkpoints ---------------------------------------------------------------------


def test_checkpoint_whose_pickle_is_damaged(run: Path) -> None:
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[0] ^= 1  # no longer a zip: read as a legacy pickle, IndexError inside torch
    (run / "checkpoint.pt").write_bytes(bytes(data))
    assert "cannot load checkpoint" in error_line(["eval", str(run), "--episodes", "4"])


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("model", torch.zeros(1), "does not fit its model: Expected state_dict to be dict-like"),
        ("format", torch.zeros(3), "is not a nativeagent checkpoint"),
        ("config", {"model": torch.zeros(3, 1)}, "unusable config"),
    ],
)
def test_checkpoint_entry_of_the_wrong_kind(
    run: Path, key: str, value: object, needle: str
) -> None:
    with rewritten_checkpoint(run) as state:
        state[key] = value
    if key == "format":  # save_checkpoint writes its own format: overwrite it afterwards
        torch.save({**state, "format": value}, run / "checkpoint.pt")
    for command in (["eval", str(run), "--episodes", "4"], ["explain", str(run), "-n", "1"]):
        assert needle in error_line(command)


def test_checkpoint_of_another_shape_is_one_line(run: Path) -> None:
    with rewritten_checkpoint(run) as state:
        state["model"] = {k: v[:1] for k, v in state["model"].items()}
    assert "size mismatch" in error_line(["report", str(run), "--out", str(run.parent / "r.html")])
    assert not (run.parent / "r.html").exists()


# --- damaged result.json and metrics.jsonl ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"wall_s": None}, "wall_s is not a number"),
        ({"eval_episodes": None}, "eval_episodes is not an int"),
        ({"accuracy": {"0": {}, "1": 0.5, "2": 0.5}}, "accuracy is not a number"),
        ({"accuracy": None}, "accuracy is not a table"),
        ({"interval": {"0": [0.1]}}, "interval is not [low, high]"),
        ({"solved": "yes"}, "solved is not true or false"),
        ({"held_out": {"accuracy": 1.0}}, "held_out is not"),
        ({"accuracy": {"0": 1.0}, "interval": {"0": [0.9, 1.0]}}, "accuracy for 1 stages"),
    ],
)
def test_result_json_of_the_wrong_kind(run: Path, change: dict, needle: str) -> None:
    result = json.loads((run / "result.json").read_text())
    (run / "result.json").write_text(json.dumps({**result, **change}))
    out = run.parent / "export"
    assert needle in error_line(["export", str(run), str(out)])
    assert not out.exists() and not s.temporaries(run.parent)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"wall_s": None}, "wall_s is not a number"),
        ({"episodes": None}, "episodes is not a number"),
        ({"eval": None}, "eval is not a table of accuracies"),
        ({"eval": ["x"]}, "eval is not a table of accuracies"),
    ],
)
@pytest.mark.parametrize("command", ["plot", "report"])
def test_metrics_record_of_the_wrong_kind(
    run: Path, command: str, change: dict, needle: str
) -> None:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[-1] = json.dumps({**json.loads(lines[-1]), **change})
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    out = run.parent / "out.file"
    assert needle in error_line([command, str(run), "--out", str(out)])
    assert not out.exists()


# --- resume -----------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.0, None])
def test_resume_with_metrics_shorter_than_the_checkpoint(
    unfinished: Path, keep: float | None
) -> None:
    # It once padded metrics.jsonl with zero bytes up to the checkpoint's length and went on.
    metrics = unfinished / "metrics.jsonl"
    if keep is None:
        metrics.unlink()
    else:
        data = metrics.read_bytes()
        metrics.write_bytes(data[: int(keep * len(data))])
    before = s.tree_state(unfinished)
    assert "fewer than the" in error_line(["train", "--resume", str(unfinished), "-q"])
    s.assert_unchanged(before, s.tree_state(unfinished), "a failed resume")


def test_sweep_file_nested_too_deeply(tmp_path: Path) -> None:
    from nativeagent.experiments.sweep import SweepError, read_sweep

    path = tmp_path / "deep.toml"
    path.write_text("[sweep]\nx = " + "[" * 5000)
    with pytest.raises(SweepError):
        read_sweep(path)


def test_resume_with_a_command_txt_that_is_not_utf8(unfinished: Path) -> None:
    (unfinished / "command.txt").write_bytes(b"\xf8")
    assert s.cli_outcome(s.run_cli(["train", "--resume", str(unfinished), "-q"])) in (
        "ok",
        "exit 2",
    )


def test_resume_with_a_damaged_optimizer_state(unfinished: Path) -> None:
    with rewritten_checkpoint(unfinished) as state:
        state["optimizer"]["param_groups"] = [torch.tensor(1.0)]  # a group that is a tensor
    assert s.cli_outcome(s.run_cli(["train", "--resume", str(unfinished), "-q"])) == "exit 2"


def test_checkpoint_that_the_weights_only_loader_refuses_is_one_line(run: Path) -> None:
    # A flipped protocol byte made torch warn (two lines) before its error, whose first line was
    # advice to load with weights_only=False.
    path = run / "checkpoint.pt"
    with zipfile.ZipFile(path) as old:
        entries = {name: old.read(name) for name in old.namelist()}
    pickle_name = next(name for name in entries if name.endswith("data.pkl"))
    entries[pickle_name] = b"\x80\x4b\xff" + entries[pickle_name][3:]  # protocol 75, opcode 255
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as new:
        for name, data in entries.items():
            new.writestr(name, data)
    for command in (["eval", str(run), "--episodes", "4"], ["explain", str(run), "-n", "1"]):
        line = error_line(command)
        assert "cannot load checkpoint" in line and "weights_only" not in line, line


@pytest.mark.parametrize(
    ("part", "value", "needle"),
    [
        (
            "optimizer",
            torch.zeros(2),
            "'optimizer' does not fit: it is a Tensor, not a table",
        ),
        (
            "optimizer",
            {"state": torch.zeros(1), "param_groups": []},
            "'optimizer' does not fit",
        ),
        ("curriculum", torch.tensor(0.0), "'curriculum' does not fit: it is a Tensor"),
        ("curriculum", {"stage": 0, "failure": None}, "failure rates are not a tensor"),
        ("generators", [None], "'generators' does not fit: it is a list"),
        ("update", float("nan"), "'update' does not fit: nan is not an int of at least 0"),
        ("wall_s", -1.0, "'wall_s' does not fit: -1.0 is not a float of at least 0"),
        (
            "stopped",
            torch.tensor(False),
            "'stopped' does not fit: tensor(False) is not true or false",
        ),
    ],
)
def test_resume_from_checkpoint_parts_of_the_wrong_kind(
    unfinished: Path, part: str, value: object, needle: str
) -> None:
    # Torch's own loaders raised AttributeError ('Tensor' object has no attribute 'items'),
    # and the curriculum indexed a tensor with a string.
    with rewritten_checkpoint(unfinished) as state:
        state[part] = value
    before = s.tree_state(unfinished)
    assert needle in error_line(["train", "--resume", str(unfinished), "-q"])
    s.assert_unchanged(before, s.tree_state(unfinished), "a failed resume")


def test_curriculum_failure_rates_outside_zero_to_one_are_refused(unfinished: Path) -> None:
    with rewritten_checkpoint(unfinished) as state:
        state["curriculum"]["failure"] = torch.full_like(state["curriculum"]["failure"], math.nan)
    assert "between 0 and 1" in error_line(["train", "--resume", str(unfinished), "-q"])


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_checkpoint_holding_a_nan_is_damaged(unfinished: Path, where: str) -> None:
    # A NaN in the weights made resume's sampling fail inside torch.multinomial.
    with rewritten_checkpoint(unfinished) as state:
        if where == "model":
            name = next(iter(state["model"]))
            state["model"][name] = torch.full_like(state["model"][name], math.nan)
        else:
            moments = next(iter(state["optimizer"]["state"].values()))
            moments["exp_avg"] = torch.full_like(moments["exp_avg"], math.inf)
            name = "exp_avg"
    line = error_line(["train", "--resume", str(unfinished), "-q"])
    assert f"holds a NaN or infinity in {where} {name}" in line and "damaged" in line, line
    if where == "model":
        assert "holds a NaN or infinity" in error_line(["eval", str(unfinished), "--episodes", "4"])


def test_weights_too_large_for_the_policy_output_stop_training_as_non_finite(
    unfinished: Path,
) -> None:
    # Finite weights whose logits overflow gave a NaN policy: torch.multinomial raised.
    with rewritten_checkpoint(unfinished) as state:
        # Every weight scaled to just below float32's largest: sums in the network overflow.
        for name, t in state["model"].items():
            if float(t.abs().max()) > 1e-6:
                state["model"][name] = t / t.abs().max() * 3e38
    before = s.tree_state(unfinished)
    line = error_line(["train", "--resume", str(unfinished), "-q"], code=3)
    assert "non-finite policy output at update" in line and "checkpoint" in line, line
    assert s.tree_state(unfinished)["checkpoint.pt"] == before["checkpoint.pt"]


def test_all_reachable_beyond_the_step_limit_is_a_config_error() -> None:
    # No expression of 2 operands fits in one tool: the task set had an empty stage.
    with pytest.raises(ConfigError, match="no expression of 2 operands can be computed"):
        load_config(overrides=["task.all_reachable=3", "machine.max_steps=1"])
    assert "task.all_reachable" in error_line(
        ["train", "--set", "task.all_reachable=3", "--set", "machine.max_steps=1", "-q"]
    )


def test_sweep_section_named_with_a_tab_is_quoted(tmp_path: Path) -> None:
    # The tab reached the terminal, where rich turned it into spaces.
    from nativeagent.experiments.sweep import SweepError, read_sweep

    path = tmp_path / "sweep.toml"
    path.write_text('[sweep]\nname = "x"\n["a\\tb"]\ni = 1\n')
    with pytest.raises(SweepError, match=r"unknown section \['a\\tb'\]"):
        read_sweep(path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert r"['a\tb']" in error_line(["sweep", str(path), "--out", str(blocker)])


def test_sweep_base_config_whose_name_ends_in_a_tab(tmp_path: Path) -> None:
    # The path reached the terminal raw, where the tab became spaces.
    path = tmp_path / "sweep.toml"
    path.write_text('[sweep]\nconfig = "base.toml\\t"\n[grid]\n"grpo.epochs" = [2]\n')
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = error_line(["sweep", str(path), "--out", str(blocker)])
    assert line.endswith("config: file not found: " + str(tmp_path / "base.toml") + "\\t"), line


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("lr", None, "its lr is missing"),
        ("eps", None, "its eps is missing"),
        ("lr", torch.tensor([1, 1, 1]), "its lr is tensor([1, 1, 1])"),
        ("betas", (0.9, 0.5), "its betas is (0.9, 0.5)"),
    ],
)
def test_resume_with_optimizer_settings_the_config_does_not_give(
    unfinished: Path, key: str, value: object, needle: str
) -> None:
    # torch loaded them, then failed at the next step (KeyError: 'lr'; a tensor of 3 elements).
    with rewritten_checkpoint(unfinished) as state:
        (group,) = state["optimizer"]["param_groups"]
        if value is None:
            del group[key]
        else:
            group[key] = value
    before = s.tree_state(unfinished)
    line = error_line(["train", "--resume", str(unfinished), "-q"])
    assert "'optimizer' does not fit: " + needle in line and "the run's config gives" in line
    s.assert_unchanged(before, s.tree_state(unfinished), "a failed resume")


@pytest.mark.parametrize("key", ["step", "exp_avg"])
def test_resume_with_an_optimizer_moment_of_another_shape(unfinished: Path, key: str) -> None:
    # A step count of 3 elements: "a Tensor with 3 elements cannot be converted to Scalar".
    with rewritten_checkpoint(unfinished) as state:
        moments = next(iter(state["optimizer"]["state"].values()))
        moments[key] = torch.tensor([1, 1, 1])
    line = error_line(["train", "--resume", str(unfinished), "-q"])
    assert f"'optimizer' does not fit: its {key} for a weight of shape" in line, line
