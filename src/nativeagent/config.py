"""Run configuration: one dataclass per concern, loaded from TOML, overridable by ``key=value``.

Values are validated (types, ranges, unknown keys) before anything runs; errors name the key.

>>> cfg = load_config(overrides=["algo.lr=0.01", "train.seed=3"])
>>> cfg.algo.lr, cfg.train.seed
(0.01, 3)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
import tomllib
from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

from nativeagent.errors import PRESETS, ConfigError
from nativeagent.fileio import atomic_write_bytes, atomic_write_json
from nativeagent.machine.tools import check_machine, default_max_steps
from nativeagent.tasks.expression import parse
from nativeagent.tasks.generate import TaskSpecError, curriculum_stages

_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass(config=_STRICT)
class MachineConfig:
    """Which tool machine runs the programs and how it rewards them."""

    name: str = "canonical"
    """A tool profile, ``canonical`` or ``extended`` (LOAD and a second memory cell), or the
    tutorial's reward function ``seed-legacy``; see docs/machine.md (any machine the tool table
    declares is accepted)."""
    max_steps: int | None = Field(None, ge=1, le=64)
    """Steps before an episode without ANS ends unsolved; unset: the machine's own limit
    (canonical 8, extended 12, seed-legacy 7)."""
    partial_reward: float = Field(0.0, ge=0.0)
    """Shaping: reward at ANS for answering a subgoal value (tool profiles only)."""
    process_reward: float = Field(0.0, ge=0.0)
    """Shaping: reward for an operator call that first produces a subgoal value (tool profiles
    only)."""

    @field_validator("name")
    @classmethod
    def _known_machine(cls, name: str) -> str:
        return check_machine(name)


@dataclass(config=_STRICT)
class ModelConfig:
    """The policy network."""

    kind: Literal["gru", "transformer", "mlp"] = "gru"
    """``gru``: the tutorial's actor-critic; ``transformer``: a small causal Transformer;
    ``mlp``: a history-free policy, whose every decision depends only on the machine's state now
    and the read head's window (needs ``decode.observe`` and ``decode.window``)."""
    d_model: int = Field(96, ge=1, le=4096)
    """Embedding and hidden width."""
    n_layers: int = Field(2, ge=1, le=24)
    """Transformer layers (``mlp``: hidden layers)."""
    n_heads: int = Field(4, ge=1, le=64)
    """Transformer attention heads; must divide ``d_model``."""
    encoder: Literal["mean", "gru"] = "mean"
    """How the GRU reads the context: ``mean`` of its embeddings (the tutorial's) or a ``gru``
    encoder over its tokens in order (for ``task.show_expression``). The Transformer always
    reads the context as a sequence."""
    positions: Literal["absolute", "none", "randomized", "coupled"] = "absolute"
    """The Transformer's position signal: ``absolute``, a learned embedding per position;
    ``none``, causal attention alone (no embedding to be untrained at longer lengths);
    ``randomized``, learned embeddings whose ids training shifts by a random offset per episode,
    so that every id is trained and only their order carries meaning; or ``coupled``, position
    coupling: each decoding step takes the position of the machine's cursor in the prompt, and
    positions enter attention only as distances (a learned bias per head and distance, clipped
    at ``relative_span``), so the token two after the cursor is the same at every length."""
    relative_span: int = Field(4, ge=1, le=64)
    """Coupled positions: distances up to this are told apart; farther ones share one bias."""

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ModelConfig:
        if self.kind == "transformer" and self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must divide d_model ({self.d_model})")
        return self

    @model_validator(mode="after")
    def _coupled_is_the_transformers(self) -> ModelConfig:
        if self.positions == "coupled" and self.kind != "transformer":
            raise ValueError("positions 'coupled' needs kind 'transformer'")
        return self


@dataclass(config=_STRICT)
class TaskConfig:
    """What the agent is asked to compute: curriculum stages of expressions, held-out shapes."""

    curriculum: list[str | list[str]] = field(
        default_factory=lambda: ["a*b+c", "(a*b+c)-d", "(a*b+c)-(d*e)"]
    )
    """Curriculum stages in order, each an expression over operands ``a, b, c, …`` with
    ``* + -`` and parentheses, or a list of expressions trained together as one stage."""
    all_reachable: int = Field(0, ge=0, le=5)
    """When 2 or more: instead of ``curriculum``, every expression over 2..N operands (each
    used once, in order) that the machine can compute, one stage per operand count."""
    held_out: float = Field(0.0, ge=0.0, lt=1.0)
    """Fraction of the curriculum's expression shapes held out of training and evaluated
    apart: drawn uniformly over all stages with ``split_seed``, never a stage's last one."""
    held_out_expressions: list[str] = field(default_factory=list)
    """Further expressions never trained on, evaluated with the held-out ones."""
    split_seed: int = Field(0, ge=0)
    """Seed of the held-out split (independent of ``train.seed``, so seeds share a split)."""
    show_expression: bool = False
    """Task mode: the model reads the expression (postfix operands and operator tokens)
    instead of the digits alone and an embedding of the task's index."""
    show_signs: bool = False
    """Task mode only: the model also reads each operand's running sign, the sign it enters its
    sum with once the parentheses are removed (``b`` in ``a-(b-c)`` has -, ``c`` has +):
    a signal for the shapes whose program rewrites the expression."""

    sign_operators: bool = False
    """With ``show_signs``: each operator of the prompt also carries the running sign of the
    sub-expression it closes (``c*d`` in ``a+(b-c*d)`` enters the sum with -), so the sign of
    a product term is read where the term ends."""

    @model_validator(mode="after")
    def _signs_need_the_expression(self) -> TaskConfig:
        if self.show_signs and not self.show_expression:
            raise ValueError("show_signs needs show_expression (the signs annotate it)")
        if self.sign_operators and not self.show_signs:
            raise ValueError("sign_operators needs show_signs (it signs the operators too)")
        return self

    @model_validator(mode="after")
    def _parse(self) -> TaskConfig:
        if not self.curriculum:
            raise ValueError("the curriculum needs at least one stage")
        for entry in self.curriculum:
            if not entry:
                raise ValueError("every curriculum stage needs at least one expression")
            for text in [entry] if isinstance(entry, str) else entry:
                parse(text)
        for text in self.held_out_expressions:
            parse(text)
        return self


@dataclass(config=_STRICT)
class DecodeConfig:
    """How the agent's programs are decoded."""

    mode: Literal["closed", "open"] = "closed"
    """``closed``: the machine steps after every token and logits are masked to legal tools.
    ``open``: the tutorial's way, ``open_tokens`` unmasked tokens run afterwards."""
    open_tokens: int = Field(6, ge=1, le=64)
    """Tokens decoded per episode in open-loop mode."""
    observe: bool = False
    """Tool observations: after each tool the policy also receives the machine's new state
    (which registers are set, which cell is armed, how many operands are read and left; see
    ``nativeagent.machine.observation``). Off reproduces runs without it bit for bit."""
    observe_unused: bool = False
    """With ``observe``: also, per memory cell, whether it holds a value no operator has used
    yet (a cell keeps its value after ``RCL`` has used it, so ``set`` alone cannot tell)."""
    window: int = Field(0, ge=0, le=16)
    """The read head's radius: after each tool the policy also reads the ``2 * window + 1``
    prompt tokens around the machine's cursor (the next unread operand's prompt position),
    with their running signs. 0: no read head."""
    operator_window: int = Field(0, ge=0, le=16)
    """Likewise around the *operator cursor*: the prompt position of the next operator of the
    postfix that the program has not applied yet (operators applied so far, counted from the
    tool table). 0: none."""

    @model_validator(mode="after")
    def _unused_is_observed(self) -> DecodeConfig:
        if self.observe_unused and not self.observe:
            raise ValueError("observe_unused needs observe (it adds to the observed state)")
        return self


@dataclass(config=_STRICT)
class AlgoConfig:
    """The training algorithm, its optimiser (Adam) and the loss weights all algorithms share."""

    name: Literal["a2c", "ppo", "grpo", "tutorial"] = "a2c"
    """``a2c`` (default), ``ppo`` (settings in ``[ppo]``), ``grpo`` (settings in ``[grpo]``),
    or ``tutorial``: the tutorial's own loss (one summed-value baseline per episode, gradient
    on every decoded token, after ``ANS`` too), kept to reproduce it."""
    lr: float | None = Field(None, gt=0.0, le=1.0)
    """Adam learning rate; unset: the tuned value for the algorithm and model (``TUNED``).
    The tutorial used 3e-4."""
    entropy_coef: float | None = Field(None, ge=0.0)
    """Weight of the entropy bonus; unset: the tuned value (``TUNED``). With 0.01 the policy
    sticks in a stage-2 shortcut that 0.05 escapes."""
    value_coef: float = Field(0.5, ge=0.0)
    """Weight of the value loss (A2C, PPO; GRPO has no critic)."""
    max_grad_norm: float = Field(1.0, gt=0.0)
    """Gradient clipping norm."""
    gamma: float = Field(1.0, ge=0.0, le=1.0)
    """Discount."""
    gae_lambda: float = Field(1.0, ge=0.0, le=1.0)
    """GAE λ for A2C; 1.0 gives Monte Carlo returns minus the value baseline."""
    normalize_advantages: bool = False
    """A2C: standardise advantages over the batch's alive steps."""


@dataclass(config=_STRICT)
class PPOConfig:
    """PPO (``algo.name = "ppo"``): clipped surrogate, GAE, epochs of minibatches."""

    epochs: int = Field(4, ge=1, le=100)
    """Passes over each batch."""
    minibatches: int = Field(4, ge=1)
    """Minibatches (of whole episodes) per pass."""
    clip_coef: float = Field(0.2, gt=0.0, lt=1.0)
    """Clip range ε of the probability ratio."""
    clip_value: bool = False
    """Also clip the value function's change (pessimistic max of plain and clipped loss)."""
    value_clip_coef: float = Field(0.2, gt=0.0)
    """Clip range of the value change when ``clip_value``."""
    gae_lambda: float = Field(0.95, ge=0.0, le=1.0)
    """GAE λ for PPO's advantages."""
    normalize_advantages: bool = True
    """Standardise advantages per minibatch."""


@dataclass(config=_STRICT)
class GRPOConfig:
    """GRPO (``algo.name = "grpo"``): group-normalised outcome advantages, no critic."""

    group_size: int = Field(8, ge=2)
    """Rollouts per context; ``train.batch_size`` episodes = contexts × group_size."""
    epochs: int = Field(1, ge=1, le=100)
    """Clipped updates per batch (1 = one policy-gradient step)."""
    clip_coef: float = Field(0.2, gt=0.0, lt=1.0)
    """Clip range ε of the probability ratio."""


@dataclass(config=_STRICT)
class CurriculumConfig:
    """Which stage each training episode comes from."""

    kind: Literal["mastery", "blocks", "mixed"] = "mastery"
    """``mastery``: promote when greedy accuracy on the current stage reaches ``mastery``,
    replaying earlier stages; ``blocks``: the tutorial's fixed sequence of stage blocks;
    ``mixed``: no curriculum, every stage from the start, drawn uniformly per episode."""
    mastery: float = Field(0.99, gt=0.0, le=1.0)
    """Greedy accuracy on the current stage that promotes to the next stage."""
    replay: float = Field(0.25, ge=0.0, lt=1.0)
    """Fraction of each batch drawn uniformly from earlier stages (mastery curriculum)."""
    blocks: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = field(
        default_factory=lambda: [0, 0, 0, 1, 1, 2]
    )
    """Stage of each equal block of updates (blocks curriculum), counted from 0."""
    focus: float = Field(0.0, ge=0.0, le=1.0)
    """Share of each stage's episodes whose expression is drawn in proportion to its recent
    failure rate in training (the rest uniformly), so that stages of many expressions spend
    their episodes on the ones not yet mastered. 0 (default): every expression uniformly."""


@dataclass(config=_STRICT)
class TrainConfig:
    """The training loop."""

    seed: int = Field(0, ge=0)
    """Seeds every generator: model init, contexts, sampling, evaluation."""
    batch_size: int = Field(192, ge=1)
    """Episodes per update."""
    max_updates: int = Field(3000, ge=1)
    """Updates at most; mastery training stops earlier once every stage is solved."""
    stop_when_solved: bool = True
    """Stop as soon as a periodic evaluation shows every stage at mastery."""
    eval_every: int = Field(10, ge=1)
    """Updates between periodic greedy evaluations."""
    eval_episodes: int = Field(256, ge=1)
    """Fresh episodes per stage in a periodic evaluation."""
    final_eval_episodes: int = Field(1000, ge=1)
    """Fresh episodes per stage in the final accuracy table."""
    log_every: int = Field(10, ge=1)
    """Updates between lines of ``metrics.jsonl``."""
    checkpoint_every: int = Field(50, ge=1)
    """Updates between checkpoints (written atomically; one is also written at the end)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` uses CUDA when present."""
    threads: int = Field(2, ge=0)
    """torch CPU threads. Results depend on it (sums round differently), so it is fixed: 2 by
    default, the machine the documented numbers come from; 0 keeps torch's default (one per
    core). Use 1 when several runs share a CPU."""
    tensorboard: bool = False
    """Also write TensorBoard scalars into ``RUN_DIR/tensorboard`` (extra ``[tensorboard]``)."""


#: (learning rate, entropy bonus) that solve every stage reliably, per (algorithm, model);
#: used where ``algo.lr`` / ``algo.entropy_coef`` are not set. See docs/benchmarks.md.
TUNED: dict[tuple[str, str], tuple[float, float]] = {
    ("a2c", "gru"): (3e-3, 0.05),
    ("ppo", "gru"): (3e-3, 0.05),
    ("grpo", "gru"): (3e-3, 0.1),
    ("a2c", "transformer"): (1e-3, 0.05),
    ("ppo", "transformer"): (1e-3, 0.05),
    ("grpo", "transformer"): (1e-3, 0.05),
    # the history-free MLP: measured with A2C on the generalization preset (at 3e-3 two seeds
    # of five stalled on one shape); PPO and GRPO take the same values, unmeasured
    ("a2c", "mlp"): (1e-3, 0.05),
    ("ppo", "mlp"): (1e-3, 0.05),
    ("grpo", "mlp"): (1e-3, 0.05),
    ("tutorial", "gru"): (3e-4, 0.01),  # the tutorial's own settings
    ("tutorial", "transformer"): (3e-4, 0.01),
    ("tutorial", "mlp"): (3e-4, 0.01),
}


@dataclass(config=_STRICT)
class Config:
    """Everything a run needs; saved into the run directory and the checkpoint."""

    machine: MachineConfig = field(default_factory=MachineConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _blocks_name_stages(self) -> Config:
        if self.curriculum.kind != "blocks":
            return self
        t = self.task
        n_stages = t.all_reachable - 1 if t.all_reachable else len(t.curriculum)
        for i, stage in enumerate(self.curriculum.blocks):
            if stage >= n_stages:
                raise ValueError(
                    f"curriculum.blocks.{i}: stage {stage} does not exist; "
                    f"the task curriculum has stages 0..{n_stages - 1}"
                )
        return self

    @model_validator(mode="after")
    def _legacy_needs_builtin_stages(self) -> Config:
        if self.machine.name == "seed-legacy" and self.task != TaskConfig():
            raise ValueError("machine 'seed-legacy' runs only the built-in stages; drop [task]")
        return self

    @model_validator(mode="after")
    def _observe_needs_tool_profile(self) -> Config:
        if self.machine.name != "seed-legacy":
            return self
        if self.decode.observe:
            raise ValueError("decode.observe needs a tool profile; seed-legacy has no state")
        if self.decode.window or self.decode.operator_window or self.model.positions == "coupled":
            raise ValueError(
                "decode.window, decode.operator_window and model.positions='coupled' read at the "
                "machine's cursors; seed-legacy has none"
            )
        return self

    @model_validator(mode="after")
    def _mlp_sees_state_and_window(self) -> Config:
        reads = self.decode.window or self.decode.operator_window
        if self.model.kind == "mlp" and not (self.decode.observe and reads):
            raise ValueError(
                "model.kind 'mlp' decides from the machine's state and the read head alone: "
                "it needs decode.observe = true and decode.window (or operator_window) >= 1"
            )
        return self

    @model_validator(mode="after")
    def _fill_max_steps(self) -> Config:
        if self.machine.max_steps is None:
            self.machine.max_steps = default_max_steps(self.machine.name)
        return self

    @property
    def max_steps(self) -> int:
        """The step limit in effect (``machine.max_steps``, filled in on validation)."""
        assert self.machine.max_steps is not None
        return self.machine.max_steps

    @model_validator(mode="after")
    def _fill_tuned(self) -> Config:
        lr, entropy = TUNED[(self.algo.name, self.model.kind)]
        if self.algo.lr is None:
            self.algo.lr = lr
        if self.algo.entropy_coef is None:
            self.algo.entropy_coef = entropy
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON and TOML friendly)."""
        return dataclasses.asdict(self)


_ADAPTER = TypeAdapter(Config)
CONFIG_TOML = "config.toml"
CONFIG_JSON = "config.json"


def save_config(cfg: Config, run_dir: Path) -> None:
    """Write the effective configuration into a run directory, as TOML and JSON."""
    atomic_write_bytes(run_dir / CONFIG_TOML, tomli_w.dumps(cfg.to_dict()).encode())
    atomic_write_json(run_dir / CONFIG_JSON, cfg.to_dict())


def _key_text(part: object) -> str:
    """A key as a message shows it: quoted when it holds line breaks or other control
    characters (a TOML key may), so that the message stays one line."""
    text = str(part)
    return text if text.isprintable() else repr(text)


def _input_text(value: object, most: int = 200) -> str:
    """A rejected value as a message shows it: its repr on one line (a tensor's spans several),
    shortened when long."""
    text = re.sub(r"\s*\n\s*", " ", repr(value))
    return text if len(text) <= most else f"{text[: most - 3]}..."


def _format(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        key = ".".join(_key_text(p) for p in e["loc"])
        msg = "unknown key" if e["type"] == "unexpected_keyword_argument" else e["msg"]
        parts.append(f"{key}: {msg} (got {_input_text(e['input'])})" if key else msg)
    return "; ".join(parts)


def from_dict(data: dict[str, Any]) -> Config:
    """Validate a nested dict into a ``Config``; raise ``ConfigError`` naming bad keys."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        raise ConfigError(f"invalid config: {_format(err)}") from None


def preset_dict(name: str) -> dict[str, Any]:
    """The settings of a shipped preset (``PRESETS``: ``configs/<name>.toml``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    text = resources.files("nativeagent").joinpath(f"configs/{name}.toml").read_text()
    return tomllib.loads(text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"config file {path} nests its values too deeply") from None
    except OSError as err:  # a directory, no permission, ...
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from None


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in top.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = val
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"algo.lr=0.01"`` -> ``{"algo": {"lr": 0.01}}``; the value is read as TOML, else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):  # not TOML (or nested too deeply)
        value = raw.strip()
    out: dict[str, Any] = {}
    node = out
    *parents, leaf = key.strip().split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value
    return out


def check_tasks(cfg: Config) -> None:
    """``ConfigError`` naming the key when some task expression cannot be computed on the
    machine within ``machine.max_steps`` tools (no policy could master it)."""
    t = cfg.task
    try:
        curriculum_stages(
            t.curriculum, t.all_reachable, t.held_out_expressions, cfg.machine.name, cfg.max_steps
        )
    except TaskSpecError as err:
        raise ConfigError(str(err)) from None


def load_config(
    path: Path | None = None, preset: str = "default", overrides: list[str] | None = None
) -> Config:
    """Preset, then the TOML file at ``path``, then ``key=value`` overrides; validated, down to
    every task expression being computable on the machine (``ConfigError`` names the key)."""
    data = preset_dict(preset)
    if path is not None:
        data = _merge(data, _read_toml(path))
    for text in overrides or []:
        data = _merge(data, parse_override(text))
    cfg = from_dict(data)
    check_tasks(cfg)
    return cfg
