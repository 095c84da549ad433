"""Helpers several test folders share."""

from __future__ import annotations

from nativeagent.machine import rules
from nativeagent.machine.tools import CANONICAL


def canonical_legal(acc: int | None, mem: int | None, p: int, armed: bool, n: int) -> set[int]:
    """The canonical tools legal in a state, from the tool table's rules (``rules.legal``)."""
    state = rules.State((acc, mem), p, "mem" if armed else None)
    return {t.token for t in rules.legal(CANONICAL, state, n)}
