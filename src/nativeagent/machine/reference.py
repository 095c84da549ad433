"""The plain-Python reference machine: one program on one context, with a readable trace.

Written for reading, not speed: it is the oracle that the batched machine is tested against
(and both are tested against independent vectors). Every rule comes from the tool table
through ``rules``; nothing here knows what any tool does.

>>> from nativeagent.machine.tools import EXTENDED as P
>>> program = [P.tool(t).token for t in ("LOAD", "STO", "ADD", "RCL", "MUL", "ANS")]
>>> run_program(P, program, [3, 4, 5], target=27).format_trace()
'LOAD acc=3 · STO mem=3 · ADD acc=9 · RCL · MUL acc=27 · ANS ✓'
"""

from __future__ import annotations

from collections.abc import Sequence

from nativeagent.machine import rules
from nativeagent.machine.outcome import Outcome
from nativeagent.machine.tools import Profile, Tool


def format_trace(tool: Tool, profile: Profile, state: rules.State[int], verdict: str = "") -> str:
    """A tool's trace entry after it acted: its ``trace`` template with the registers filled in."""
    values = dict(zip(profile.registers, state.values, strict=True))
    return tool.trace.format(verdict=verdict, **values)


def run_program(
    profile: Profile,
    program: Sequence[int],
    context: Sequence[int],
    target: int,
    max_steps: int | None = None,
) -> Outcome:
    """Run token ids ``program`` on ``context``; correct means answering ``target``.

    An illegal token (a non-tool, or a tool whose guards all fail), a state where no tool is
    legal, or no answer within ``max_steps`` (the profile's default) ends the episode unsolved.
    """
    limit = profile.max_steps if max_steps is None else max_steps
    x, n = list(context), len(context)
    state: rules.State[int] = rules.start(profile)
    trace: list[str] = []
    for t, token in enumerate(program[:limit]):
        tool = profile.by_token.get(token)
        m = rules.move(profile, tool, state, n) if tool is not None else None
        if tool is None or m is None:
            trace.append(f"{profile.vocabulary.get(token, token)} ✗ illegal")
            return Outcome(None, False, 0.0, t + 1, tuple(trace))
        if m.answers:
            (answer,) = rules.read(profile, m, state, x)
            assert answer is not None
            correct = answer == target
            trace.append(format_trace(tool, profile, state, "✓" if correct else "✗"))
            return Outcome(answer, correct, float(correct), t + 1, tuple(trace))
        state = rules.apply(profile, m, state, x)
        trace.append(format_trace(tool, profile, state))
        if rules.stuck(profile, state, n):
            trace.append("stuck: no legal tool")
            return Outcome(None, False, 0.0, t + 1, tuple(trace))
    return Outcome(None, False, 0.0, min(len(program), limit), tuple(trace))


__all__ = ["format_trace", "run_program"]
