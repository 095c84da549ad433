"""A NaN or infinity in the loss or gradients stops training; the last good checkpoint survives."""

import sys
from pathlib import Path

import pytest
import torch

import nativeagent.algos.a2c as a2c_module
from nativeagent import cli
from nativeagent.cli.common import EXIT_NONFINITE
from nativeagent.config import load_config
from nativeagent.training.checkpoint import load_checkpoint
from nativeagent.training.train import NonFiniteError, train

OVERRIDES = ["train.max_updates=40", "train.checkpoint_every=5", "train.final_eval_episodes=10"]


def poison_at(update: int, monkeypatch: pytest.MonkeyPatch, where: str = "loss") -> None:
    """Make the loss (or only the gradients) non-finite on the given update (1-based)."""
    real, calls = a2c_module.a2c_loss, [0]

    def a2c_loss(ro, w):  # type: ignore[no-untyped-def]
        calls[0] += 1
        loss, parts = real(ro, w)
        if calls[0] == update:
            if where == "loss":
                loss, parts = loss * float("nan"), {**parts, "loss": float("nan")}
            else:  # the loss stays finite; the gradients flowing into the values become inf
                ro.value.register_hook(lambda g: g + float("inf"))
        return loss, parts

    monkeypatch.setattr(a2c_module, "a2c_loss", a2c_loss)


def train_argv(out: Path) -> list[str]:
    """``nativeagent train`` into ``out`` with the small settings of this file."""
    return [
        "nativeagent",
        "train",
        "-q",
        "--out",
        str(out),
        *(a for o in OVERRIDES for a in ("--set", o)),
    ]


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_nonfinite_stops_before_the_bad_step(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_at(13, monkeypatch, where)
    with pytest.raises(NonFiniteError, match=f"non-finite {where} at update 13"):
        train(load_config(overrides=OVERRIDES), tmp_path)
    good = load_checkpoint(tmp_path)
    assert good["update"] == 10
    assert all(torch.isfinite(v).all() for v in good["model"].values())
    assert not (tmp_path / "result.json").exists()
    # The run goes on from its last good checkpoint once the cause is gone.
    monkeypatch.undo()
    result = train(load_config(overrides=OVERRIDES), tmp_path, resume=True)
    assert result["updates"] <= 40


def test_cli_exit_code_and_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    poison_at(7, monkeypatch)
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", train_argv(out))
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == EXIT_NONFINITE == 3
    assert "non-finite loss at update 7" in err and len(err.strip().splitlines()) == 1
    assert load_checkpoint(out)["update"] == 5


def test_a_failed_write_is_one_line_and_keeps_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nativeagent.training.checkpoint as checkpoint_module

    real, calls = checkpoint_module.atomic_write_bytes, [0]

    def disk_full_on_third(path: Path, data: bytes) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", disk_full_on_third)
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", train_argv(out))
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2 and "No space left on device" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert load_checkpoint(out)["update"] == 5  # writes 1 and 2 (updates 0, 5) are intact
