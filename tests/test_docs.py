"""docs/machine.md against the tool table, so the two cannot drift; no reference to a document
that is not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nativeagent.machine.tools import PROFILES, markdown_table, token_names

ROOT = Path(__file__).resolve().parents[1]
MACHINE_DOC = ROOT / "docs" / "machine.md"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_page_holds_each_profiles_table_exactly(name: str) -> None:
    profile = PROFILES[name]
    text = MACHINE_DOC.read_text()
    section = text.split(f"## Profile `{name}`", 1)[1].split("\n## ", 1)[0]
    assert markdown_table(profile) in section
    assert f"Default\n`max_steps` {profile.max_steps}" in section or (
        f"Default `max_steps` {profile.max_steps}" in section
    )
    tables = [block for block in section.split("\n\n") if block.startswith("| id | token | reads")]
    assert tables == [markdown_table(profile)]  # and no other version of it


def test_the_vocabulary_table_lists_every_token() -> None:
    lines = MACHINE_DOC.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| id | 0–9 |"))
    row = lines[lines.index(header) + 2]  # after the |---| line
    ids = [int(c) for c in header.strip("|").split("|")[2:]]
    names = [c.strip(" `[]") for c in row.strip("|").split("|")[2:]]
    assert dict(zip(ids, names, strict=True)) == {i: n for i, n in token_names().items() if i >= 10}


def test_no_reference_to_a_document_outside_the_repository() -> None:
    """Comments, docs and tests once cited "SPEC §n", a file that is not in the repository."""
    paths = [*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("docs/**/*.md")]
    paths += [ROOT / "README.md", ROOT / "mkdocs.yml", *ROOT.glob("benchmarks/*.py")]
    paths += [*ROOT.glob("docs/**/*.py")]
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in paths
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bSPEC(\.md| ?§)", line) and p.name != "test_docs.py"
    ]
    assert not found
