"""Bridges to other libraries, each imported on its own (``import nativeagent`` loads none)."""
