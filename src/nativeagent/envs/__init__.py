"""Gymnasium environments (extra ``nativeagent[gym]``): ``nativeagent/ToolMachine-v0``.

``import nativeagent`` registers them when Gymnasium is installed, so
``gymnasium.make(ENV_ID, stage=2)`` and ``gymnasium.make_vec(ENV_ID, num_envs=64)`` both work.
"""

from __future__ import annotations

import gymnasium

from nativeagent.envs.tool_machine import ACTION_NAMES, ACTION_TOKENS, ToolMachineEnv
from nativeagent.envs.vector import ToolMachineVectorEnv, policy_accuracy

ENV_ID = "nativeagent/ToolMachine-v0"


def register_envs() -> None:
    """Register ``ENV_ID`` (single and vector entry points) unless it already is."""
    if ENV_ID in gymnasium.registry:
        return
    gymnasium.register(
        ENV_ID,
        entry_point="nativeagent.envs.tool_machine:ToolMachineEnv",
        vector_entry_point="nativeagent.envs.vector:ToolMachineVectorEnv",
    )


__all__ = [
    "ACTION_NAMES",
    "ACTION_TOKENS",
    "ENV_ID",
    "ToolMachineEnv",
    "ToolMachineVectorEnv",
    "policy_accuracy",
    "register_envs",
]
