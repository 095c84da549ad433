"""The training loop: sample a curriculum batch, decode, A2C update, evaluate, log, checkpoint.

Everything that decides what happens next (weights, optimizer, counters, curriculum, every
generator, how much of ``metrics.jsonl`` belongs to the run) lives in one ``TrainState`` that a
checkpoint captures whole, so a run killed at any moment resumes to the same end, bit for bit.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nativeagent.algos.common import NonFiniteError
from nativeagent.build import build_algorithm, build_machine, build_model, build_task_set
from nativeagent.config import Config, ConfigError, from_dict, save_config
from nativeagent.fileio import atomic_write_bytes, atomic_write_json, remove_stale_temporaries
from nativeagent.models.transformer import RANDOM_OFFSETS
from nativeagent.rollout import rollout
from nativeagent.rundir import COMMAND
from nativeagent.runlock import run_lock
from nativeagent.tasks.curriculum import Curriculum
from nativeagent.training.checkpoint import (
    CHECKPOINT,
    RESULT,
    RunDirError,
    check_finite,
    load_checkpoint,
    named_weights,
    save_checkpoint,
)
from nativeagent.training.evaluate import HELD_OUT, StageAccuracy, decode_tokens, evaluate
from nativeagent.training.metrics_log import MetricsLog

GENERATORS = ("data", "policy", "eval", "final")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available here")
    return torch.device(name)


@dataclass
class Generators:
    """One explicit generator per source of randomness, all derived from the run's seed."""

    init: int  # seed for weight initialisation
    data: torch.Generator  # contexts and curriculum replay
    policy: torch.Generator  # action sampling
    eval: torch.Generator  # periodic evaluation contexts
    final: torch.Generator  # the final table's contexts

    @classmethod
    def from_seed(cls, seed: int, device: torch.device) -> Generators:
        seeds = np.random.SeedSequence(seed).generate_state(5, dtype=np.uint64)
        gens = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds[1:]]
        return cls(int(seeds[0]), *gens)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).get_state() for name in GENERATORS}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in GENERATORS:
            getattr(self, name).set_state(state[name])


def environment(device: torch.device) -> dict[str, Any]:
    """What a run's floats depend on beyond its config: device, torch version, CPU threads
    (different thread counts round sums differently, so the same seed can train differently)."""
    return {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def init_model(cfg: Config, init_seed: int, device: torch.device) -> torch.nn.Module:
    """Build the policy with weights drawn from ``init_seed`` (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = build_model(cfg)
    return model.to(device)


def accuracy_dict(acc: dict[int, StageAccuracy]) -> dict[str, float]:
    """``{"0": 0.99, ...}`` over the curriculum stages, the form ``result.json`` and metrics use."""
    return {str(s): a.accuracy for s, a in acc.items() if s != HELD_OUT}


def held_out_dict(a: StageAccuracy) -> dict[str, Any]:
    """The held-out group of a final evaluation, as ``result.json`` records it."""
    return {
        "accuracy": a.accuracy,
        "interval": [a.low, a.high],
        "episodes": a.episodes,
        "optimality": a.optimality,
        "tasks": {e: [k, n] for e, k, n in a.per_task},
    }


def _rates(acc: dict[int, StageAccuracy]) -> dict[int, float]:
    return {s: a.accuracy for s, a in acc.items()}


@dataclass
class TrainState:
    """Everything a run needs to continue exactly where it was."""

    cfg: Config
    device: torch.device
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    curriculum: Curriculum
    gens: Generators
    update: int = 0  # updates done
    episodes: int = 0
    stopped: bool = False  # training ended early (solved) or ran out of updates
    wall_s: float = 0.0  # training wall time before this process started
    metrics_bytes: int = 0  # length of metrics.jsonl that belongs to this state

    @classmethod
    def fresh(cls, cfg: Config) -> TrainState:
        device = resolve_device(cfg.train.device)
        gens = Generators.from_seed(cfg.train.seed, device)
        model = init_model(cfg, gens.init, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.algo.lr)
        tasks = build_task_set(cfg)
        curriculum = Curriculum(
            cfg.curriculum, cfg.train.max_updates, tasks.n_stages, len(tasks.tasks)
        )
        return cls(cfg, device, model, optimizer, curriculum, gens)

    def to_checkpoint(self, wall_s: float) -> dict[str, Any]:
        """A dict of tensors and plain values only (it is loaded with ``weights_only=True``);
        ``wall_s`` is the training time so far, which resumes will count on from."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "config": self.cfg.to_dict(),
            "update": self.update,
            "episodes": self.episodes,
            "stopped": self.stopped,
            "wall_s": wall_s,
            "metrics_bytes": self.metrics_bytes,
            "curriculum": self.curriculum.state_dict(),
            "generators": self.gens.state_dict(),
        }

    @classmethod
    def from_checkpoint(cls, run_dir: Path) -> TrainState:
        """Rebuild the state saved in ``run_dir``; a checkpoint that does not fit, or holds a
        NaN or infinity (training never saves one: the file is damaged), is an error."""
        ckpt = load_checkpoint(run_dir)
        part = "config"
        try:
            state = cls.fresh(from_dict(_table(ckpt, part)))
            loaders = {
                "model": state.model.load_state_dict,
                "optimizer": lambda saved: _load_optimizer(state.optimizer, saved),
                "curriculum": state.curriculum.load_state_dict,
                "generators": state.gens.load_state_dict,
            }
            with warnings.catch_warnings():  # torch warns about damaged entries before failing
                warnings.simplefilter("ignore")
                for part, load in loaders.items():
                    load(_table(ckpt, part))
            for part in ("update", "episodes", "stopped", "wall_s", "metrics_bytes"):
                setattr(state, part, _counter(ckpt, part, type(getattr(state, part))))
        except LOAD_ERRORS as err:
            detail = " ".join(str(err).split())  # load_state_dict's message has a line per problem
            raise RunDirError(
                f"checkpoint in {run_dir} cannot resume training: its entry {part!r} does not "
                f"fit: {detail}"
            ) from None
        check_finite(run_dir, state.named_tensors())
        return state

    def named_tensors(self) -> Iterator[tuple[str, object]]:
        """The weights and the optimizer's moments, by name."""
        yield from named_weights(self.model)
        for moments in self.optimizer.state.values():
            yield from ((f"optimizer {name}", t) for name, t in moments.items())


#: What a checkpoint that does not fit its run raises while it is loaded.
LOAD_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    RuntimeError,
    AttributeError,  # e.g. the optimizer's ``state`` a tensor: torch calls ``.items()`` on it
    OverflowError,
    ConfigError,
)


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load ``saved`` into ``optimizer``, whose settings (lr, betas, eps, ...) the run's config
    fixed: a saved group that lacks one or holds another value, or a moment of another shape
    than its weight, is damaged (torch would only fail at the next step)."""
    settings = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for want, got in zip(settings, optimizer.param_groups, strict=True):
        for key, value in want.items():
            if key not in got or type(got[key]) is not type(value) or got[key] != value:
                shown = repr(got[key]) if key in got else "missing"
                raise ValueError(f"its {key} is {shown:.40}, the run's config gives {value!r}")
    for weight, moments in optimizer.state.items():  # Adam's step count and moments
        for key, t in moments.items():
            shape = torch.Size() if key == "step" else weight.shape
            if not isinstance(t, torch.Tensor) or t.shape != shape:
                raise ValueError(
                    f"its {key} for a weight of shape {tuple(weight.shape)} is {t!r:.40}"
                )


def _entry(ckpt: dict[str, Any], key: str) -> Any:
    """``ckpt[key]``; a ``TypeError`` (that names no Python key) when the checkpoint lacks it."""
    if key not in ckpt:
        raise TypeError("the checkpoint has none")
    return ckpt[key]


def _table(ckpt: dict[str, Any], key: str) -> dict[str, Any]:
    """``ckpt[key]``, which must be a table (a damaged file may hold a tensor or a list)."""
    value = _entry(ckpt, key)
    if not isinstance(value, dict):
        raise TypeError(f"it is a {type(value).__name__}, not a table")
    return value


def _counter(ckpt: dict[str, Any], key: str, kind: type) -> Any:
    """``ckpt[key]`` as ``kind``: a bool, or a number of at least 0 (an int unless a float)."""
    value = _entry(ckpt, key)
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{value!r:.60} is not true or false")
        return value
    allowed = (int, float) if kind is float else (int,)  # (a bool is an int: refused)
    number = isinstance(value, allowed) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        kind_name = "an int" if kind is int else "a float"
        raise TypeError(f"{value!r:.60} is not {kind_name} of at least 0")
    return kind(value)


Reporter = Callable[[dict[str, Any]], None]


class Trainer:
    """Runs updates on a ``TrainState``, logging and checkpointing into a run directory."""

    def __init__(self, state: TrainState, out_dir: Path, report: Reporter | None = None) -> None:
        cfg = state.cfg
        self.state, self.out_dir, self.report = state, out_dir, report
        self.machine = build_machine(cfg)
        self.algo = build_algorithm(cfg)
        self.tasks = build_task_set(cfg)
        self.n_tokens, self.masked = decode_tokens(cfg), cfg.decode.mode == "closed"
        self.started = time.perf_counter()

    def wall(self) -> float:
        """Training wall time so far, across resumes."""
        return self.state.wall_s + time.perf_counter() - self.started

    def checkpoint(self, log: MetricsLog) -> None:
        """Make the metrics durable, then atomically replace the checkpoint."""
        s = self.state
        s.metrics_bytes = log.sync()
        save_checkpoint(self.out_dir / CHECKPOINT, s.to_checkpoint(wall_s=self.wall()))

    def step(self) -> dict[str, Any]:
        """One update; returns its metrics. Raises ``NonFiniteError`` before a bad step."""
        s, t = self.state, self.state.cfg.train
        s.model.train()
        n_contexts = self.algo.contexts_per_update(t.batch_size)
        stages = s.curriculum.stages(s.update, n_contexts, s.gens.data)
        focus = s.cfg.curriculum.focus
        contexts = self.tasks.sample(stages, s.gens.data, s.curriculum.failure, focus)
        batch = self.algo.expand(contexts)
        if s.cfg.model.positions == "randomized":
            batch.position_offset = torch.randint(
                RANDOM_OFFSETS, (len(batch),), generator=s.gens.data, device=s.device
            )
        try:
            ro = rollout(
                s.model,
                self.machine,
                batch,
                self.n_tokens,
                s.gens.policy,
                masked=self.masked,
                decode_all=self.algo.decodes_after_end,
            )
            parts = self.algo.update(s.model, s.optimizer, batch, ro, s.gens.policy)
        except NonFiniteError as err:
            raise NonFiniteError(
                err.what, err.loss, err.grad_norm, s.update + 1, self.out_dir
            ) from None
        s.curriculum.record(batch.task, ro.correct)
        s.update += 1
        s.episodes += len(batch)
        current = batch.stage == s.curriculum.stage  # the stage being learned
        return {
            "stage": s.curriculum.stage,
            "train_acc": round(float(ro.correct[current].float().mean()), 6),
            "train_reward": round(float(ro.reward.sum(1).mean()), 6),
            **{k: round(float(v), 6) for k, v in parts.items()},
        }

    def periodic_eval(self) -> dict[str, Any]:
        """Greedy evaluation; promotes the curriculum and decides an early stop."""
        s, t = self.state, self.state.cfg.train
        s.model.eval()
        acc = evaluate(s.model, s.cfg, t.eval_episodes, s.gens.eval, held_out=True)
        out: dict[str, Any] = {"eval": accuracy_dict(acc)}
        if HELD_OUT in acc:
            out["eval_held_out"] = acc.pop(HELD_OUT).accuracy
        out["promoted"] = s.curriculum.observe(_rates(acc))
        if t.stop_when_solved and s.curriculum.solved(_rates(acc)):
            # A passing 256-episode check is noisy: confirm on a larger fresh sample, and stop
            # only when even its 95% lower bound is at mastery, so that a policy sitting right
            # at the threshold trains on instead of stopping and then failing the final table.
            confirm = evaluate(s.model, s.cfg, t.final_eval_episodes, s.gens.eval)
            out["confirm"] = accuracy_dict(confirm)
            s.stopped = s.curriculum.solved({k: a.low for k, a in confirm.items()})
        return out

    def run(self) -> None:
        """Update until solved or out of updates, checkpointing every ``checkpoint_every``."""
        s, t = self.state, self.state.cfg.train
        with MetricsLog(self.out_dir, t.tensorboard, s.metrics_bytes, s.update) as log:
            if s.update == 0:
                self.checkpoint(log)  # so that a run killed at any moment can be resumed
            while not s.stopped and s.update < t.max_updates:
                parts = self.step()
                record: dict[str, Any] = {}
                if s.update % t.eval_every == 0 or s.update == t.max_updates:
                    record = self.periodic_eval()
                s.stopped = s.stopped or s.update == t.max_updates
                if record or s.update % t.log_every == 0:
                    record = {
                        "update": s.update,
                        "episodes": s.episodes,
                        "wall_s": round(self.wall(), 4),
                        **parts,
                        **record,
                    }
                    log.log(record)
                    if self.report:
                        self.report(record)
                if s.stopped or s.update % t.checkpoint_every == 0:
                    self.checkpoint(log)

    def finish(self) -> dict[str, Any]:
        """Final greedy table on fresh episodes; writes and returns ``result.json``."""
        s, t = self.state, self.state.cfg.train
        s.model.eval()
        final = evaluate(s.model, s.cfg, t.final_eval_episodes, s.gens.final, held_out=True)
        held = final.pop(HELD_OUT, None)
        result = {
            "accuracy": accuracy_dict(final),
            "interval": {str(k): [a.low, a.high] for k, a in final.items()},
            "eval_episodes": t.final_eval_episodes,
            "solved": all(a.accuracy >= s.cfg.curriculum.mastery for a in final.values()),
            "updates": s.update,
            "episodes": s.episodes,
            "wall_s": round(self.wall(), 3),
            "seed": t.seed,
            "machine": s.cfg.machine.name,
            **environment(s.device),
            "optimality": {str(k): a.optimality for k, a in final.items()},
        }
        if held is not None or any(len(a.per_task) > 1 for a in final.values()):
            result["tasks"] = {e: [k, n] for a in final.values() for e, k, n in a.per_task}
        if held is not None:
            result["held_out"] = held_out_dict(held)
        if (self.out_dir / COMMAND).is_file():
            result["command"] = (self.out_dir / COMMAND).read_text(errors="replace").strip()
        atomic_write_json(self.out_dir / RESULT, result)
        return result


def train(
    cfg: Config,
    out_dir: Path,
    report: Reporter | None = None,
    *,
    resume: bool = False,
    command: str | None = None,
) -> dict[str, Any]:
    """Train one run into ``out_dir`` (or continue it, with ``resume``); return ``result.json``.

    ``report`` is called with every metrics record (for progress displays); ``command``, the
    command line that started a fresh run, is kept in ``command.txt`` and ``result.json``.
    Only one process writes a run directory at a time: another live writer is refused with
    ``RunDirBusy`` (``nativeagent.runlock``).
    """
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if not resume:
        out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir, command=command):
        return _train_locked(cfg, out_dir, report, resume, command)


def _train_locked(
    cfg: Config, out_dir: Path, report: Reporter | None, resume: bool, command: str | None
) -> dict[str, Any]:
    """``train``'s work, done while this process holds the run directory's lock."""
    if resume:
        remove_stale_temporaries(out_dir)
        state = TrainState.from_checkpoint(out_dir)
    else:
        save_config(cfg, out_dir)
        (out_dir / COMMAND).unlink(missing_ok=True)  # an overwritten run's
        (out_dir / RESULT).unlink(missing_ok=True)  # ... whose result would call this one finished
        if command is not None:
            atomic_write_bytes(out_dir / COMMAND, f"{command}\n".encode())
        state = TrainState.fresh(cfg)
    trainer = Trainer(state, out_dir, report)
    trainer.run()
    return trainer.finish()


def resume_config(run_dir: Path) -> Config:
    """The configuration a run directory's checkpoint was trained with."""
    try:
        return from_dict(load_checkpoint(run_dir)["config"])
    except (KeyError, ConfigError) as err:
        raise RunDirError(f"checkpoint in {run_dir} has an unusable config: {err}") from None
