"""``nativeagent export``: a finished run as a shareable agent (safetensors, JSON, model card)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nativeagent.cli.common import USER_ERRORS, fail, say


def export(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory written by train.")],
    out: Annotated[Path, typer.Argument(help="Directory to write the export into.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier export in OUT.")] = False,
) -> None:
    """Write model.safetensors, config.json and a model card README.md into OUT; eval, explain
    and nativeagent.load read it (nothing is unpickled)."""
    from nativeagent.training.export import CONFIG, MODEL_CARD, WEIGHTS, export_run

    try:
        export_run(run_dir, out, overwrite)
    except USER_ERRORS as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write {out}: {err.strerror or err}")
    say(f"exported {run_dir} -> {out} ({WEIGHTS}, {CONFIG}, {MODEL_CARD})")
