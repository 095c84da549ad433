"""``study.html``: one self-contained page about a study, in the style of ``nativeagent report``.

The length curves (``length.png``) are inline as a base64 data URI and the style is the
report's (``analysis/templates/_style.css.j2``), so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import time
from importlib.metadata import version

from nativeagent.analysis.report import template_environment
from nativeagent.experiments.study.summary import (
    KINDS,
    Summary,
    describe_set,
    kind_values,
    mean_ci,
    split_seeds,
    variant_row,
)

PAGE = "study.html"
TEMPLATE = "study.html.j2"


def render_page(s: Summary, length_png: bytes) -> str:
    """The page as one HTML string."""
    rows = [variant_row(s, v) for v in s.variants]
    kinds = {
        v: {k: [mean_ci(kind_values(s.of(v), str(e.name), k)) for e in s.sets] for k in KINDS}
        for v in s.variants
    }
    return (
        template_environment()
        .get_template(TEMPLATE)
        .render(
            s=s,
            rows=rows,
            kinds=kinds,
            kind_names=KINDS,
            describe=lambda e: describe_set(e).replace("`", ""),
            finished=sum(r.complete for r in s.runs),
            splits=split_seeds(s),
            plot_uri="data:image/png;base64," + base64.b64encode(length_png).decode(),
            generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            version=version("nativeagent"),
        )
    )
