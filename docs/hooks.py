"""MkDocs hook: the tutorial notebook lives in examples/ (where CI executes it) and is shown on
the site as the page ``tutorial/``, from that one file, without a copy in docs/."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = ("tutorial.ipynb",)


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns notebooks into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    for name in NOTEBOOKS:
        files.append(File(name, str(EXAMPLES), config.site_dir, config.use_directory_urls))
    return files
