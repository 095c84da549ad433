"""``nativeagent study``: study files expanded and refused, and a real study on a local Ray whose
evaluations are exactly what ``nativeagent eval`` prints, with its outputs, ``--summary`` and
``--resume``."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomllib
from typer.testing import CliRunner

from nativeagent.experiments import study as st
from nativeagent.experiments import sweep
from nativeagent.experiments.study.evaluate import SETS_DIR, build_sets, eval_path

#: Tiny runs of the generalization preset on 2-3 operands (its task set, 17 shapes).
TINY = [
    "task.all_reachable=3",
    "train.max_updates=30",
    "train.batch_size=32",
    "train.eval_every=30",
    "train.eval_episodes=16",
    "train.final_eval_episodes=64",
]
STUDY = f"""
[study]
name = "tiny"
preset = "generalization"
overrides = {json.dumps(TINY)}
splits = [0, 1]
seeds = [3]
[variants.mlp]
description = "the preset"
[variants.gru]
overrides = ['model.kind="gru"']
[[sets]]
kind = "held-out"
[[sets]]
kind = "every"
operands = 4
episodes = 300
seed = 5
[[sets]]
kind = "sample"
operands = 7
sample = 12
episodes = 48
[resources]
max_concurrent = 2
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def cli(*args: str) -> Any:
    from nativeagent.cli import app

    return CliRunner().invoke(app, ["study", *args])


# --- study files ----------------------------------------------------------------------------


def test_variants_times_splits_times_seeds(tmp_path: Path) -> None:
    s = st.read_study(write(tmp_path / "tiny.toml", STUDY))
    assert [t.id for t in s.sweep.trials] == [
        "mlp/split0/seed3",
        "mlp/split1/seed3",
        "gru/split0/seed3",
        "gru/split1/seed3",
    ]
    gru1 = s.sweep.trials[3].config
    assert gru1["model"]["kind"] == "gru" and gru1["task"]["split_seed"] == 1
    assert gru1["train"]["max_updates"] == 30 and gru1["train"]["seed"] == 3
    assert s.sweep.trials[0].config["model"]["kind"] == "mlp"
    assert [(e.name, e.kind, e.operands, e.sample, e.episodes, e.seed) for e in s.sets] == [
        ("held-out", "held-out", None, None, None, None),
        ("4-operands", "every", 4, None, 300, 5),
        ("7-operands", "sample", 7, 12, 48, 2024),
    ]


def test_a_set_of_given_expressions(tmp_path: Path) -> None:
    text = STUDY + "[[sets]]\nkind = 'expressions'\nexpressions = ['a*b+c', 'a-b, (a+b)*c*d']\n"
    s = st.read_study(write(tmp_path / "given.toml", text))
    given = s.sets[-1]
    assert (given.name, given.operands, given.episodes, given.seed) == (
        "expressions",
        4,
        1000,
        2024,
    )
    assert given.expressions == ["a*b+c", "a-b", "(a+b)*c*d"]
    built = build_sets(s.sweep.specs(tmp_path / "out"), s.sets, tmp_path / "out")
    (key,) = [k for k in built if k.set_name == "expressions"]
    assert built[key] == given.expressions


def test_the_project_studies_are_valid() -> None:
    gen = st.read_study(Path("configs/studies/generalization.toml"))
    assert list(gen.variants) == ["preset", "gru+read-head", "extended"]
    assert len(gen.sweep.trials) == 3 * 3 * 5
    assert [e.name for e in gen.sets] == [
        "held-out",
        *(f"{n}-operands" for n in (5, 6, 8, 10, 12)),
    ]
    ablation = st.read_study(Path("configs/studies/ablation.toml"))
    assert len(ablation.sweep.trials) == len(ablation.variants) * 3
    assert "previous" in ablation.variants and "coupled" in ablation.variants


BAD = [
    ("[studdy]\n", "unknown section [studdy]"),
    ("[study]\nnmae = 'x'\n", "[study] nmae: unknown key"),
    ("[study]\nseeds = [1, 1]\n", "[study] seeds: 1 is listed twice"),
    ("[study]\nsplits = [0]\nn_splits = 2\n", "give splits or n_splits, not both"),
    ("[study]\noverrides = ['task.split_seed=2']\n", "task.split_seed: set by the study"),
    ("[variants.a]\noverrides = ['train.seed=3']\n", "[variants.a] overrides: train.seed"),
    ("[variants.a]\noverides = []\n", "[variants.a] overides: unknown key"),
    ("[variants.'a b']\n", "a variant's name is letters"),
    ("[variants.a]\noverrides = ['model.kind=3']\n", "configuration a: invalid config: model.kind"),
    ("[variants]\n", "[variants] is empty"),
    ("[[sets]]\nkind = 'all'\n", "[[sets]] #1 kind"),
    ("[[sets]]\nkind = 'every'\n", '[[sets]] #1 operands: kind = "every" needs operands'),
    ("[[sets]]\nkind = 'every'\noperands = 7\n", '[[sets]] #1 operands: kind = "every" lists'),
    ("[[sets]]\nkind = 'sample'\noperands = 7\n", '[[sets]] #1 sample: kind = "sample" needs'),
    ("[[sets]]\nkind = 'held-out'\noperands = 3\n", "[[sets]] #1 operands: not used"),
    (
        "[[sets]]\nkind = 'every'\noperands = 3\n[[sets]]\nkind = 'sample'\noperands = 3\n"
        "sample = 2\n",
        "[[sets]] #2 name: '3-operands' is used twice",
    ),
    ("[[sets]]\nkind = 'sample'\noperands = 9\nsample = 5\nepisodes = 0\n", "#1 episodes"),
    ("[[sets]]\nkind = 'expressions'\n", '#1 expressions: kind = "expressions" needs'),
    ("[[sets]]\nkind = 'expressions'\nexpressions = ['a+']\n", "#1 expressions: "),
    ("[[sets]]\nkind = 'every'\noperands = 3\nexpressions = ['a']\n", "#1 expressions: only"),
    (
        "[[sets]]\nkind = 'expressions'\nexpressions = ['a*b', 'a*(b+c)']\n",
        "configuration base: expression a*(b+c)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_study_files_give_one_line_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    base = "[study]\npreset = 'generalization'\n" if "[study]" not in text else ""
    path = write(tmp_path / "bad.toml", base + text)
    result = cli(str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_a_study_the_runs_cannot_serve_is_refused(tmp_path: Path) -> None:
    held = write(tmp_path / "held.toml", "[[sets]]\nkind = 'held-out'\n")  # default preset
    result = cli(str(held))
    assert result.exit_code == 2 and "holds no shapes out" in result.output
    blind = write(tmp_path / "blind.toml", "[[sets]]\nkind = 'every'\noperands = 3\n")
    result = cli(str(blind))
    assert result.exit_code == 2 and "does not read the expression" in result.output
    for args, words in [
        ([str(tmp_path / "none.toml")], "study file not found"),
        ([str(tmp_path)], "is a directory: give a study file, or --summary"),
        ([str(tmp_path), "--summary"], "holds no study (no plan.json)"),
        ([str(tmp_path / "nope"), "--summary"], "does not exist"),
        ([str(held), "--summary", "--resume"], "--summary takes only"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2 and words in result.output, (args, result.output)


# --- a real study on a local Ray ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(local_ray: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny study, run to its end by the command (on the module's Ray)."""
    root = tmp_path_factory.mktemp("study")
    out = root / "out"
    result = cli(str(write(root / "tiny.toml", STUDY)), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def eval_json(run_dir: Path, *args: str) -> dict[str, Any]:
    """What ``nativeagent eval RUN ARGS --json`` prints."""
    from nativeagent.cli import app

    result = CliRunner().invoke(app, ["eval", str(run_dir), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_every_evaluation_is_what_eval_prints(tiny: Path) -> None:
    plan = json.loads((tiny / st.PLAN).read_text())
    assert len(plan["trials"]) == 4
    for t in plan["trials"]:
        run_dir = tiny / t["run_dir"]
        sets = {e.name: e for e in st.collect(tiny).sets}
        four = json.loads(eval_path(run_dir, sets["4-operands"]).read_text())
        seven = json.loads(eval_path(run_dir, sets["7-operands"]).read_text())
        want4 = eval_json(run_dir, "--operands", "4", "--episodes", "300", "--seed", "5")
        want7 = eval_json(run_dir, "--operands", "7", "--sample", "12", "--episodes", "48")
        for got, want in ((four, want4), (seven, want7)):
            assert got["accuracy"] == want["overall"]["accuracy"]
            assert got["interval"] == want["overall"]["interval"]
            assert {e: c / n for e, (c, n) in got["expressions"].items()} == {
                e: v["accuracy"] for e, v in want["expressions"].items()
            }
        held = json.loads(eval_path(run_dir, sets["held-out"]).read_text())
        result = json.loads((run_dir / "result.json").read_text())
        assert held["accuracy"] == result["held_out"]["accuracy"]
        assert held["expressions"] == result["held_out"]["tasks"]


def test_sets_are_built_once_and_shared_by_every_variant(tiny: Path) -> None:
    files = sorted(p.name for p in (tiny / SETS_DIR).iterdir())
    assert len(files) == 2, files  # one machine and step limit: one file per set
    seven = json.loads((tiny / SETS_DIR / next(f for f in files if f.startswith("7-"))).read_text())
    assert len(seven) == 12
    for run in json.loads((tiny / st.STUDY_JSON).read_text())["runs"]:
        assert list(run["evaluations"]["7-operands"]["expressions"]) == seven


def test_the_summary_is_the_runs_numbers(tiny: Path) -> None:
    study = json.loads((tiny / st.STUDY_JSON).read_text())
    assert study["command"].startswith("nativeagent study ")
    assert [r["status"] for r in study["runs"]] == ["scored"] * 4
    rows = {r["variant"]: r for r in csv.DictReader((tiny / st.SUMMARY_CSV).open())}
    assert list(rows) == ["mlp", "gru"]
    for variant, row in rows.items():
        runs = [r for r in study["runs"] if r["variant"] == variant]
        held = [r["evaluations"]["held-out"]["accuracy"] for r in runs]
        seven = [r["evaluations"]["7-operands"]["accuracy"] for r in runs]
        assert float(row["held-out_mean"]) == pytest.approx(sum(held) / 2)
        assert float(row["held-out_worst"]) == min(held)
        assert float(row["7-operands_low"]) <= float(row["7-operands_mean"])
        assert float(row["7-operands_mean"]) <= float(row["7-operands_high"])
        assert float(row["7-operands_mean"]) == pytest.approx(sum(seven) / 2)
        solved = sum(r["result"]["solved"] for r in runs)
        assert int(row["solved"]) == solved and int(row["runs"]) == 2
    md = (tiny / st.SUMMARY_MD).read_text()
    assert "| variant | what differs | runs | seen solved | held-out: mean (worst) |" in md
    assert '`model.kind="gru"`' in md and "## Length curves" in md
    assert (tiny / st.LENGTH_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def digest(out: Path) -> dict[str, str]:
    names = (st.STUDY_JSON, st.SUMMARY_MD, st.SUMMARY_CSV)
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names}


def test_summary_rebuilds_the_outputs_from_the_directory_alone(tiny: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(tiny, moved)
    for name in (st.STUDY_JSON, st.SUMMARY_MD, st.SUMMARY_CSV, st.LENGTH_PNG, "study.html"):
        (moved / name).unlink()
    result = cli(str(moved), "--summary")
    assert result.exit_code == 0, result.output
    assert digest(moved) == digest(tiny)
    assert (moved / "study.html").exists() and (moved / st.LENGTH_PNG).exists()


def test_a_finished_run_or_evaluation_is_never_redone(tiny: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    shutil.copytree(tiny, again)
    evals = sorted(again.glob("trials/*/*/*/evals/*.json"))
    assert len(evals) == 4 * 3
    # One evaluation lost: only it is scored again, by the same run, and nothing is trained.
    lost = evals[5]
    kept = {p: p.stat().st_mtime_ns for p in evals if p != lost}
    before = lost.read_text()
    lost.unlink()
    result = cli(str(Path(tiny.parent / "tiny.toml")), "--out", str(again), "--resume")
    assert result.exit_code == 0, result.output
    assert "4 runs, 3 already done" in result.output
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert json.loads(lost.read_text()) | {"wall_s": 0} == json.loads(before) | {"wall_s": 0}
    for run_dir in again.glob("trials/*/*/seed*"):
        assert len(sweep.attempts(run_dir)) == 1  # trained once, never again
        assert len(sweep.attempts(run_dir, sweep.COMPLETIONS)) == 1


def test_the_page_in_a_browser(tiny: Path, tmp_path: Path) -> None:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does this)")
    page = (tiny / "study.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120
    ).stdout
    study = json.loads((tiny / st.STUDY_JSON).read_text())
    assert "Study <code>tiny</code>" in dom and "4 of 4 runs finished" in dom
    assert '<img src="data:image/png;base64,' in dom
    rows = {r["variant"]: r for r in csv.DictReader((tiny / st.SUMMARY_CSV).open())}
    for variant, row in rows.items():
        start = dom.index(f'id="curve-{variant}"')
        cells = dom[start : dom.index("</tr>", start)]
        assert f"{float(row['7-operands_mean']):.3f}" in cells
    for run in study["runs"]:
        assert f"{run['evaluations']['4-operands']['accuracy']:.3f}" in dom
    shot = tmp_path / "page.png"
    subprocess.run(
        [exe, *flags, f"--screenshot={shot}", "--window-size=1200,1800", page],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 20_000  # drawn, not blank


def test_the_study_copy_is_the_file_given(tiny: Path) -> None:
    copy = tomllib.loads((tiny / st.STUDY_COPY).read_text())
    assert copy["study"]["name"] == "tiny" and len(copy["sets"]) == 3
