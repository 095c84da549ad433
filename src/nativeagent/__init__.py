"""nativeagent: train model-native agents that learn tool use by reinforcement learning."""

from nativeagent import tokens
from nativeagent.machine import Outcome, execute

__version__ = "0.1.0"
__all__ = ["Outcome", "__version__", "execute", "tokens"]
