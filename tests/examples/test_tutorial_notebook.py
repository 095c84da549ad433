"""``examples/tutorial.ipynb`` runs top to bottom (nbclient, a real kernel), the claims its text
makes hold for the numbers it computed, and the outputs committed with it (which the docs site
shows) agree with a fresh run."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "tutorial.ipynb"

#: Run in the notebook's kernel after its last cell: what the prose says about the tables.
CLAIMS = """
acc = dict(rows)
tutorial = acc["the tutorial, exactly"]
# The tutorial's metric says stage 0 is done; greedy accuracy on the stated target says not.
assert tutorial[0].mean_reward > 1.0 and tutorial[0].accuracy < 0.2, tutorial[0]
# Closed-loop masked decoding is what makes stages 0 and 1 learnable ...
assert all(acc["+ canonical machine"][s].accuracy < 0.2 for s in (0, 1))
assert all(acc["+ closed loop, masked"][s].accuracy >= 0.99 for s in (0, 1))
# ... at lr 3e-4 stage 2 stays unsolved in 300 updates, and the default config solves it.
assert all(acc[k][2].accuracy < 0.99 for k in ("+ closed loop, masked", "+ mastery curriculum"))
assert default.solved
assert all(a.accuracy >= 0.99 for a in acc["+ tuned lr, entropy (default)"].values())
assert solution.correct
# The two identical rows: both runs end on stage 1's program as a stage-2 shortcut.
assert acc["+ closed loop, masked"] == acc["+ mastery curriculum"]
assert all(p.most_common(1)[0][0] == "MUL ADD SUB ANS" for p in shortcut.values()), shortcut
"""

#: A row of the notebook's accuracy table: label, then per stage ``acc [low, high]``.
ROW = re.compile(r"^\| (?P<label>[^|]+?) \| (?P<cells>.+) \|$")
CELL = re.compile(r"(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]")


def accuracy_tables(nb: nbformat.NotebookNode) -> dict[str, list[tuple[float, float, float]]]:
    """Every displayed table row, by label: (accuracy, low, high) per stage."""
    rows = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("data", {}).get("text/markdown", "").splitlines():
                if (m := ROW.match(line)) and (cells := CELL.findall(m["cells"])):
                    rows[m["label"]] = [tuple(map(float, c)) for c in cells]
    return rows


def test_the_committed_outputs_agree_with_a_fresh_run(executed: nbformat.NotebookNode) -> None:
    """Each fresh accuracy lies inside the committed 95% interval (bit-equal on this machine;
    another CPU may round sums differently, so not byte equality)."""
    committed = accuracy_tables(nbformat.read(NOTEBOOK, as_version=4))
    fresh = accuracy_tables(executed)
    assert committed.keys() == fresh.keys() and len(fresh) == 8
    for label, stages in fresh.items():
        for (accuracy, _, _), (_, low, high) in zip(stages, committed[label], strict=True):
            assert low <= accuracy <= high, (label, stages, committed[label])


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """The notebook run from scratch (committed outputs dropped), with the claims cell after it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.append(nbformat.v4.new_code_cell(CLAIMS))
    path = tmp_path_factory.mktemp("notebook")
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path)}}
    )
    client.execute()
    return nb


def test_the_notebook_is_committed_with_its_outputs() -> None:
    """Someone browsing it (or the docs site) sees its numbers and plots."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_the_tutorial_notebook_runs_and_its_claims_hold(executed: nbformat.NotebookNode) -> None:
    nb = executed
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 2  # the fixes' bar chart and the default run's curves
