"""Exports on the Hugging Face Hub (extra ``nativeagent[hub]``): ``PyTorchModelHubMixin`` over
an export's policy.

``HubAgent.from_pretrained(DIR_OR_REPO)`` reads an export (``nativeagent export``) with
``huggingface_hub``; ``save_pretrained`` writes one that ``nativeagent.load`` reads; nothing
here goes online unless the user calls ``push_to_hub`` or passes a repository id.
"""

from __future__ import annotations

from typing import Any

try:
    from huggingface_hub import ModelCard, PyTorchModelHubMixin
except ImportError as err:  # the optional extra
    raise ImportError(
        f"{__name__} needs huggingface_hub: pip install 'nativeagent[hub]' ({err})"
    ) from err

from nativeagent.agent import Agent
from nativeagent.training.export import ExportedAgent, model_card


class HubAgent(
    ExportedAgent,
    PyTorchModelHubMixin,
    library_name="nativeagent",
    tags=["reinforcement-learning", "tool-use", "model-native-agent"],
    license="mit",
):
    """An export's policy with ``from_pretrained``, ``save_pretrained`` and ``push_to_hub``.

    ``config`` is the content of the export's ``config.json``; the mixin passes it on loading
    and writes it back on saving.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.export_content = config

    def agent(self) -> Agent:
        """The loaded policy as a ``nativeagent.Agent`` (``solve``, ``evaluate``, ...)."""
        return Agent(self.policy.eval(), self.run_config)

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """nativeagent's own model card (task set, accuracy with intervals, command)."""
        return ModelCard(model_card(self.export_content))


__all__ = ["HubAgent"]
