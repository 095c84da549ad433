"""``nativeagent sweep``: sweep files and their errors, then real sweeps on a local Ray (2 CPUs).

The Ray tests share one module-scoped local Ray: a 2 x 2 sweep whose summary is checked against
the trials' ``result.json`` files, a sweep in which one trial's worker is SIGKILLed and retried
from its checkpoint, the resume of an interrupted sweep, and a trial that keeps failing.
"""

import csv
import json
import os
import shutil
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nativeagent.config import from_dict
from nativeagent.experiments import sweep
from nativeagent.experiments.sweep import SweepError, parse_sweep, read_sweep
from nativeagent.training.train import train

TINY = [
    "train.max_updates=5",
    "train.batch_size=32",
    "train.eval_every=5",
    "train.eval_episodes=16",
    "train.final_eval_episodes=16",
    "train.log_every=1",
    "train.checkpoint_every=2",
]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def cli(*args: str) -> Any:
    from nativeagent.cli import app

    return CliRunner().invoke(app, ["sweep", *args])


# --- expanding sweep files ------------------------------------------------------------------


def test_grid_is_every_combination_times_every_seed(tmp_path: Path) -> None:
    text = """
    [sweep]
    seeds = [3, 7]
    overrides = ["train.max_updates=40"]
    [grid]
    "algo.entropy_coef" = [0.01, 0.05, 0.1]
    model.kind = ["gru", "transformer"]
    """
    s = read_sweep(write(tmp_path / "g.toml", text))
    assert s.name == "g" and s.seeds == (3, 7)
    assert [c.settings for c in s.configurations] == [
        {"algo.entropy_coef": e, "model.kind": k}
        for e in (0.01, 0.05, 0.1)
        for k in ("gru", "transformer")
    ]
    assert s.configurations[1].id == "c1_entropy_coef-0.01_kind-transformer"
    assert s.configurations[1].overrides == (
        "train.max_updates=40",
        "algo.entropy_coef=0.01",
        'model.kind="transformer"',
    )
    assert len(s.trials) == 12 and len({t.id for t in s.trials}) == 12
    for t in s.trials:
        settings = next(c.settings for c in s.configurations if c.id == t.config_id)
        assert t.config["algo"]["entropy_coef"] == settings["algo.entropy_coef"]
        assert t.config["model"]["kind"] == settings["model.kind"]
        assert t.config["train"]["seed"] == t.seed and t.config["train"]["max_updates"] == 40
    assert [(t.config_id[:2], t.seed) for t in s.trials[:3]] == [("c0", 3), ("c0", 7), ("c1", 3)]
    out = tmp_path / "out"
    want = out.resolve() / "trials" / s.trials[2].config_id / "seed3"
    assert s.specs(out)[2].run_dir == str(want)


def test_no_grid_is_a_seed_sweep_of_the_base_config(tmp_path: Path) -> None:
    write(tmp_path / "base.toml", "[algo]\nlr = 0.002\n")
    text = '[sweep]\nn_seeds = 3\npreset = "tutorial"\nconfig = "base.toml"\n'
    s = read_sweep(write(tmp_path / "seeds.toml", text))
    assert [c.id for c in s.configurations] == ["c0"] and s.seeds == (0, 1, 2)
    assert all(t.config["algo"]["lr"] == 0.002 for t in s.trials)
    assert all(t.config["machine"]["name"] == "seed-legacy" for t in s.trials)  # the preset


def random_sweep(samples: int, sample_seed: int, grid: str = "") -> sweep.Sweep:
    text = f"""
    [sweep]
    search = "random"
    samples = {samples}
    sample_seed = {sample_seed}
    [random]
    "algo.lr" = {{loguniform = [1e-4, 1e-2]}}
    "algo.value_coef" = {{uniform = [0.25, 1.0]}}
    "train.batch_size" = {{randint = [2, 4]}}
    "model.kind" = ["gru", "transformer"]
    {grid}
    """
    import tomllib

    return parse_sweep(tomllib.loads(text), Path("r.toml"))


def test_random_search_draws_in_range_and_is_repeatable() -> None:
    s = random_sweep(60, 1)
    draws = [c.settings for c in s.configurations]
    assert len(draws) == 60 and s.configurations[59].id.startswith("c59_lr-")
    lrs = np.array([d["algo.lr"] for d in draws])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-2
    assert (lrs < 1e-3).sum() > 15 and (lrs > 1e-3).sum() > 15  # log-uniform: half below 1e-3
    assert all(0.25 <= d["algo.value_coef"] <= 1.0 for d in draws)
    assert {d["train.batch_size"] for d in draws} == {2, 3, 4}  # both ends included
    assert {d["model.kind"] for d in draws} == {"gru", "transformer"}
    assert [t.config["algo"]["lr"] for t in s.trials] == list(lrs)
    assert random_sweep(60, 1).configurations == s.configurations
    assert random_sweep(60, 2).configurations != s.configurations


def test_random_search_with_a_grid_runs_every_sample_at_every_grid_point() -> None:
    s = random_sweep(3, 0, '[grid]\n"algo.entropy_coef" = [0.01, 0.05]')
    assert len(s.configurations) == 6
    first, second = s.configurations[0].settings, s.configurations[1].settings
    assert first["algo.lr"] == second["algo.lr"]
    assert (first["algo.entropy_coef"], second["algo.entropy_coef"]) == (0.01, 0.05)


def test_the_example_sweep_file_is_valid() -> None:
    example = Path(__file__).parents[2] / "configs" / "sweep_example.toml"
    s = read_sweep(example)
    assert [c.id for c in s.configurations] == ["c0_entropy_coef-0.01", "c1_entropy_coef-0.05"]
    assert s.seeds == (0, 1, 2) and s.resources.max_concurrent == 2
    assert all(t.config["train"]["max_updates"] == 1500 for t in s.trials)


# --- bad input: one line, exit 2, nothing written -------------------------------------------

GOOD = '[sweep]\nseeds = [0]\n[grid]\n"algo.entropy_coef" = [0.01, 0.05]\n'


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[sweep]\nseed = 1\n", "[sweep] seed: unknown key"),
        ("[grd]\n", "unknown section [grd]"),
        ('[grid]\n"algo.entropy_coeff" = [0.1]\n', "[grid] 'algo.entropy_coeff': unknown key"),
        ('[grid]\n"algos.lr" = [0.1]\n', "[grid] 'algos.lr': not a section.key setting"),
        ('[grid]\n"algo.lr" = 0.1\n', "[grid] 'algo.lr': needs a non-empty list of values"),
        ('[grid]\n"algo.lr" = []\n', "[grid] 'algo.lr': needs a non-empty list"),
        (
            '[grid]\n"algo.entropy_coef" = [0.05, -1]\n',
            "configuration c1_entropy_coef--1: invalid config: algo.entropy_coef",
        ),
        ('[grid]\n"train.seed" = [1, 2]\n', "give seeds with [sweep] seeds or n_seeds"),
        ('[grid]\n"train.threads" = [1]\n', "[resources] cpus_per_trial"),
        ("[sweep]\nseeds = [0]\nn_seeds = 2\n", "give seeds or n_seeds, not both"),
        ("[sweep]\nseeds = [0, -1]\n", "[sweep] seeds.1: Input should be greater than or equal"),
        ("[sweep]\nseeds = [1, 1]\n", "seeds: 1 is listed twice"),
        ('[sweep]\nsearch = "bayes"\n', "[sweep] search:"),
        ("[sweep]\nsamples = 3\n", 'samples: only used with search = "random"'),
        ('[sweep]\nsearch = "random"\n[random]\n"algo.lr" = [0.1]\n', "needs samples = N"),
        ('[sweep]\nsearch = "random"\nsamples = 2\n', "needs a [random] table"),
        ('[random]\n"algo.lr" = [0.1]\n', '[random] is only used with search = "random"'),
        (
            '[sweep]\nsearch = "random"\nsamples = 2\n[random]\n"algo.lr" = {loguniform = [0, 1]}',
            "[random] 'algo.lr': loguniform needs 0 < low < high",
        ),
        (
            '[sweep]\nsearch = "random"\nsamples = 2\n[random]\n"algo.lr" = {normal = [0, 1]}',
            "unknown distribution 'normal'",
        ),
        (
            '[sweep]\nsearch = "random"\nsamples = 2\n[random]\n"train.batch_size" = '
            "{randint = [8, 2.5]}",
            "randint needs integers low <= high",
        ),
        (
            '[sweep]\nsearch = "random"\nsamples = 2\n[random]\n"algo.lr" = [0.1]\n'
            '[grid]\n"algo.lr" = [0.2]\n',
            "'algo.lr' is in both [grid] and [random]",
        ),
        ('[sweep]\noverrides = ["train.max_updates=0"]\n', "base settings: invalid config: train"),
        ('[sweep]\noverrides = ["bogus"]\n', "override 'bogus' is not of the form"),
        ('[sweep]\npreset = "nope"\n', "unknown preset 'nope'"),
        ('[sweep]\nconfig = "missing.toml"\n', "[sweep] config: file not found"),
        ('[sweep]\nname = "a/b"\n', "[sweep] name: String should match pattern"),
        ("[sweep]\nn_seeds = 100000\n", "is more than 10,000 trials"),
        ("[resources]\ncpus_per_trial = 0\n", "[resources] cpus_per_trial: Input should be"),
        ("[resources]\ngpu = 1\n", "[resources] gpu: unknown key"),
        ("[resources]\nmax_concurrent = 0\n", "[resources] max_concurrent"),
        ("[sweep\n", "is not valid TOML"),
    ],
)
def test_bad_sweep_files_give_one_line_naming_the_key(
    text: str, needle: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.toml", text)
    before = set(tmp_path.rglob("*"))
    result = cli(str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert set(tmp_path.rglob("*")) == before


def test_bad_output_directories(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", GOOD)
    afile = write(tmp_path / "afile", "x")
    cases = [
        ([str(tmp_path / "nothing.toml")], "sweep file not found"),
        (["--out", str(afile)], "exists and is not a directory"),
        (["--out", str(tmp_path / "new"), "--resume"], "no sweep to resume in"),
    ]
    sweep.write_plan(read_sweep(path), tmp_path / "used")
    cases.append((["--out", str(tmp_path / "used")], "already holds a sweep; continue it with"))
    changed = write(tmp_path / "changed.toml", GOOD.replace("0.05", "0.06"))
    cases.append(([str(changed), "--out", str(tmp_path / "used"), "--resume"], "other config"))
    other = GOOD.replace("[grid]", 'overrides = ["train.max_updates=7"]\n[grid]')
    other_path = write(tmp_path / "other.toml", other)  # the same trials, other settings
    cases.append(([str(other_path), "--out", str(tmp_path / "used"), "--resume"], "other settings"))
    before = set(tmp_path.rglob("*"))
    for args, needle in cases:
        full = args if args[0].endswith(".toml") else [str(path), *args]
        result = cli(*full)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.stderr, (needle, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert set(tmp_path.rglob("*")) == before


def test_missing_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(SweepError, match="nativeagent"):
        sweep.require_ray()
    result = cli(str(write(tmp_path / "s.toml", GOOD)), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "nativeagent sweep needs Ray Tune: pip install 'nativeagent[sweep]'"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# --- trials and summaries without Ray -------------------------------------------------------


def test_a_finished_trial_is_not_trained_again(tmp_path: Path) -> None:
    text = f"[sweep]\noverrides = {json.dumps(TINY)}\n"
    plan = read_sweep(write(tmp_path / "one.toml", text))
    (spec,) = plan.specs(tmp_path / "out")
    first = sweep.run_trial(spec)
    assert first["updates"] == 5 and sweep.pending([spec]) == []
    metrics = (Path(spec.run_dir) / "metrics.jsonl").read_bytes()
    assert sweep.run_trial(spec) == first
    assert (Path(spec.run_dir) / "metrics.jsonl").read_bytes() == metrics
    assert len(sweep.attempts(Path(spec.run_dir))) == 1


def test_a_diverged_trial_counts_as_unsolved_and_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nativeagent.experiments.sweep import run as sweep_run
    from nativeagent.training import train as train_module

    calls: list[Path] = []

    def diverge(cfg: Any, out_dir: Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(out_dir)
        raise train_module.NonFiniteError("loss", float("nan"), 1.0, 4, out_dir)

    monkeypatch.setattr(sweep_run, "train", diverge)
    (spec,) = read_sweep(write(tmp_path / "d.toml", "[sweep]\nseeds = [4]\n")).specs(tmp_path)
    result = sweep.run_trial(spec)
    assert result["solved"] is False and result["seed"] == 4
    assert "non-finite loss at update 4" in result["error"]
    assert json.loads((Path(spec.run_dir) / "diverged.json").read_text()) == result
    assert sweep.run_trial(spec) == result and len(calls) == 1
    assert sweep.pending([spec]) == []


def test_summary_numbers_from_the_result_files(tmp_path: Path) -> None:
    text = '[sweep]\nn_seeds = 4\n[grid]\n"model.kind" = ["gru", "transformer"]\n'
    plan = read_sweep(write(tmp_path / "s.toml", text))
    out = tmp_path / "out"
    sweep.write_plan(plan, out)
    updates = {"c0_kind-gru": [120, 300, 150, 90], "c1_kind-transformer": [200, 0, 0, 260]}
    for spec in plan.specs(out):
        u = updates[spec.config_id][spec.seed]
        result = {"solved": u > 0, "updates": u or 3000, "episodes": 192 * (u or 3000)}
        result |= {"wall_s": (u or 3000) / 100, "seed": spec.seed}
        Path(spec.run_dir).mkdir(parents=True)
        (Path(spec.run_dir) / "result.json").write_text(json.dumps(result))
    sweep.write_summary(plan, out, "nativeagent sweep s.toml")
    with (out / "summary.csv").open() as f:
        rows = {r["configuration"]: r for r in csv.DictReader(f)}
    gru, tf = rows["c0_kind-gru"], rows["c1_kind-transformer"]
    keys = ("model.kind", "seeds", "solved", "solved_fraction")
    assert [gru[k] for k in keys] == ["gru", "4", "4", "1"]
    assert float(gru["updates_median"]) == 135.0  # 90 120 | 150 300: (120 + 150) / 2
    assert float(gru["updates_iqm"]) == 135.0  # n = 4: the middle two
    assert float(gru["episodes_median"]) == 192 * 135.0
    assert float(gru["updates_median_low"]) >= 90 and float(gru["updates_median_high"]) <= 300
    assert (tf["solved"], tf["solved_fraction"]) == ("2", "0.5")  # the 3000s are excluded
    assert float(tf["updates_median"]) == float(tf["updates_iqm"]) == 230.0
    assert float(tf["wall_s_median"]) == pytest.approx(2.3)
    md = (out / "summary.md").read_text()
    assert "| c1_kind-transformer | 2/4 | 230 [200–260] |" in md
    assert "| c1_kind-transformer | transformer |" in md


# --- real sweeps on a local Ray -------------------------------------------------------------


def results_of(out: Path) -> dict[str, dict[str, Any]]:
    """``{"<configuration>/seed<N>": result.json}`` of every finished trial under ``out``."""
    return {
        f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
        for p in (out / "trials").glob("*/seed*/result.json")
    }


def metrics_without_wall(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k != "wall_s"} for x in lines]


def test_two_by_two_sweep_and_its_summary(local_ray: None, tmp_path: Path) -> None:
    text = """
    [sweep]
    name = "two-by-two"
    seeds = [0, 1]
    [grid]
    "train.max_updates" = [5, 400]
    [resources]
    cpus_per_trial = 1
    max_concurrent = 2
    """
    out = tmp_path / "out"
    result = cli(str(write(tmp_path / "s.toml", text)), "--out", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    results = results_of(out)
    configs = ["c0_max_updates-5", "c1_max_updates-400"]
    assert sorted(results) == [f"{c}/seed{s}" for c in configs for s in (0, 1)]
    for trial, r in results.items():
        run_dir = out / "trials" / trial
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["train"]["threads"] == 1 and saved["train"]["seed"] == r["seed"]
        names = {p.name for p in run_dir.iterdir()}
        assert {"metrics.jsonl", "checkpoint.pt", "config.toml", "result.json"} <= names
        assert [a["resumed_from_update"] for a in sweep.attempts(run_dir)] == [None]
    assert all(results[f"c0_max_updates-5/seed{s}"]["updates"] == 5 for s in (0, 1))

    rows = (out / "summary.csv").read_text().splitlines()
    header, by_config = rows[0].split(","), {}
    for row in rows[1:]:
        cells = dict(zip(header, row.split(","), strict=True))
        by_config[cells["configuration"]] = cells
    assert list(by_config) == configs
    assert [by_config[c]["train.max_updates"] for c in configs] == ["5", "400"]
    solved_somewhere = 0
    for c in configs:
        mine = [results[f"{c}/seed{s}"] for s in (0, 1)]
        solved = [r for r in mine if r["solved"]]
        solved_somewhere += len(solved)
        row = by_config[c]
        assert (row["seeds"], row["solved"]) == ("2", str(len(solved)))
        assert float(row["solved_fraction"]) == len(solved) / 2
        for m in ("updates", "episodes", "wall_s"):
            x = [float(r[m]) for r in solved]
            if not x:
                assert row[f"{m}_median"] == row[f"{m}_iqm_high"] == ""
                continue
            assert float(row[f"{m}_median"]) == pytest.approx(statistics.median(x))
            assert float(row[f"{m}_iqm"]) == pytest.approx(statistics.mean(x))  # n <= 3: mean
            # Bootstrap resamples of at most two values: the interval spans them exactly.
            assert float(row[f"{m}_median_low"]) == pytest.approx(min(x))
            assert float(row[f"{m}_median_high"]) == pytest.approx(max(x))
    assert by_config["c0_max_updates-5"]["solved"] == "0"
    assert solved_somewhere >= 1  # the default config solves in 140-410 updates

    md = (out / "summary.md").read_text()
    assert md.startswith("# nativeagent sweep two-by-two: time to solve")
    assert "| configuration | solved | updates median [95% CI]" in md
    assert "| c0_max_updates-5 | 0/2 | — |" in md
    assert "| c1_max_updates-400 | 400 |" in md  # the configurations table
    assert "at most 2 at once" in md and "| c1_max_updates-400 |" in result.stdout
    trials = json.loads((out / "trials.json").read_text())
    assert {(t["combination"], t["seed"]): t["result"] for t in trials} == {
        (k.split("/")[0], v["seed"]): v for k, v in results.items()
    }
    assert (out / "summary.png").stat().st_size > 1000
    assert json.loads((out / "sweep.json").read_text())["name"] == "two-by-two"


@pytest.fixture(scope="module")
def killed_sweep(
    local_ray: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[sweep.Sweep, Path, list[tuple[str, str]]]:
    """A 2 x 2 sweep of tiny runs in which c0/seed1's worker is SIGKILLed at update 3, once."""
    tmp = tmp_path_factory.mktemp("killed")
    overrides = ", ".join(json.dumps(o) for o in TINY)
    text = f"""
    [sweep]
    seeds = [0, 1]
    overrides = [{overrides}]
    [grid]
    "algo.entropy_coef" = [0.01, 0.05]
    """
    plan = read_sweep(write(tmp / "killed.toml", text))
    out = tmp / "out"
    sweep.write_plan(plan, out)
    victim = plan.trials[1].id

    def crash_once(spec: sweep.TrialSpec) -> dict[str, Any]:
        marker = Path(spec.run_dir) / "killed-once"
        if spec.id != victim:
            return sweep.run_trial(spec)
        if marker.exists():  # the retry: note which updates it trains

            def note(record: dict[str, Any]) -> None:
                with (Path(spec.run_dir) / "retry-updates").open("a") as f:
                    f.write(f"{record['update']}\n")

            return sweep.run_trial(spec, note)

        def kill_at_3(record: dict[str, Any]) -> None:
            if record["update"] == 3:  # after the checkpoint at update 2
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)

        return sweep.run_trial(spec, kill_at_3)

    events: list[tuple[str, str]] = []
    specs = plan.specs(out)
    failed = sweep.run_trials(
        plan, specs, out, trial_fn=crash_once, progress=lambda e, s, r: events.append((e, s.id))
    )
    assert failed == {}
    return plan, out, events


def test_a_killed_trial_is_retried_from_its_checkpoint(
    killed_sweep: tuple[sweep.Sweep, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    plan, out, events = killed_sweep
    victim = plan.trials[1]
    assert (out / victim.rel_dir / "killed-once").exists()
    assert sorted(results_of(out)) == sorted(t.id for t in plan.trials)  # every trial, once
    assert sweep.pending(plan.specs(out)) == []
    assert events.count(("retry", victim.id)) == 1
    assert sorted(s for e, s in events if e == "finished") == sorted(t.id for t in plan.trials)
    for t in plan.trials:
        run_dir = out / t.rel_dir
        resumed = [a["resumed_from_update"] for a in sweep.attempts(run_dir)]
        assert resumed == ([None, 2] if t == victim else [None]), t.id
        assert (run_dir / "retry-updates").exists() == (t == victim)
        updates = [r["update"] for r in metrics_without_wall(run_dir)]
        assert updates == [1, 2, 3, 4, 5], t.id  # nothing lost, nothing logged twice

    # The retry trained only the updates after the checkpoint, and ends exactly as a run that
    # was never killed.
    assert (out / victim.rel_dir / "retry-updates").read_text().split() == ["3", "4", "5"]
    ref = tmp_path / "ref"
    train(from_dict({**victim.config, "train": {**victim.config["train"], "threads": 1}}), ref)
    assert metrics_without_wall(out / victim.rel_dir) == metrics_without_wall(ref)
    got, want = (json.loads((d / "result.json").read_text()) for d in (out / victim.rel_dir, ref))
    assert {**got, "wall_s": 0} == {**want, "wall_s": 0}

    _, stats = sweep.write_summary(plan, out, "nativeagent sweep killed.toml")
    assert [(s.name, s.seeds) for s in stats] == [(c.id, 2) for c in plan.configurations]


def test_an_interrupted_sweep_resumes_only_its_unfinished_trials(
    killed_sweep: tuple[sweep.Sweep, Path, list[tuple[str, str]]], tmp_path: Path
) -> None:
    plan, done, _ = killed_sweep
    out = tmp_path / "out"
    shutil.copytree(done, out, ignore=shutil.ignore_patterns("ray"))
    stopped, unstarted = plan.trials[2], plan.trials[3]  # c1 seed 0 and seed 1
    (out / stopped.rel_dir / "result.json").unlink()  # killed after its last checkpoint
    shutil.rmtree(out / unstarted.rel_dir)  # never started
    finished = {t.id: (out / t.rel_dir / "result.json").read_bytes() for t in plan.trials[:2]}
    stopped_metrics = (out / stopped.rel_dir / "metrics.jsonl").read_bytes()

    result = cli(str(plan.path), "--out", str(out), "--resume")
    assert result.exit_code == 0, result.output + result.stderr
    assert "4 trials, 2 already done" in result.stdout
    for t in plan.trials[:2]:  # not run again
        assert (out / t.rel_dir / "result.json").read_bytes() == finished[t.id]
    assert [a["resumed_from_update"] for a in sweep.attempts(out / stopped.rel_dir)] == [None, 5]
    assert [a["resumed_from_update"] for a in sweep.attempts(out / unstarted.rel_dir)] == [None]
    old = json.loads((done / stopped.rel_dir / "result.json").read_text())
    new = json.loads((out / stopped.rel_dir / "result.json").read_text())
    assert new["accuracy"] == old["accuracy"] and new["updates"] == old["updates"] == 5
    assert (out / stopped.rel_dir / "metrics.jsonl").read_bytes() == stopped_metrics  # no retrain
    assert len(json.loads((out / "trials.json").read_text())) == 4
    assert "| c1_entropy_coef-0.05 | 0/2 |" in (out / "summary.md").read_text()


def test_a_trial_that_keeps_failing_is_reported_and_left_to_resume(
    local_ray: None, tmp_path: Path
) -> None:
    text = f"[sweep]\nseeds = [0, 1]\nmax_failures = 1\noverrides = {json.dumps(TINY)}\n"
    plan = read_sweep(write(tmp_path / "f.toml", text))
    specs = plan.specs(tmp_path / "out")

    def broken_seed_1(spec: sweep.TrialSpec) -> dict[str, Any]:
        if spec.seed == 1:
            raise RuntimeError("boom")
        return sweep.run_trial(spec)

    events: list[tuple[str, str]] = []
    failed = sweep.run_trials(
        plan,
        specs,
        tmp_path / "out",
        trial_fn=broken_seed_1,
        progress=lambda e, s, r: events.append((e, s.id)),
    )
    assert list(failed) == ["c0/seed1"] and "RuntimeError: boom" in failed["c0/seed1"]
    assert sorted(events) == [
        ("failed", "c0/seed1"),
        ("finished", "c0/seed0"),
        ("retry", "c0/seed1"),
    ]
    assert [s.id for s in sweep.pending(specs)] == ["c0/seed1"]
