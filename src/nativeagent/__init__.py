"""nativeagent: train model-native agents that learn tool use by reinforcement learning."""

from importlib.util import find_spec

from nativeagent import tokens
from nativeagent.machine import Outcome, execute

__version__ = "0.1.0"
__all__ = ["Outcome", "__version__", "execute", "tokens"]

if find_spec("gymnasium") is not None:  # the optional extra nativeagent[gym]
    from nativeagent.envs import register_envs

    register_envs()
