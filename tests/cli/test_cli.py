"""The command line, run as a user would: train, eval and explain on a tiny config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nativeagent.cli import app

TINY = [
    "--set", "train.max_updates=30",
    "--set", "train.eval_every=10",
    "--set", "train.eval_episodes=32",
    "--set", "train.final_eval_episodes=50",
    "--set", "train.threads=1",
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nativeagent", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = run("train", "--seed", "3", "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "update=10 stage=" in proc.stdout and "| eval T0=" in proc.stdout
    assert "greedy accuracy" in proc.stdout
    return out


def test_train_writes_the_run_files(run_dir: Path) -> None:
    result = json.loads((run_dir / "result.json").read_text())
    assert result["seed"] == 3 and result["updates"] <= 30
    assert set(result["accuracy"]) == {"0", "1", "2"}
    assert (run_dir / "checkpoint.pt").is_file()
    assert json.loads((run_dir / "config.json").read_text())["train"]["seed"] == 3
    first = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert first["update"] == 10 and "eval" in first


def test_eval_json_and_table(run_dir: Path) -> None:
    proc = run("eval", str(run_dir), "--episodes", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["accuracy"]) == {"0", "1", "2"}
    assert all(row["episodes"] == 40 for row in data["stages"])
    table = run("eval", str(run_dir), "--episodes", "40")
    assert table.returncode == 0 and "95% interval" in table.stdout


def test_explain_prints_traces(run_dir: Path) -> None:
    proc = run("explain", str(run_dir), "--stage", "2", "-n", "3")
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stdout.splitlines() if x.strip().startswith("ctx=[")]
    assert len(lines) == 3 and all("target=" in x and " | " in x for x in lines)


def test_refuses_to_overwrite_a_run(run_dir: Path) -> None:
    proc = run("train", "--out", str(run_dir), *TINY)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--set", "algo.lr=-1"], "algo.lr"),
        (["train", "--set", "algo.bogus=1"], "algo.bogus: unknown key"),
        (["train", "--set", "nonsense"], "section.key=value"),
        (["train", "--preset", "fast"], "unknown preset"),
        (["train", "--config", "/nonexistent.toml"], "config file not found"),
        (["train", "--device", "cuda"], "cuda"),
        (["train", "--device", "tpu"], "train.device"),
        (["eval", "/nonexistent-run"], "no checkpoint"),
        (["explain", "/nonexistent-run"], "no checkpoint"),
    ],
)
def test_user_mistakes_get_one_line_errors(args: list[str], needle: str, tmp_path: Path) -> None:
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x").exists()


def test_bad_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "cannot load checkpoint" in result.stderr


def test_explain_rejects_bad_stage(run_dir: Path) -> None:
    proc = run("explain", str(run_dir), "--stage", "5")
    assert proc.returncode == 2 and "--stage must be one of 0, 1, 2" in proc.stderr


def test_solve_prints_programs_and_reasons() -> None:
    out = CliRunner().invoke(app, ["solve", "a*b+c", "(a*b+c)-d", "(a*b+c)-(d*e)"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "a*b+c: MUL ADD ANS (3 tools, unique shortest)",
        "(a*b+c)-d: MUL ADD SUB ANS (4 tools, unique shortest)",
        "(a*b+c)-(d*e): MUL ADD STO MUL RCL SUB ANS (7 tools, unique shortest)",
    ]
    bad = CliRunner().invoke(app, ["solve", "a*(b+c)"])
    assert bad.exit_code == 1 and "a*(b+c): not computable: no program of any length" in bad.stdout
    as_json = CliRunner().invoke(app, ["solve", "--json", "a-(b-c)", "a*(b+c)"])
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert records[0]["program"] == ["SUB", "ADD", "ANS"] and records[0]["length"] == 3
    assert records[1]["reachable"] is False and records[1]["program"] is None


def test_solve_rejects_a_malformed_expression_in_one_line() -> None:
    proc = run("solve", "a*(b+")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (
        "error: bad expression 'a*(b+': expected an operand or '(' but the expression ended "
        "at position 6"
    )


def test_expressions_lists_all_or_a_seeded_sample() -> None:
    listed = CliRunner().invoke(app, ["expressions", "--operands", "3"])
    lines = listed.stdout.splitlines()
    assert listed.exit_code == 0 and len(lines) == 14
    assert "a-(b-c)          SUB ADD ANS" in lines
    sample = CliRunner().invoke(app, ["expressions", "--operands", "4", "--sample", "3"])
    again = CliRunner().invoke(app, ["expressions", "--operands", "4", "--sample", "3"])
    assert sample.stdout == again.stdout and len(sample.stdout.splitlines()) == 3
    too_many = CliRunner().invoke(app, ["expressions", "--operands", "2", "--sample", "9"])
    assert too_many.exit_code == 2 and "found 3 distinct expressions" in too_many.stderr


def test_expressions_draws_any_length_with_programs_and_kinds() -> None:
    from nativeagent.tasks.execution import execute

    args = ["expressions", "--operands", "12", "--sample", "6", "--machine", "extended"]
    drawn = CliRunner().invoke(app, args)
    assert drawn.exit_code == 0, drawn.stderr
    lines = drawn.stdout.splitlines()
    assert len(lines) == 6
    for line in lines:
        shown, kind = line.rsplit("  (", 1)
        expression, *program = shown.split()
        assert kind in ("memory)", "in order)", "rewritten)")
        digits = [*range(1, 10), 2, 3, 4]
        assert execute(program, digits, expression, "extended", max_steps=36).correct
    assert "6 expressions over 12 operands on extended, programs of at most 36 tools" in (
        drawn.stderr
    )
    listing = CliRunner().invoke(app, ["expressions", "--operands", "8"])
    assert listing.exit_code == 2 and "add --sample" in listing.stderr


def test_train_eval_explain_a_task_curriculum_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "tasks.toml"
    config.write_text(
        '[task]\ncurriculum = [["a*b", "a-b"]]\nheld_out_expressions = ["a+b"]\n'
        'show_expression = true\n[model]\nencoder = "gru"\n'
    )
    out = tmp_path / "run"
    proc = run("train", "--config", str(config), "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "held-out=" in proc.stdout and "held-out │ a+b" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert set(result["accuracy"]) == {"0"} and result["held_out"]["tasks"].keys() == {"a+b"}
    shown = CliRunner().invoke(app, ["explain", str(out), "--stage", "-1", "-n", "2"])
    assert shown.exit_code == 0 and shown.stdout.startswith("held-out: a+b\n")
    assert len(shown.stdout.splitlines()) == 3
    table = CliRunner().invoke(app, ["eval", str(out), "--episodes", "20", "--json"])
    stages = json.loads(table.stdout)["stages"]
    assert [s["stage"] for s in stages] == [0, "held-out"]
    unreachable = tmp_path / "bad.toml"
    unreachable.write_text('[task]\ncurriculum = ["a*(b+c)"]\n')
    proc = run("train", "--config", str(unreachable), "--out", str(tmp_path / "bad"))
    assert proc.returncode == 2 and "task.curriculum[0]: no program of any length" in proc.stderr
    assert not (tmp_path / "bad").exists()
