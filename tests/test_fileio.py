"""Atomic writes: the old file or the whole new one, never a torn one; stale temps cleaned."""

from pathlib import Path

import pytest

from nativeagent import fileio
from nativeagent.fileio import atomic_write_bytes, atomic_write_json, remove_stale_temporaries


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_json(target, {"x": 1})
    atomic_write_json(target, {"x": 2})
    assert target.read_text() == '{\n  "x": 2\n}\n'
    assert target.stat().st_mode & 0o777 == 0o666 & ~fileio._umask()
    assert list(tmp_path.iterdir()) == [target]


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ckpt"
    atomic_write_bytes(target, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_remove_stale_temporaries(tmp_path: Path) -> None:
    (tmp_path / ".checkpoint.pt.abc.tmp").write_bytes(b"partial")
    (tmp_path / "checkpoint.pt").write_bytes(b"good")
    assert [p.name for p in remove_stale_temporaries(tmp_path)] == [".checkpoint.pt.abc.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
