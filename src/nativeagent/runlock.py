"""One writer per run directory: an exclusive ``flock`` on ``RUN/.lock``, held while writing.

The kernel drops the lock when its holder exits, however it exits (a ``SIGKILL`` too), so a
lock never outlives its process and a crashed run can always be resumed. The lock file keeps
the holder's process id, host and command line, so that a refused writer can name it. A
process that already holds a directory's lock may take it again (the sweep's trial wraps
``train``); it is released when the outermost holder lets go.

On a shared file system the lock works across machines where the file system supports
``flock`` (NFSv4 on Linux maps it to a server-side lock; some network file systems ignore it).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nativeagent.errors import RunDirError

LOCK = ".lock"
#: How often a waiting writer tries the lock again.
POLL_S = 0.2

_held: dict[Path, tuple[int, int]] = {}  # resolved directory -> (file descriptor, depth)


class RunDirBusy(RunDirError):
    """Another live process is writing this run directory."""

    def __init__(self, run_dir: Path, holder: dict[str, Any]) -> None:
        self.run_dir, self.holder = run_dir, holder
        super().__init__(f"{run_dir} is being written by {describe(holder)}; wait for it to end")


def describe(holder: dict[str, Any]) -> str:
    """``process 1234 on host h (nativeagent train ...), since 2026-12-02T10:00:00``."""
    if not holder:
        return "another process"
    text = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
    if holder.get("command"):
        text += f" ({holder['command']})"
    if holder.get("since"):
        text += f", since {holder['since']}"
    return text


def holder(run_dir: Path) -> dict[str, Any] | None:
    """Who holds ``run_dir``'s lock now, or ``None`` when no live process does."""
    path = run_dir / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_unlocked(run_dir: Path) -> None:
    """Raise ``RunDirBusy`` when a live process (not this one) writes ``run_dir``."""
    if run_dir.resolve() in _held:
        return
    who = holder(run_dir)
    if who is not None:
        raise RunDirBusy(run_dir, who)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(command: str | None) -> bytes:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return (json.dumps(info) + "\n").encode()


@contextmanager
def run_lock(run_dir: Path, wait_s: float = 0.0, command: str | None = None) -> Iterator[None]:
    """Hold the writer lock of the existing directory ``run_dir`` for the ``with`` block.

    Waits up to ``wait_s`` seconds for another holder to end, then raises ``RunDirBusy``
    naming it. ``command`` is what the lock file names as this writer (default: ``sys.argv``).
    """
    if not run_dir.is_dir():
        raise RunDirError(f"no run directory at {run_dir}")
    key = run_dir.resolve()
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            _release(key)
        return
    fd = os.open(key / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunDirBusy(run_dir, _read_holder(fd)) from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _record(command), 0)
    except BaseException:
        os.close(fd)
        raise
    _held[key] = (fd, 1)
    try:
        yield
    finally:
        _release(key)


def _release(key: Path) -> None:
    fd, depth = _held[key]
    if depth > 1:
        _held[key] = (fd, depth - 1)
        return
    del _held[key]
    os.close(fd)  # closing the last descriptor drops the flock


__all__ = ["LOCK", "RunDirBusy", "check_unlocked", "describe", "holder", "run_lock"]
