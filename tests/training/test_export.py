"""Shareable agents: ``nativeagent export`` writes safetensors, JSON and a model card; eval,
explain and ``nativeagent.load`` read it without unpickling anything."""

import json
import pickle
from pathlib import Path

import pytest
import torch

import nativeagent
from nativeagent.errors import RunDirError
from nativeagent.training.export import CONFIG, FORMAT, MODEL_CARD, WEIGHTS, export_run
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def export_dir(solved_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_run(solved_run, tmp_path_factory.mktemp("export") / "agent")


def test_export_writes_weights_config_and_card(export_dir: Path, solved_run: Path) -> None:
    assert sorted(p.name for p in export_dir.iterdir()) == sorted([WEIGHTS, CONFIG, MODEL_CARD])
    content = json.loads((export_dir / CONFIG).read_text())
    result = json.loads((solved_run / "result.json").read_text())
    assert content["format"] == FORMAT and content["result"] == result
    assert content["command"] == "nativeagent train --out run" == result["command"]
    card = (export_dir / MODEL_CARD).read_text()
    assert card.startswith("---\nlibrary_name: nativeagent\n")
    for s in ("0", "1", "2"):
        low, high = result["interval"][s]
        assert f"| {result['accuracy'][s]:.3f} | [{low:.3f}, {high:.3f}] |" in card
    assert "`(a*b+c)-(d*e)`" in card and "`canonical`" in card
    assert "nativeagent train --out run" in card
    assert 'name = "canonical"' in card  # the full config, as TOML


def test_an_export_loads_to_the_same_agent(export_dir: Path, solved_run: Path) -> None:
    run, shared = nativeagent.load(solved_run), nativeagent.load(export_dir)
    a, b = run.model.state_dict(), shared.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert shared.config == run.config
    assert shared.solve(2, [4, 2, 7, 3, 5]) == run.solve(2, [4, 2, 7, 3, 5])
    assert {k: v.correct for k, v in shared.evaluate(200).items()} == {
        k: v.correct for k, v in run.evaluate(200).items()
    }


def test_loading_an_export_never_unpickles(
    export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert nativeagent.load(export_dir).solve(0, [4, 2, 7]).answer == 15


def test_eval_and_explain_read_an_export(
    export_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["eval", str(export_dir), "--episodes", "100", "--json"], capsys)
    assert code == 0 and set(json.loads(out)["accuracy"]) == {"0", "1", "2"}
    code, out, _ = run_cli(["explain", str(export_dir), "--stage", "0", "-n", "2"], capsys)
    assert code == 0 and out.count("ctx=[") == 2


def test_export_command_and_its_errors(
    solved_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shared"
    code, text, _ = run_cli(["export", str(solved_run), str(out)], capsys)
    assert code == 0 and "exported" in text and (out / WEIGHTS).is_file()
    code, _, err = run_cli(["export", str(solved_run), str(out)], capsys)
    assert code == 2 and "is not empty" in err and "Traceback" not in err
    assert run_cli(["export", str(solved_run), str(out), "--overwrite"], capsys)[0] == 0
    code, _, err = run_cli(["export", str(tmp_path / "none"), str(tmp_path / "x")], capsys)
    assert code == 2 and "not a finished nativeagent run" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]  # nothing half-written
    # --overwrite replaces an export only: a run, or a folder of other files, is never deleted.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = run_cli(["export", str(solved_run), str(other), "--overwrite"], capsys)
    assert code == 2 and "not an export" in err and (other / "notes.txt").read_text() == "mine"
    for target in (solved_run, solved_run.parent):
        code, _, err = run_cli(["export", str(solved_run), str(target), "--overwrite"], capsys)
        assert code == 2 and "holds the run" in err
    assert (solved_run / "checkpoint.pt").is_file()


def test_a_damaged_export_is_a_one_line_error(
    export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (CONFIG, MODEL_CARD):
        (broken / name).write_text((export_dir / name).read_text())
    (broken / WEIGHTS).write_bytes((export_dir / WEIGHTS).read_bytes()[:500])
    with pytest.raises(RunDirError, match="cannot load"):
        nativeagent.load(broken)
    code, _, err = run_cli(["eval", str(broken)], capsys)
    assert code == 2 and "cannot load" in err and "Traceback" not in err
    (broken / WEIGHTS).write_bytes((export_dir / WEIGHTS).read_bytes())
    (broken / CONFIG).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RunDirError, match="not a nativeagent export"):
        nativeagent.load(broken)


def test_hub_mixin_reads_and_writes_exports_offline(
    export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from nativeagent.hub import HubAgent

    hub = HubAgent.from_pretrained(export_dir, strict=True)
    ours = nativeagent.load(export_dir).model.state_dict()
    theirs = hub.policy.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert hub.agent().solve(1, [4, 2, 7, 3]).correct
    again = tmp_path / "again"
    hub.save_pretrained(again)
    assert json.loads((again / CONFIG).read_text()) == json.loads((export_dir / CONFIG).read_text())
    assert (again / MODEL_CARD).read_text().startswith("---\nlibrary_name: nativeagent")
    assert nativeagent.load(again).solve(2, [4, 2, 7, 3, 5]).correct
