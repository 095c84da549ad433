"""A study's outputs written from its directory alone (``nativeagent study DIR --summary``)."""

from __future__ import annotations

from pathlib import Path

from nativeagent.analysis.plot import check_out_path, write_output
from nativeagent.experiments.study.page import PAGE, render_page
from nativeagent.experiments.study.summary import (
    LENGTH_PNG,
    STUDY_JSON,
    SUMMARY_CSV,
    SUMMARY_MD,
    Summary,
    collect,
    length_png,
    markdown,
    study_json,
    summary_csv,
)
from nativeagent.fileio import atomic_write_json


def write_summary(out_dir: Path) -> Summary:
    """Write ``study.json``, ``summary.md``, ``summary.csv``, ``length.png`` and the page."""
    s = collect(out_dir)
    for name in (STUDY_JSON, SUMMARY_MD, SUMMARY_CSV, LENGTH_PNG, PAGE):
        check_out_path(out_dir / name)
    png = length_png(s)
    atomic_write_json(out_dir / STUDY_JSON, study_json(s))
    write_output(out_dir / SUMMARY_MD, markdown(s).encode())
    write_output(out_dir / SUMMARY_CSV, summary_csv(s).encode())
    write_output(out_dir / LENGTH_PNG, png)
    write_output(out_dir / PAGE, render_page(s, png).encode())
    return s
