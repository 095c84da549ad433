"""``plot`` and ``report`` work on a plain ``pip install nativeagent``: run in a fresh interpreter
that cannot import anything only an optional extra provides, and every package they import is
one of pyproject's core ``dependencies`` (or one of theirs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

#: Runs ``nativeagent ARGS...`` (commands separated by ``--``) with sys.path's finder blind to
#: the top-level modules in argv[1]; prints whether each exited 0, whether a blocked module
#: could still be imported, and the top-level modules imported after start-up.
PROBE = """
import importlib.machinery, json, sys

BLOCKED = set(sys.argv[1].split(","))
PATH_FINDER = importlib.machinery.PathFinder


class WithoutExtras:
    '''sys.path's finder, as if the optional extras were not installed.'''

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname.partition(".")[0] in BLOCKED:
            return None
        return PATH_FINDER.find_spec(fullname, path, target)

    invalidate_caches = staticmethod(PATH_FINDER.invalidate_caches)
    find_distributions = staticmethod(PATH_FINDER.find_distributions)


sys.meta_path[:] = [WithoutExtras if f is PATH_FINDER else f for f in sys.meta_path]
before = {m.partition(".")[0] for m in sys.modules}
try:
    import gymnasium  # noqa: F401
    blocks = False
except ModuleNotFoundError:
    blocks = True
from nativeagent.cli import main

codes = []
for command in " ".join(sys.argv[2:]).split(" -- "):
    sys.argv = ["nativeagent", *command.split()]
    try:
        main()
        codes.append(0)
    except SystemExit as exit:
        codes.append(exit.code or 0)
after = {m.partition(".")[0] for m in sys.modules}
print(json.dumps({"codes": codes, "blocks": blocks, "imported": sorted(after - before)}))
"""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` name, with everything they require as installed
    (extras followed, markers evaluated here), normalized; ``nativeagent[...]`` is skipped."""
    seen: set[tuple[str, str]] = set()  # (distribution, one of its extras or "")
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name == "nativeagent" or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        wanted = {(name, e) for e in ("", *req.extras)} - seen
        if not wanted:
            continue
        seen |= wanted
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in map(Requirement, requires):
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for _, e in wanted):
                r.marker = None
                todo.append(r)
    return {name for name, _ in seen}


def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def core_distributions() -> set[str]:
    return installed_closure(project()["dependencies"])


def extras_only_modules() -> list[str]:
    """Top-level modules that only the optional extras' distributions (and theirs) provide."""
    extras = [r for reqs in project()["optional-dependencies"].values() for r in reqs]
    only = installed_closure(extras) - core_distributions()
    return sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if dists and all(_norm(d) in only for d in dists)
    )


def test_the_extras_only_modules_are_found() -> None:
    blocked = extras_only_modules()
    for module in ("gymnasium", "ray", "torchrl", "stable_baselines3", "transformers", "trl"):
        assert module in blocked
    for module in ("matplotlib", "jinja2", "torch", "numpy", "rich", "typer"):
        assert module not in blocked


@pytest.fixture(scope="module")
def probe(custom_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("core")
    plot = f"plot {custom_run} --out {out / 'curves.png'}"
    report = f"report {custom_run} --out {out / 'report.html'} --search 20"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(extras_only_modules()), plot, "--", report],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out / "curves.png").stat().st_size > 0 and (out / "report.html").stat().st_size > 0
    return result


def test_plot_and_report_need_no_optional_extra(probe: dict) -> None:
    assert probe["blocks"], "the probe could still import gymnasium"
    assert probe["codes"] == [0, 0]
    assert "matplotlib" in probe["imported"] and "jinja2" in probe["imported"]


def test_every_package_plot_and_report_import_is_a_core_dependency(probe: dict) -> None:
    provided = metadata.packages_distributions()
    core = core_distributions()
    third_party = [
        m
        for m in probe["imported"]
        if m not in sys.stdlib_module_names and m != "nativeagent" and m in provided
    ]
    outside = {m: provided[m] for m in third_party if not {_norm(d) for d in provided[m]} & core}
    assert outside == {}
