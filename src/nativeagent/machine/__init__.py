"""The tool machines: the tool table and everything derived from it (see docs/machine.md).

``tools`` is the table (profiles ``canonical`` and ``extended``), ``rules`` its one interpreter,
``reference`` runs one program in plain Python, ``solver`` finds shortest programs symbolically,
``batched`` steps many episodes at once in torch, and ``legacy`` is the tutorial's reward
function (``seed-legacy``). This package imports nothing from the task or training layers.
"""

from nativeagent._lazy import lazy_exports
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.tools import (
    CANONICAL,
    EXTENDED,
    LEGACY,
    MACHINES,
    PROFILES,
    Profile,
    Tool,
    check_machine,
    profile,
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BatchedMachine": "base",
        "Episodes": "base",
        "ToolMachine": "batched",
        "Shaping": "batched",
        "LegacyMachine": "legacy",
        "make_machine": "machines",
    },
)

__all__ = [
    "CANONICAL",
    "EXTENDED",
    "LEGACY",
    "MACHINES",
    "PROFILES",
    "BatchedMachine",
    "Episodes",
    "LegacyMachine",
    "Outcome",
    "Profile",
    "Shaping",
    "Tool",
    "ToolMachine",
    "check_machine",
    "make_machine",
    "profile",
]
