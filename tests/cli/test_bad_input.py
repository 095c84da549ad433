"""Bad input of every kind gets a one-line error naming the problem: no traceback, no files.

Each CLI case runs the real entry point (``nativeagent.cli.main``) in-process and checks the
exit code, that stderr is exactly one line containing the expected words, and that nothing new
appeared on disk. ``execute`` cases check the ``ValueError`` message.
"""

from pathlib import Path

import pytest
import torch

from nativeagent import execute
from nativeagent.config import load_config
from nativeagent.training.train import train
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad") / "done"
    cfg = load_config(overrides=["train.max_updates=3", "train.final_eval_episodes=10"])
    train(cfg, out)
    return out


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, _, err = run_cli(args, capsys)
    return code, err


def prepare(case: str, tmp: Path, finished: Path) -> list[str]:
    """Arguments for one bad-input case, creating whatever files it needs under ``tmp``."""
    out = str(tmp / "new-run")
    if case == "bad_toml":
        (tmp / "bad.toml").write_text("[algo\nlr =")
    if case == "unknown_section":
        (tmp / "extra.toml").write_text("[optimizer]\nlr = 0.1\n")
    if case == "out_is_file":
        (tmp / "afile").write_text("x")
    if case in ("truncated_ckpt", "foreign_ckpt", "resume_no_ckpt"):
        (tmp / "run").mkdir()
    if case == "truncated_ckpt":
        data = (finished / "checkpoint.pt").read_bytes()
        (tmp / "run" / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    if case == "foreign_ckpt":
        torch.save({"weights": torch.zeros(3)}, tmp / "run" / "checkpoint.pt")
    return {
        "unknown_flag": ["train", "--bogus"],
        "flag_wrong_type": ["train", "--seed", "abc", "--out", out],
        "missing_argument": ["eval"],
        "unknown_command": ["fly"],
        "episodes_zero": ["eval", str(finished), "--episodes", "0"],
        "value_out_of_range": ["train", "--set", "algo.lr=-1", "--out", out],
        "unknown_key": ["train", "--set", "algo.bogus=1", "--out", out],
        "override_syntax": ["train", "--set", "algo.lr", "--out", out],
        "wrong_value_type": ["train", "--set", "train.batch_size=many", "--out", out],
        "bad_choice": ["train", "--set", "machine.name=abacus", "--out", out],
        "missing_config": ["train", "--config", str(tmp / "nope.toml"), "--out", out],
        "bad_toml": ["train", "--config", str(tmp / "bad.toml"), "--out", out],
        "unknown_section": ["train", "--config", str(tmp / "extra.toml"), "--out", out],
        "unknown_preset": ["train", "--preset", "fast", "--out", out],
        "cuda_missing": ["train", "--device", "cuda", "--out", out],
        "existing_run": ["train", "--out", str(finished)],
        "out_is_file": ["train", "--out", str(tmp / "afile")],
        "resume_with_options": ["train", "--resume", str(finished), "--seed", "1"],
        "resume_finished": ["train", "--resume", str(finished)],
        "resume_no_ckpt": ["train", "--resume", str(tmp / "run")],
        "missing_run": ["eval", str(tmp / "nowhere")],
        "truncated_ckpt": ["eval", str(tmp / "run")],
        "foreign_ckpt": ["explain", str(tmp / "run")],
        "bad_stage": ["explain", str(finished), "--stage", "5"],
    }[case]


CASES = {
    "unknown_flag": "No such option: --bogus",
    "flag_wrong_type": "Invalid value for '--seed'",
    "missing_argument": "Missing argument",
    "unknown_command": "No such command",
    "episodes_zero": "'--episodes'",
    "value_out_of_range": "algo.lr: Input should be greater than 0",
    "unknown_key": "algo.bogus: unknown key",
    "override_syntax": "section.key=value",
    "wrong_value_type": "train.batch_size",
    "bad_choice": "machine.name",
    "missing_config": "config file not found",
    "bad_toml": "not valid TOML",
    "unknown_section": "optimizer: unknown key",
    "unknown_preset": "unknown preset 'fast'",
    "cuda_missing": "CUDA is not available",
    "existing_run": "already holds a run",
    "out_is_file": "is not a directory",
    "resume_with_options": "give no other options",
    "resume_finished": "already finished",
    "resume_no_ckpt": "no checkpoint",
    "missing_run": "no checkpoint",
    "truncated_ckpt": "cannot load checkpoint",
    "foreign_ckpt": "not a nativeagent checkpoint",
    "bad_stage": "--stage must be one of 0, 1, 2 for this run, got 5",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_bad_input(
    case: str, tmp_path: Path, finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if case == "cuda_missing" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    args = prepare(case, tmp_path, finished)
    before, finished_before = _files(tmp_path), _files(finished)
    code, err = run_main(args, capsys)
    assert code == 2, err
    assert CASES[case] in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert _files(tmp_path) == before and _files(finished) == finished_before


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"program": [99]}, "outside the vocabulary"),
        ({"program": ["JUMP"]}, "unknown token 'JUMP'"),
        ({"program": "MUL ADD"}, "program must be a sequence"),
        ({"context": [1, 2]}, "needs a context of 3 digits"),
        ({"context": [1, 2.5, 3]}, "digits must be ints 0..9"),
        ({"context": [1, 12, 3]}, "digits must be ints 0..9"),
        ({"stage": 3}, "stage must be 0..2"),
        ({"stage": "0"}, "constant '0' is not supported"),  # a string is an expression
        ({"machine": "abacus"}, "unknown machine"),
        ({"max_steps": 0}, "max_steps must be a positive int"),
    ],
)
def test_execute_bad_input(kwargs: dict, needle: str) -> None:
    args = {"program": ["MUL", "ADD", "ANS"], "context": [1, 2, 3], "stage": 0} | kwargs
    with pytest.raises(ValueError) as info:
        execute(**args)
    assert needle in str(info.value) and "\n" not in str(info.value)
