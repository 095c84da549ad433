"""Registering the Gym ids, without importing Gymnasium before anyone else does.

``import nativeagent`` calls ``register_when_gymnasium_loads``: if Gymnasium is already loaded
the ids are registered at once, otherwise as soon as anything imports it (a finder on
``sys.meta_path`` runs ``register_envs`` right after Gymnasium's own module has executed). So
``import nativeagent; import gymnasium; gymnasium.make(ENV_ID)`` works, and a process that never
uses Gymnasium (the command line) never pays for importing it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

ENV_ID = "nativeagent/ToolMachine-v0"


def register_envs() -> None:
    """Register ``ENV_ID`` (single and vector entry points) unless it already is.

    ``gymnasium.make(ENV_ID, **kwargs)`` passes its keywords to ``ToolMachineEnv`` and
    ``gymnasium.make_vec(ENV_ID, num_envs=N, **kwargs)`` to ``ToolMachineVectorEnv``: ``stage``,
    ``machine``, ``max_steps``, ``tasks`` (expressions or a ``TaskSet``), ``show_expression``,
    ``partial_reward``, ``process_reward``, ``render_mode``.
    """
    import gymnasium

    if ENV_ID in gymnasium.registry:
        return
    gymnasium.register(
        ENV_ID,
        entry_point="nativeagent.envs.tool_machine:ToolMachineEnv",
        vector_entry_point="nativeagent.envs.vector:ToolMachineVectorEnv",
    )


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; runs ``then`` once the top-level module ``name`` has executed."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.then = name, then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once only, and never in the way of the real import
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module, then = spec.loader.exec_module, self.then

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            then()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def register_when_gymnasium_loads() -> None:
    """Register now if Gymnasium is loaded, else right after something first imports it."""
    if "gymnasium" in sys.modules:
        register_envs()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("gymnasium", register_envs))


__all__ = ["ENV_ID", "register_envs", "register_when_gymnasium_loads"]
