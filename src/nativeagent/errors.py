"""The errors a user's mistake raises: each message names the problem (and the key or file).

They live apart from the modules that raise them so that the command line can catch them
without importing those modules (and torch) first.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem, with a message that names the offending key."""


class RunDirError(ValueError):
    """A run directory or checkpoint that cannot be used, with the reason."""


#: The shipped presets (``configs/<name>.toml``).
PRESETS = ("default", "tutorial", "generalization")

__all__ = ["PRESETS", "ConfigError", "RunDirError"]
