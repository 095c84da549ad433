"""A sweep's summary per configuration: ``experiments.bench``'s statistics, tables and plot."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nativeagent.analysis.plot import check_out_path, write_output
from nativeagent.experiments import bench
from nativeagent.experiments.sweep.plan import Sweep, finished_result
from nativeagent.fileio import atomic_write_json

SUMMARY_MD, SUMMARY_CSV, SUMMARY_PNG = "summary.md", "summary.csv", "summary.png"


def collect(sweep: Sweep, out_dir: Path) -> list[bench.Trial]:
    """Every finished trial as a ``bench.Trial`` (its combination named by the configuration)."""
    combos = {
        c.id: bench.Combination(None, None, c.overrides, label=c.id) for c in sweep.configurations
    }
    trials = []
    for t in sweep.trials:
        run_dir = out_dir / t.rel_dir
        result = finished_result(run_dir)
        if result is not None:
            trials.append(bench.Trial(combos[t.config_id], t.seed, run_dir, result))
    return trials


def _plain(settings: dict[str, Any], key: str) -> str:
    """A swept value for a table: strings bare, other values as JSON, absent as empty."""
    value = settings.get(key, "")
    return value if isinstance(value, str) else json.dumps(value)


def summary_csv(sweep: Sweep, stats: Sequence[bench.ComboStats]) -> str:
    """One row per configuration: its swept values, k/n solved, each estimate with its CI."""
    keys = list(dict.fromkeys(k for c in sweep.configurations for k in c.settings))
    columns = ["configuration", *keys, "seeds", "solved", "solved_fraction"]
    for m in bench.METRICS:
        for stat in ("median", "iqm"):
            columns += [f"{m}_{stat}", f"{m}_{stat}_low", f"{m}_{stat}_high"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    settings = {c.id: c.settings for c in sweep.configurations}
    for s in stats:
        row = [s.name, *(_plain(settings[s.name], k) for k in keys)]
        row += [s.seeds, s.solved, f"{s.solved_fraction:.6g}"]
        for m in bench.METRICS:
            for est in (s.median.get(m), s.iqm.get(m)):
                row += [repr(est.value), repr(est.low), repr(est.high)] if est else ["", "", ""]
        writer.writerow(row)
    return buf.getvalue()


def summary_markdown(sweep: Sweep, stats: Sequence[bench.ComboStats], command: str) -> str:
    """``bench.markdown``'s table per configuration, then what each configuration sets."""
    title = f"nativeagent sweep {sweep.name}: time to solve"
    text = bench.markdown(stats, command, title=title, label="configuration")
    s, r = sweep.settings, sweep.resources
    base = f"preset `{s.preset}`" + (f", config `{s.config}`" if s.config else "")
    if s.overrides:
        base += ", " + ", ".join(f"`{o}`" for o in s.overrides)
    at_once = f"at most {r.max_concurrent} at once" if r.max_concurrent else "as many as fit"
    keys = list(dict.fromkeys(k for c in sweep.configurations for k in c.settings))
    lines = [
        "",
        "## Configurations",
        "",
        f"Search: {s.search}; seeds {', '.join(map(str, sweep.seeds))}; base: {base}. "
        f"Each trial: {r.cpus_per_trial} CPU (train.threads = {r.cpus_per_trial}), {at_once}.",
        "",
        "| " + " | ".join(["configuration", *keys]) + " |",
        "|" + "|".join([":---"] + ["---:"] * len(keys)) + "|",
    ]
    for c in sweep.configurations:
        values = [_plain(c.settings, k) for k in keys]
        lines.append("| " + " | ".join([c.id, *values]) + " |")
    return text + "\n".join(lines) + "\n"


def write_summary(
    sweep: Sweep, out_dir: Path, command: str
) -> tuple[list[bench.Trial], list[bench.ComboStats]]:
    """Write ``trials.json``, ``summary.md``, ``summary.csv`` and ``summary.png``."""
    trials = collect(sweep, out_dir)
    stats = bench.summarize(trials)
    for name in (bench.TRIALS, SUMMARY_MD, SUMMARY_CSV, SUMMARY_PNG):
        check_out_path(out_dir / name)
    atomic_write_json(out_dir / bench.TRIALS, [t.to_dict(out_dir) for t in trials])
    write_output(out_dir / SUMMARY_MD, summary_markdown(sweep, stats, command).encode())
    write_output(out_dir / SUMMARY_CSV, summary_csv(sweep, stats).encode())
    bench.write_png(stats, trials, out_dir / SUMMARY_PNG)
    return trials, stats
