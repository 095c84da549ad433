"""The documentation site: ``mkdocs build --strict`` passes (every link and anchor checked),
every page is in the nav, the API reference is generated, and the tutorial page, rendered by a
real headless Chromium, shows the notebook's executed outputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from helpers import chromium

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Pages that are not in docs/: the hook in docs/hooks.py adds them from examples/.
FROM_EXAMPLES = {"tutorial.ipynb": ROOT / "examples" / "tutorial.ipynb"}
ACCURACY = re.compile(r"(\d\.\d{3}) \[\d\.\d{3}, \d\.\d{3}\]")  # 0.998 [0.993, 0.999]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI would build it (strict: a warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def nav_files(nav: list) -> list[str]:
    """Every file the nav names, in order (sections are dicts of lists)."""
    files: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        files += nav_files(value) if isinstance(value, list) else [value]
    return files


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = nav_files(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(pages - set(nav)) == []  # a page nobody can reach
    missing = [f for f in nav if not (DOCS / f).is_file() and f not in FROM_EXAMPLES]
    assert missing == []
    assert len(nav) == len(set(nav))


def test_the_site_has_every_page_and_the_notebook_itself(site: Path) -> None:
    for page in ("index.html", "getting-started/index.html", "api/nativeagent/index.html"):
        assert (site / page).is_file(), page
    # the notebook's page, and the notebook to download: the committed file, not a copy of it
    page = (site / "tutorial" / "index.html").read_text()
    assert '<a href="tutorial.ipynb" title="Download the notebook"' in page  # docs/overrides
    notebook = (site / "tutorial" / "tutorial.ipynb").read_bytes()
    assert notebook == FROM_EXAMPLES["tutorial.ipynb"].read_bytes()


@pytest.mark.parametrize(
    ("page", "ids"),
    [
        ("nativeagent", ["load_config", "train", "load", "Agent", "TrainResult", "execute"]),
        ("tasks", ["solve", "parse"]),
        ("machine", ["ToolMachine", "PROFILES", "markdown_table"]),
        ("envs", ["ToolMachineEnv", "ToolMachineVectorEnv"]),
    ],
)
def test_the_api_reference_documents_the_public_api(site: Path, page: str, ids: list[str]) -> None:
    html = (site / "api" / page / "index.html").read_text()
    anchors = set(re.findall(r'id="(nativeagent\.[\w.]+)"', html))
    for name in ids:
        assert any(a.rsplit(".", 1)[-1] == name for a in anchors), (page, name)
    # docstrings' doctests are code blocks (docs/doctest_fences.py), not Markdown quotes
    assert "&gt;&gt;&gt;" not in re.sub(r"<pre.*?</pre>", "", html, flags=re.S)


def test_no_docstring_shows_a_sphinx_role(site: Path) -> None:
    """Docstrings are rendered as Markdown: ``:mod:`x``` would show as raw text on the page."""
    pages = sorted((site / "api").glob("**/index.html"))
    assert pages
    shown = [
        f"{page.relative_to(site)}: {m}"
        for page in pages
        for m in re.findall(r":(?:mod|class|meth|func|attr):", page.read_text())
    ]
    assert not shown


class Outputs(HTMLParser):
    """The table rows and images inside the notebook's output areas (code cells' outputs)."""

    VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # open elements inside an output area (0: outside)
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if not self.depth:
            if "jp-Cell-outputWrapper" in classes:
                self.depth = 1
            return
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []
        if tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1
            if tag in ("td", "th") and self.cell is not None and self.rows:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

    def handle_data(self, data: str) -> None:
        if self.depth and self.cell is not None:
            self.cell.append(data)


def test_the_tutorial_page_shows_the_executed_outputs(site: Path, tmp_path: Path) -> None:
    """The notebook is committed with its outputs and the build never executes it, so the
    page must show the numbers and plots of that execution."""
    proc = chromium(tmp_path, "--dump-dom", (site / "tutorial" / "index.html").as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = Outputs()
    outputs.feed(proc.stdout)
    rows = {row[0]: row[1:] for row in outputs.rows if row}
    assert "the tutorial, exactly" in rows, f"no accuracy table among the outputs: {rows}"
    default = [ACCURACY.fullmatch(c) for c in rows["+ tuned lr, entropy (default)"][:3]]
    assert all(m and float(m[1]) >= 0.99 for m in default), rows
    plots = [src for src in outputs.images if src.startswith("data:image/png;base64,")]
    assert len(plots) >= 2, outputs.images  # the fixes' bar chart and the default run's curves
