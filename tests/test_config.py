"""Configuration: presets, TOML files, overrides, and errors that name the key."""

from pathlib import Path

import pytest

from nativeagent.config import ConfigError, from_dict, load_config, parse_override


def test_presets_load() -> None:
    default = load_config()
    tutorial = load_config(preset="tutorial")
    assert default.decode.mode == "closed" and default.curriculum.kind == "mastery"
    assert tutorial.machine.name == "seed-legacy" and tutorial.decode.mode == "open"
    assert tutorial.decode.open_tokens == 6 and tutorial.train.max_updates == 60
    assert tutorial.train.batch_size == 192 and tutorial.curriculum.blocks == [0, 0, 0, 1, 1, 2]
    assert tutorial.algo.lr == 3e-4


def test_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[algo]\nlr = 0.5\n[train]\nseed = 4\n")
    cfg = load_config(path, overrides=["train.seed=9", "machine.name=seed-legacy"])
    assert cfg.algo.lr == 0.5 and cfg.train.seed == 9 and cfg.machine.name == "seed-legacy"


def test_override_parsing() -> None:
    assert parse_override("a.b=1") == {"a": {"b": 1}}
    assert parse_override("a.b=[0, 1]") == {"a": {"b": [0, 1]}}
    assert parse_override("a.b=cpu") == {"a": {"b": "cpu"}}
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        parse_override("nonsense")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"algo": {"lr": -1}}, "algo.lr"),
        ({"algo": {"bogus": 1}}, "algo.bogus: unknown key"),
        ({"nope": {}}, "nope: unknown key"),
        ({"train": {"batch_size": "many"}}, "train.batch_size"),
        ({"machine": {"name": "abacus"}}, "machine.name"),
        ({"curriculum": {"mastery": 1.5}}, "curriculum.mastery"),
        ({"train": {"device": "tpu"}}, "train.device"),
        ({"curriculum": {"kind": "blocks", "blocks": [0, 9]}}, "curriculum.blocks.1"),
        ({"curriculum": {"blocks": []}}, "curriculum.blocks"),
        ({"task": {"show_signs": True}}, "show_signs needs show_expression"),
        ({"model": {"positions": "rotary"}}, "model.positions"),
        (
            {"machine": {"name": "seed-legacy"}, "decode": {"observe": True}},
            "decode.observe needs a tool profile",
        ),
    ],
)
def test_bad_values_name_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match="invalid config") as info:
        from_dict(data)
    assert needle in str(info.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[algo\nlr=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="fast")


def test_top_level_configs_are_the_presets() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    for name in ("default", "tutorial", "generalization"):
        assert load_config(root / f"{name}.toml", preset="default") == load_config(preset=name)
    # the shipped default.toml spells out exactly the built-in defaults
    assert load_config() == from_dict({})


def test_the_presets_fix_the_thread_count() -> None:
    """Results depend on it, so no preset leaves it to the machine (0 would)."""
    assert load_config().train.threads == 2
    assert load_config(preset="tutorial").train.threads == 2
    assert load_config(preset="generalization").train.threads == 1


def test_the_step_limit_defaults_to_the_machines_own() -> None:
    assert load_config().machine.max_steps == 8
    assert load_config(overrides=['machine.name="extended"']).machine.max_steps == 12
    assert load_config(overrides=['machine.name="seed-legacy"']).machine.max_steps == 7
    both = ['machine.name="extended"', "machine.max_steps=9"]
    assert load_config(overrides=both).machine.max_steps == 9
    saved = load_config(overrides=['machine.name="extended"']).to_dict()
    assert from_dict(saved).machine.max_steps == 12  # a saved config repeats the run


def test_a_task_is_checked_against_the_machine_it_runs_on() -> None:
    ok = load_config(overrides=['machine.name="extended"', 'task.curriculum=["a*(b+c)"]'])
    assert ok.task.curriculum == ["a*(b+c)"]
    with pytest.raises(ConfigError, match=r"task\.curriculum\[0\]: no program of any length"):
        load_config(overrides=['task.curriculum=["a*(b+c)"]'])
    with pytest.raises(ConfigError, match="at most 5 tools"):
        load_config(
            overrides=[
                'machine.name="extended"',
                'task.curriculum=["a*(b+c)"]',
                "machine.max_steps=5",
            ]
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["decode.observe_unused=true"], "observe_unused needs observe"),
        (['model.positions="coupled"'], "positions 'coupled' needs kind 'transformer'"),
        (['model.kind="mlp"'], "needs decode.observe = true and decode.window"),
        (['model.kind="mlp"', "decode.observe=true"], "needs decode.observe = true"),
        (['machine.name="seed-legacy"', "decode.window=3"], "seed-legacy has none"),
        (["task.show_expression=true", "task.sign_operators=true"], "needs show_signs"),
        (["decode.window=17"], r"decode\.window: Input should be less than or equal to 16"),
        (["model.relative_span=0"], r"model\.relative_span"),
    ],
)
def test_reading_at_the_cursor_is_refused_where_it_cannot_work(
    overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_the_generalization_preset_reads_at_both_cursors_without_history() -> None:
    cfg = load_config(preset="generalization")
    assert (cfg.model.kind, cfg.decode.window, cfg.decode.operator_window) == ("mlp", 3, 3)
    assert cfg.decode.observe and cfg.decode.observe_unused
    assert cfg.task.show_signs and cfg.task.sign_operators
