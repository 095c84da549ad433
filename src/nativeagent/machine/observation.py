"""What the agent may observe of the machine after each tool: its control state, as features.

The features come from the tool table alone, so every profile has them: one per register
(it holds a value), one per memory cell (it is armed), then how many operands have been read
and how many are left, each as a one-hot capped at ``CAP`` (the last slot means "``CAP`` or
more"). Counts are capped so that a longer expression than any seen in training still maps
onto trained features. Values are not observed.

Optionally (``unused``), one more per memory cell: it holds a value that no operator has used
yet. A cell keeps its value after ``RCL`` and an operator have used it, so its ``set`` feature
alone cannot tell an agent without memory of its own actions whether the recall is still to
come; the batched machine keeps these bits beside its control state (``ToolMachine.unused``).

>>> from nativeagent.machine.tools import CANONICAL
>>> names(CANONICAL)[:4], size(CANONICAL)
(('acc set', 'mem set', 'mem armed', 'read 0'), 11)
>>> features(CANONICAL, frozenset({"acc"}), None, p=2, n=3)
(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
"""

from __future__ import annotations

from nativeagent.machine.tools import Profile

#: Counts of read and unread operands are one-hot over 0..CAP-1, and CAP for "CAP or more".
CAP = 3


def names(profile: Profile, unused: bool = False) -> tuple[str, ...]:
    """The name of every feature, in order (with ``unused``: the cells' ``unused`` last)."""
    counts = [f"{k}" for k in range(CAP)] + [f"{CAP}+"]
    return (
        *(f"{r} set" for r in profile.registers),
        *(f"{c} armed" for c in profile.cells),
        *(f"read {k}" for k in counts),
        *(f"unread {k}" for k in counts),
        *(f"{c} unused" for c in (profile.cells if unused else ())),
    )


def size(profile: Profile, unused: bool = False) -> int:
    """How many features a state of ``profile`` has (the same for every operand count)."""
    return len(names(profile, unused))


def _one_hot(k: int) -> tuple[float, ...]:
    return tuple(float(i == min(k, CAP)) for i in range(CAP + 1))


def features(
    profile: Profile, filled: frozenset[str], armed: str | None, p: int, n: int
) -> tuple[float, ...]:
    """The features of one control state: registers set, cell armed, operands read and left."""
    return (
        *(float(r in filled) for r in profile.registers),
        *(float(c == armed) for c in profile.cells),
        *_one_hot(p),
        *_one_hot(n - p),
    )


__all__ = ["CAP", "features", "names", "size"]
