"""The HTML report: self-contained, escaped, honest about failures, one-line errors for bad
input, and rendered by a real headless Chromium so we check what a person would see."""

import base64
import dataclasses
import html
import io
import json
import re
import shutil
import sys
from itertools import pairwise
from pathlib import Path

import matplotlib.image
import pytest
from helpers import chromium
from typer.testing import CliRunner

from nativeagent.analysis.report import (
    build_report,
    pick_examples,
    render_report,
    timeline,
    write_report,
)
from nativeagent.cli import app
from nativeagent.config import load_config
from nativeagent.tasks import Task
from nativeagent.tokens import name as token_name
from nativeagent.training.evaluate import OPTIMALITY_NOTE
from nativeagent.training.explain import Explanation
from nativeagent.training.train import train

SMALL = [
    "train.max_updates=40",
    "train.eval_every=10",
    "train.eval_episodes=64",
    "train.final_eval_episodes=200",
    "train.threads=1",
]
SEARCH = 400


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    train(load_config(overrides=SMALL), out)
    return out


@pytest.fixture(scope="module")
def page(run_dir: Path) -> Path:
    out = run_dir.parent / "report.html"
    write_report(run_dir, out, search=SEARCH)
    return out


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def element(dom: str, tag: str, id_: str) -> str:
    match = re.search(rf'<{tag}[^>]*\bid="{id_}".*?</{tag}>', dom, re.S)
    assert match, f"no <{tag} id={id_}> in the page"
    return match.group(0)


def accuracy_row(result: dict, stage: int) -> str:
    """Stage ``stage``'s row of the accuracy table as the page should show it."""
    acc, (low, high) = result["accuracy"][str(stage)], result["interval"][str(stage)]
    return f"{acc:.3f} [{low:.3f}, {high:.3f}] {result['eval_episodes']}"


def test_page_is_self_contained_and_complete(run_dir: Path, page: Path) -> None:
    source = page.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', source), "external resource"
    assert "<link" not in source and "<script" not in source
    result = json.loads((run_dir / "result.json").read_text())
    table = text_of(element(source, "table", "accuracy"))
    for s in range(3):
        assert accuracy_row(result, s) in table
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', source)
    assert len(pngs) == 1
    img = matplotlib.image.imread(io.BytesIO(base64.b64decode(pngs[0])), format="png")
    assert img[..., :3].var() > 0.005
    assert (run_dir / "config.toml").read_text().strip() in html.unescape(source)
    examples = text_of(element(source, "section", "examples"))
    assert "Correct" in examples and "Failed" in examples and f"{SEARCH} fresh" in examples


def test_the_accuracy_table_shows_and_explains_optimality(run_dir: Path, page: Path) -> None:
    source = page.read_text()
    result = json.loads((run_dir / "result.json").read_text())
    table = text_of(element(source, "table", "accuracy"))
    for s in range(3):
        opt = result["optimality"][str(s)]
        shown = "–" if opt is None else f"{opt:.3f}"
        assert f"{accuracy_row(result, s)} {shown} " in table, table
    note = text_of(element(source, "p", "optimality-note"))
    assert note == f"O{OPTIMALITY_NOTE[1:]}."
    assert note.startswith("Optimality: the agent's program length over the solver's shortest")


def shortest(expression: str) -> str:
    """The solver's shortest program of ``expression`` as the page writes it."""
    return " · ".join(token_name(t) for t in Task.parse(expression).shortest_program() or ())


def test_a_custom_curriculum_shows_its_stages_held_out_row_and_examples(
    custom_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "custom.html"
    write_report(custom_run, out, search=40)
    source = out.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', source), "external resource"
    assert "<link" not in source and "<script" not in source
    result = json.loads((custom_run / "result.json").read_text())
    table = text_of(element(source, "table", "accuracy"))
    assert f"0 2 expressions {accuracy_row(result, 0)}" in table, table
    assert f"1 a*b+c {accuracy_row(result, 1)}" in table, table
    held = result["held_out"]
    low, high = held["interval"]
    row = text_of(element(source, "tr", "held-out"))
    acc, episodes = held["accuracy"], held["episodes"]
    assert row.startswith(f"held-out a-b {acc:.3f} [{low:.3f}, {high:.3f}] {episodes}"), row
    assert "held-out shapes" in text_of(element(source, "section", "curves"))
    assert "0 2 expressions 1–" in text_of(element(source, "table", "timeline"))

    stage0 = text_of(element(source, "div", "examples-0"))
    assert stage0.startswith("Stage 0: 2 expressions 2 expressions: a*b , a+b ."), stage0
    assert "Shortest program" not in stage0 and "expression context target" in stage0
    stage1 = text_of(element(source, "div", "examples-1"))
    assert stage1.startswith(f"Stage 1: a*b+c Shortest program {shortest('a*b+c')} ."), stage1
    held_out = text_of(element(source, "div", "examples-held-out"))
    assert held_out.startswith(f"Held-out shapes: a-b Shortest program {shortest('a-b')} .")
    assert "40 fresh episodes searched" in held_out, held_out
    assert "context target answer register trace" in held_out, held_out


def test_timeline_follows_the_promotions(run_dir: Path) -> None:
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    segments = timeline(records, 0.99)
    assert segments[0].first == 1 and segments[-1].last == records[-1]["update"]
    for a, b in pairwise(segments):
        assert b.first == a.last + 1 and b.stage == a.stage + 1
        assert a.end.startswith("promoted")
    assert len(segments) - 1 == sum(bool(r.get("promoted")) for r in records)
    assert sum(seg.episodes for seg in segments) == records[-1]["episodes"]


def test_timeline_by_hand() -> None:
    def rec(update: int, stage: int, **kw: object) -> dict:
        return {
            "update": update,
            "wall_s": update / 10,
            "episodes": 100 * update,
            "stage": stage,
            **kw,
        }

    records = [
        rec(10, 0, eval={"0": 1.0}, promoted=True),
        rec(15, 1),
        rec(20, 1, eval={"1": 0.995}, promoted=True),
        rec(30, 2, eval={"2": 0.5}, promoted=False),
    ]
    segs = timeline(records, 0.99)
    assert [(s.stage, s.first, s.last, s.episodes) for s in segs] == [
        (0, 1, 10, 1000),
        (1, 11, 20, 1000),
        (2, 21, 30, 1000),
    ]
    assert segs[1].end == "promoted: greedy T1 = 0.995 ≥ 0.99"
    assert (segs[1].wall_start, segs[1].wall_end) == (1.0, 2.0)
    assert segs[2].end == "training ended at update 30"


def fake(correct: bool, i: int) -> Explanation:
    return Explanation(0, (i, 1, 0), i, (11, 12, 14), i if correct else -1, correct, "MUL acc=0")


def test_examples_keep_both_kinds_and_say_when_none_failed(run_dir: Path) -> None:
    found = [fake(i % 3 != 0, i) for i in range(10)]  # 0, 3, 6 and 9 fail
    ex = pick_examples(0, found, 3)
    assert (ex.searched, ex.n_failed) == (10, 4)
    assert [e.context[0] for e in ex.failed] == [0, 3, 6]
    assert [e.context[0] for e in ex.correct] == [1, 2, 4]
    data = build_report(run_dir, search=20)
    all_correct = pick_examples(0, [fake(True, i) for i in range(5)], 3)
    source = render_report(dataclasses.replace(data, examples=[all_correct, *data.examples[1:]]))
    stage0 = text_of(element(source, "div", "examples-0"))
    assert "no failures in 5 episodes" in stage0 and "5 correct, 0 failed" in stage0


def test_text_is_escaped(run_dir: Path) -> None:
    data = build_report(run_dir, search=5)
    source = render_report(dataclasses.replace(data, config_text="<script>alert(1)</script>"))
    assert "<script>" not in source and "&lt;script&gt;alert(1)&lt;/script&gt;" in source


@pytest.mark.parametrize(
    ("files", "out_name", "needle"),
    [
        (None, "r.html", "does not exist"),
        ([], "r.html", "is not a nativeagent run directory (no metrics.jsonl)"),
        (["metrics.jsonl"], "r.html", "is not a finished nativeagent run (no result.json)"),
        (["empty metrics.jsonl", "result.json"], "r.html", "metrics.jsonl is empty"),
        (["metrics.jsonl", "result.json"], "r.html", "no checkpoint"),
        (["metrics.jsonl", "result.json", "checkpoint.pt"], "nowhere/r.html", "does not exist"),
    ],
)
def test_bad_input_gives_a_one_line_error(
    run_dir: Path, files: list[str] | None, out_name: str, needle: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    if files is not None:
        run.mkdir()
    for name in files or []:
        if name.startswith("empty "):
            (run / name.split()[1]).write_text("")
        else:
            shutil.copy(run_dir / name, run / name)
    out = tmp_path / out_name
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out), "--search", "5"])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists() and not list(tmp_path.glob(".r.html*"))


def test_missing_jinja2_says_how_to_install(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(run_dir), "--out", str(out), "--search", "5"])
    assert result.exit_code == 2 and (
        "the HTML report needs jinja2, a dependency of nativeagent that is not installed: "
        "pip install 'jinja2>=3.1'"
    ) in result.stderr
    assert not out.exists()


def test_chromium_shows_the_table_and_traces(run_dir: Path, page: Path, tmp_path: Path) -> None:
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    result = json.loads((run_dir / "result.json").read_text())
    table = text_of(element(dom, "table", "accuracy"))
    assert f"2 (a*b+c)-(d*e) {accuracy_row(result, 2)}" in table, table
    summary = text_of(element(dom, "section", "summary"))
    assert f"updates {result['updates']} episodes {result['episodes']:,}" in summary, summary
    examples = text_of(element(dom, "section", "examples"))
    assert "MUL acc=" in examples and "ANS ✓" in examples

    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    img = matplotlib.image.imread(str(shot))
    assert img.shape[:2] == (2000, 1200)
    assert img[..., :3].var() > 0.005, "the screenshot is (nearly) blank"
