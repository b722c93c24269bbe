"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Every file mvgen writes for someone else to read (analyses, pictures, pages, videos, weights,
reports) goes through :func:`atomic_path` or :func:`write_atomic`: the data goes to a hidden
temporary file beside the target (same folder, so the rename cannot cross file systems), is
flushed to disk where it matters, and then ``os.replace`` puts it in place. On any failure, Ctrl-C
included, the temporary file is removed and the old target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    try:  # read without changing it (Linux): setting it, the only portable way, races other threads
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".part", fsync: bool = False, parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on a normal exit it replaces ``path``.

    ``suffix``: the temporary name's ending (``".part.mp4"`` where a tool picks the format from the
    name). ``fsync``: flush the file to disk before the rename (for results that are expensive to
    make again, such as weights and checkpoints). The file gets the usual mode (``0666 & ~umask``),
    as a plainly created file would. Parent folders are created unless ``parents`` is False.
    """
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see :func:`atomic_path`); returns ``Path(path)``."""
    with atomic_path(path, fsync=fsync) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return Path(path)
