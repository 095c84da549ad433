"""The errors the command line reports (a user's mistake, a damaged run, a run that diverged);
each message names the problem (and the key or file).

They live apart from the modules that raise them so that the command line can catch them
without importing those modules (and torch) first.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, with a message that names the offending key."""


class RunDirError(ValueError):
    """A run directory or checkpoint that cannot be used, with the reason."""


class NonFiniteError(RuntimeError):
    """The loss, the gradients or the policy's output stopped being finite; the bad step was
    not taken."""

    def __init__(
        self,
        what: str,
        loss: float | None = None,
        grad_norm: float | None = None,
        update: int | None = None,
        run_dir: object | None = None,
    ) -> None:
        where = f" at update {update}" if update is not None else ""
        msg = f"non-finite {what}{where}"
        if loss is not None:
            msg += f" (loss={loss}, grad_norm={grad_norm})"
        if run_dir is not None:
            msg += f"; training stopped and the last good checkpoint in {run_dir} is intact"
        super().__init__(msg)
        self.what, self.loss, self.grad_norm = what, loss, grad_norm


#: The shipped presets (``configs/<name>.toml``).
PRESETS = ("default", "tutorial", "generalization")

__all__ = ["PRESETS", "ConfigError", "NonFiniteError", "RunDirError"]
