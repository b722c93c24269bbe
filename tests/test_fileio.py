"""Atomic writes: the old file or the whole new one, never a half-written file or a stray temporary."""

import os

import pytest

from mvgen.fileio import atomic_path, write_atomic


def test_write_replaces_whole_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "a.json"
    write_atomic(target, "old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and os.listdir(target.parent) == ["a.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_a_failure_midway_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    write_atomic(target, "old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target, suffix=".part.mp4", fsync=True) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".part.mp4") and tmp.name.startswith(".a.txt.")
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
