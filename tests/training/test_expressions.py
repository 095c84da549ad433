"""Greedy accuracy on any expression set: a policy that plays the solver's programs scores 1.0
(longer expressions included, on a larger machine too), episodes go to every expression in
turn, and runs that cannot be evaluated so are refused with the reason."""

from collections.abc import Sequence
from typing import Any

import pytest
import torch

from nativeagent.config import Config, load_config
from nativeagent.machine.tools import profile
from nativeagent.tasks.generate import all_reachable, parse_expressions
from nativeagent.tasks.solver import solve
from nativeagent.tasks.task import Task
from nativeagent.tasks.taskset import Batch
from nativeagent.training.expressions import (
    check_machine_for,
    evaluate_expressions,
    expression_rollouts,
    step_limit,
)

#: Task mode over every canonical expression of 2..4 operands (the generalization study's set).
TASK_MODE = ["task.show_expression=true", "task.all_reachable=4"]
#: 6 operands, 10 tools each on canonical: more than the run's own limit of 8.
LONG = ["(a-b)*(c+d)*(e+f)", "(a+b+c*d)*(e-f)"]


class SolverPolicy:
    """Plays the solver's program of each episode's expression (ids index ``tasks``): logit
    -50 for that tool and -100 for every other token of a ``vocab_size`` vocabulary."""

    def __init__(self, tasks: Sequence[Task], machine: str, max_steps: int, vocab_size: int):
        programs = [solve(t.tree, machine, max_steps).program or () for t in tasks]
        width = max(map(len, programs))
        ans = profile(machine).tool("ANS").token
        rows = [list(p) + [ans] * (width - len(p)) for p in programs]
        self.programs, self.vocab_size = torch.tensor(rows), vocab_size

    def start(self, batch: Batch) -> tuple[Any, torch.Tensor]:
        return (self.programs[batch.task], 0), torch.zeros_like(batch.task)

    def step(self, state: Any, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        programs, t = state
        logits = torch.full((programs.shape[0], self.vocab_size), -100.0)
        logits[torch.arange(programs.shape[0]), programs[:, min(t, programs.shape[1] - 1)]] = -50
        return logits, torch.zeros(programs.shape[0]), (programs, t + 1)


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(overrides=TASK_MODE)


def test_step_limit_grows_with_the_operands(cfg: Config) -> None:
    assert cfg.max_steps == 8
    assert [step_limit(cfg, n) for n in (2, 4, 5, 6, 8)] == [8, 8, 10, 12, 16]


def test_solver_policy_scores_one_on_longer_expressions(cfg: Config) -> None:
    tasks = [*parse_expressions(LONG), *all_reachable(5, "canonical", 10)[:5]]
    policy = SolverPolicy(tasks, "canonical", 12, profile("canonical").vocab_size)
    gen = torch.Generator().manual_seed(0)
    acc = evaluate_expressions(policy, cfg, tasks, 70, gen)
    assert (acc.machine, acc.max_steps) == ("canonical", 12)
    assert (acc.correct, acc.episodes, acc.accuracy) == (70, 70, 1.0)
    assert acc.high == pytest.approx(1.0) and 0.9 < acc.low < 1.0
    assert [e for e, _, _ in acc.per_expression] == [t.expression for t in tasks]
    assert all(k == n == 10 for _, k, n in acc.per_expression)


def test_episodes_go_to_each_expression_in_turn(cfg: Config) -> None:
    tasks = list(all_reachable(3, "canonical", 8))[:7]
    policy = SolverPolicy(tasks, "canonical", 8, profile("canonical").vocab_size)
    acc = evaluate_expressions(policy, cfg, tasks, 20, torch.Generator().manual_seed(1))
    assert [n for _, _, n in acc.per_expression] == [3, 3, 3, 3, 3, 3, 2]
    data = acc.to_json()
    assert set(data) == {"overall", "expressions", "machine", "max_steps"}
    assert set(data["overall"]) == {"accuracy", "interval", "episodes"}
    assert sum(v["episodes"] for v in data["expressions"].values()) == data["overall"]["episodes"]


def test_a_policy_that_stops_early_scores_zero(cfg: Config) -> None:
    tasks = parse_expressions(["(a*b+c)-(d*e)"])
    policy = SolverPolicy(parse_expressions(["a*b+c"]), "canonical", 8, 18)  # MUL ADD ANS
    acc = evaluate_expressions(policy, cfg, tasks, 50, torch.Generator().manual_seed(2))
    assert acc.correct < 50  # right only where d*e = 0


def test_extended_machine_runs_a_canonical_agent_without_its_new_tools(cfg: Config) -> None:
    tasks = [*parse_expressions(LONG), *all_reachable(4, "canonical")[:10]]
    policy = SolverPolicy(tasks, "canonical", 12, profile("canonical").vocab_size)
    gen = torch.Generator().manual_seed(3)
    task_set, chunks = expression_rollouts(policy, cfg, tasks, 120, gen, "extended")
    assert task_set.machine == "extended"
    for _, ro in chunks:
        assert ro.correct.all()
        # LOAD (18) is legal at the start, and a padded logit above -50 would win there.
        assert int(ro.actions[ro.alive].max()) < 18
    acc = evaluate_expressions(policy, cfg, tasks, 120, gen, "extended")
    assert acc.accuracy == 1.0 and acc.machine == "extended"


class ObservingSolverPolicy(SolverPolicy):
    """A ``SolverPolicy`` that observes the machine (``decode.observe``) and keeps what it saw."""

    observes = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: list[torch.Tensor] = []

    def step(
        self, state: Any, token: torch.Tensor, obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        assert obs is not None
        self.seen.append(obs)
        return super().step(state, token)


def test_an_observing_agent_sees_its_own_machines_features_on_a_larger_one() -> None:
    cfg = load_config(overrides=[*TASK_MODE, "decode.observe=true"])
    tasks = list(all_reachable(4, "canonical"))[:12]
    runs = {}
    for machine in ("canonical", "extended"):
        policy = ObservingSolverPolicy(tasks, "canonical", 8, 18)
        gen = torch.Generator().manual_seed(4)
        acc = evaluate_expressions(policy, cfg, tasks, 48, gen, machine)
        assert acc.accuracy == 1.0
        runs[machine] = torch.stack(policy.seen, 1)
    assert runs["canonical"].shape[-1] == 11
    assert torch.equal(runs["canonical"], runs["extended"])


def test_runs_that_do_not_read_the_expression_are_refused() -> None:
    with pytest.raises(ValueError, match=r"task\.show_expression"):
        check_machine_for(load_config())
    policy = SolverPolicy(parse_expressions(["a*b"]), "canonical", 8, 18)
    with pytest.raises(ValueError, match=r"task\.show_expression"):
        evaluate_expressions(
            policy, load_config(), parse_expressions(["a*b"]), 4, torch.Generator()
        )


def test_seed_legacy_and_machines_that_do_not_extend_the_runs_are_refused(cfg: Config) -> None:
    with pytest.raises(ValueError, match="seed-legacy"):
        check_machine_for(cfg, "seed-legacy")
    with pytest.raises(ValueError, match="seed-legacy"):
        check_machine_for(load_config(overrides=['machine.name="seed-legacy"']))
    extended = load_config(overrides=[*TASK_MODE, 'machine.name="extended"'])
    with pytest.raises(ValueError, match=r"'canonical'.*'extended'"):
        check_machine_for(extended, "canonical")
    with pytest.raises(ValueError, match="unknown machine"):
        check_machine_for(cfg, "bogus")
    assert check_machine_for(cfg) == "canonical"
    assert check_machine_for(cfg, "extended") == "extended"


def test_too_few_episodes_for_the_set_are_refused(cfg: Config) -> None:
    tasks = list(all_reachable(3, "canonical", 8))
    policy = SolverPolicy(tasks, "canonical", 8, 18)
    with pytest.raises(ValueError, match=f"at least {len(tasks)}"):
        evaluate_expressions(policy, cfg, tasks, 5, torch.Generator())
