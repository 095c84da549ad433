"""nativeagent: train model-native agents that learn tool use by reinforcement learning.

The Python API (``load_config``, ``train``, ``load`` and the ``Agent`` it returns, in
``nativeagent.agent``) and ``execute`` are imported on first use (they need torch), so
that ``import nativeagent`` (and the command line's start-up) stays cheap. When Gymnasium is
installed, importing the package registers the Gym environments (``nativeagent.envs.ENV_ID``)
as soon as Gymnasium is loaded.
"""

from importlib.util import find_spec

from nativeagent import tokens
from nativeagent._lazy import lazy_exports
from nativeagent.machine.outcome import Outcome

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "execute": "tasks.execution",
        "Agent": "agent",
        "load": "agent",
        "load_config": "agent",
        "train": "agent",
    },
)

__all__ = ["Agent", "Outcome", "__version__", "execute", "load", "load_config", "tokens", "train"]

if find_spec("gymnasium") is not None:  # the optional extra nativeagent[gym]
    from nativeagent.envs.registration import register_when_gymnasium_loads

    register_when_gymnasium_loads()
