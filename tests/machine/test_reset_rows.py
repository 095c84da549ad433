"""``reset_rows`` restarts chosen episodes exactly like a fresh ``reset`` and leaves the rest."""

import pytest
import torch

from nativeagent.machine import make_machine
from nativeagent.tasks import make_batch, sample_batch
from nativeagent.tokens import STO, TOOLS


@pytest.mark.parametrize("name", ["canonical", "seed-legacy"])
def test_reset_rows_matches_fresh_episodes(name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    n = 400
    old = sample_batch(torch.randint(0, 3, (n,), generator=gen), gen)
    new = sample_batch(torch.randint(0, 3, (n,), generator=gen), gen)
    rows = torch.rand(n, generator=gen) < 0.5
    actions = torch.tensor(TOOLS)[torch.randint(0, 6, (6, n), generator=gen)]
    actions[0] = STO  # makes many canonical episodes end at once: they must restart cleanly

    machine, fresh, kept = make_machine(name), make_machine(name), make_machine(name)
    machine.reset(old)
    kept.reset(old)
    for t in range(3):
        machine.step(actions[t])
        kept.step(actions[t])
    mixed = make_batch(torch.where(rows[:, None], new.context, old.context),
                       torch.where(rows, new.stage, old.stage))  # fmt: skip
    machine.reset_rows(mixed, rows)
    fresh.reset(mixed)
    assert torch.equal(machine.legal()[rows], fresh.legal()[rows])
    assert torch.equal(machine.legal()[~rows], kept.legal()[~rows])
    for t in range(3, 6):
        r_machine, _ = machine.step(actions[t])
        r_fresh, _ = fresh.step(actions[t])
        r_kept, _ = kept.step(actions[t])
        assert torch.equal(r_machine[~rows], r_kept[~rows])
        assert torch.equal(r_machine[rows], r_fresh[rows])
    for attr in ("answer", "answered", "done", "steps"):
        got = getattr(machine, attr)
        assert torch.equal(got[rows], getattr(fresh, attr)[rows]), attr
        assert torch.equal(got[~rows], getattr(kept, attr)[~rows]), attr
