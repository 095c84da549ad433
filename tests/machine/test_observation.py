"""What the agent observes of the machine: features derived from the tool table, for every
profile, that follow the batched machine's state step by step."""

import pytest
import torch

from nativeagent.machine import observation, rules
from nativeagent.machine.batched import ToolMachine
from nativeagent.machine.tools import CANONICAL, EXTENDED, PROFILES
from tests.helpers import episode_batch


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_every_profile_has_features_of_its_registers_and_cells(profile) -> None:
    names = observation.names(profile)
    assert len(names) == observation.size(profile)
    for register in profile.registers:
        assert f"{register} set" in names
    for cell in profile.cells:
        assert f"{cell} armed" in names


def test_extended_observes_its_second_cell() -> None:
    assert observation.size(EXTENDED) == observation.size(CANONICAL) + 2  # mem2 set, armed


@pytest.mark.parametrize(
    ("profile", "program"),
    [
        (CANONICAL, ["SUB", "STO", "SUB", "RCL", "MUL", "ANS"]),
        (EXTENDED, ["LOAD", "STO", "ADD", "RCL", "MUL", "ANS"]),
    ],
)
def test_the_batched_machine_shows_the_rules_state_after_every_tool(profile, program) -> None:
    """Step the table's rules and the batched machine side by side: the features agree."""
    context = [3, 4, 5, 6][: 4 if profile is CANONICAL else 3]
    machine = ToolMachine(profile)
    machine.reset(episode_batch([context], [0]))
    state = rules.start(profile)
    for name in program:
        filled = state.filled(profile.registers)
        expected = observation.features(profile, filled, state.armed, state.p, len(context))
        assert machine.observe()[0].tolist() == list(expected)
        move = rules.move(profile, profile.tool(name), state, len(context))
        state = rules.apply(profile, move, state, context)
        machine.step(torch.tensor([profile.tool(name).token]))
    assert machine.observe()[0].tolist() == [0.0] * observation.size(profile)  # answered


def test_counts_are_capped_so_longer_expressions_map_onto_trained_features() -> None:
    empty = frozenset()
    assert observation.features(CANONICAL, empty, None, 0, 9) == observation.features(
        CANONICAL, empty, None, 0, observation.CAP
    )
