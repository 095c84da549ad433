"""``nativeagent eval RUN --expressions … | --operands N [--sample K]``: a trained agent on any
expression set, through the real entry point (one-line errors, exit code 2, no traceback)."""

import json
from pathlib import Path

import pytest

from nativeagent.config import load_config
from nativeagent.training.train import train
from tests.helpers import run_cli

TINY = [
    "train.max_updates=3",
    "train.batch_size=32",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def task_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few updates of the generalization preset: canonical, task mode, up to 4 operands."""
    out = tmp_path_factory.mktemp("eval-expr") / "task"
    train(load_config(preset="generalization", overrides=[*TINY, "model.d_model=16"]), out)
    return out


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few updates of the default preset, whose agent does not read the expression."""
    out = tmp_path_factory.mktemp("eval-expr") / "plain"
    train(load_config(overrides=TINY), out)
    return out


run_main = run_cli


def test_json_schema_and_episodes_per_expression(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", str(task_run), "--json", "--episodes", "50"]
    code, out, err = run_main(
        [*args, "--expressions", "a*b+c,a-b", "--expressions", "(a*b+c)-(d*e) a*b"], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    progress = {"finished", "update", "max_updates", "training_process"}  # how far training got
    assert set(data) == {"overall", "expressions", "machine", "max_steps", *progress}
    assert data["finished"] is True and data["training_process"] is None
    overall = data["overall"]
    assert set(overall) == {"accuracy", "interval", "episodes"} and overall["episodes"] == 50
    low, high = overall["interval"]
    assert 0.0 <= low <= overall["accuracy"] <= high <= 1.0 + 1e-9
    assert list(data["expressions"]) == ["a*b+c", "a-b", "(a*b+c)-(d*e)", "a*b"]
    assert [v["episodes"] for v in data["expressions"].values()] == [13, 13, 12, 12]
    assert all(set(v) == {"accuracy", "episodes"} for v in data["expressions"].values())
    assert (data["machine"], data["max_steps"]) == ("canonical", 10)  # 5 operands, trained 4


def test_operands_five_raises_the_step_limit(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        ["eval", str(task_run), "--json", "--operands", "5", "--episodes", "700"], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["max_steps"] >= 10 and len(data["expressions"]) == 700
    assert all(v["episodes"] == 1 for v in data["expressions"].values())


def test_a_sample_over_six_operands_is_seeded(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", str(task_run), "--json", "--operands", "6", "--sample", "12"]
    first = run_main([*args, "--episodes", "24"], capsys)
    again = run_main([*args, "--episodes", "24"], capsys)
    other = run_main([*args, "--episodes", "24", "--seed", "5"], capsys)
    assert first[0] == again[0] == other[0] == 0
    expressions = [list(json.loads(r[1])["expressions"]) for r in (first, again, other)]
    assert len(expressions[0]) == 12 and expressions[0] == expressions[1] != expressions[2]
    assert json.loads(first[1])["max_steps"] == 12
    code, out, err = run_main([*args, "--episodes", "24", "--max-steps", "10"], capsys)
    assert code == 0, err
    assert json.loads(out)["max_steps"] == 10  # the limit asked for replaces the raised one


def test_twelve_operands_draw_computable_expressions_half_of_them_needing_memory(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nativeagent.tasks.kinds import classify
    from nativeagent.tasks.task import Task

    args = ["eval", str(task_run), "--json", "--operands", "12", "--sample", "20"]
    code, out, err = run_main([*args, "--episodes", "40"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["max_steps"] == 24  # 8 * 12 / 4
    tasks = [Task.parse(e) for e in data["expressions"]]
    assert len(tasks) == 20 and all(t.n_operands == 12 for t in tasks)
    assert sum(classify(t.tree) == "memory" for t in tasks) == 10


def test_extended_machine_on_a_canonical_run(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        ["eval", str(task_run), "--json", "--machine", "extended", "--expressions", "a*(b+c)"],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["machine"] == "extended" and list(data["expressions"]) == ["a*(b+c)"]
    # its only program starts with LOAD, which a canonical agent never plays
    assert data["overall"]["accuracy"] == 0.0


def test_table_shows_overall_and_a_summary(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        ["eval", str(task_run), "--operands", "3", "--episodes", "28"], capsys
    )
    assert code == 0, err
    assert "overall" in out and "95% interval" in out and "max_steps 8" in out
    assert "14 expressions (all shown):" in out and "on 28 episodes" in out


def test_without_a_set_eval_is_unchanged(
    task_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["eval", str(task_run), "--json", "--episodes", "20"], capsys)
    assert code == 0, err
    progress = {"finished", "update", "max_updates", "training_process"}  # how far training got
    assert set(json.loads(out)) == {"accuracy", "stages", *progress}
    code, out, err = run_main(
        ["eval", str(task_run), "--json", "--episodes", "20", "--machine", "canonical"], capsys
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--expressions", "a*(b+c)*(d-e)"], "expression a*(b+c)*(d-e): no program"),
        (["--expressions", "a*b(", "--json"], "bad expression 'a*b('"),
        (["--expressions", "a*b", "--operands", "3"], "not both"),
        (["--sample", "3"], "--sample needs --operands"),
        (["--machine", "extended"], "needs --expressions or --operands"),
        (["--operands", "6"], "--sample"),
        (["--operands", "3", "--episodes", "5"], "at least 14"),
        (["--expressions", "a*b", "--machine", "seed-legacy"], "seed-legacy"),
        (["--expressions", "a*b", "--machine", "bogus"], "unknown machine 'bogus'"),
        (["--max-steps", "9"], "--max-steps needs --expressions or --operands"),
        # its shortest program has 10 tools
        (["--expressions", "(a-b)*(c+d)*(e+f)", "--max-steps", "9"], "no program"),
    ],
)
def test_mistakes_are_one_line(
    task_run: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err = run_main(["eval", str(task_run), *args], capsys)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_run_that_does_not_read_the_expression_is_refused(
    plain_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(["eval", str(plain_run), "--expressions", "a*b+c"], capsys)
    assert code == 2 and "task.show_expression" in err and "Traceback" not in err
