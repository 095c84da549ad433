"""Gymnasium environments (extra ``nativeagent[gym]``): ``nativeagent/ToolMachine-v0``.

``import nativeagent`` registers them when Gymnasium is installed, so
``gymnasium.make(ENV_ID, stage=2)`` and ``gymnasium.make_vec(ENV_ID, num_envs=64)`` both work,
over the built-in stages or any expressions (``tasks=["a*b+c", "(a-b)*c"]``, or a ``TaskSet``),
in task mode (``show_expression=True``) and on any machine (``machine="extended"``). TorchRL's
``GymWrapper`` takes both classes, Stable-Baselines3 the single one. They load on first use.
"""

from nativeagent._lazy import lazy_exports
from nativeagent.envs.registration import ENV_ID, register_envs

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ACTION_NAMES": "tool_machine",
        "ACTION_TOKENS": "tool_machine",
        "ToolMachineEnv": "tool_machine",
        "ToolMachineVectorEnv": "vector",
        "policy_accuracy": "vector",
    },
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
