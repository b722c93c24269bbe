"""Where a render writes: its output's name, the lock on it, and the work folder it resumes from.

Work happens in ``.<output>.work/`` beside the output: one H.264 chunk per ``chunk_frames`` frames
and a :class:`WorkManifest`; an interrupted render (Ctrl-C, SIGTERM, crash, a full disk) leaves it,
and ``resume=True`` continues from the last finished chunk with the same result as an uninterrupted
render, if :func:`work_key` (everything the chunks depend on) is unchanged.

One render at a time per output: :func:`output_lock` takes an exclusive ``flock`` on
``.<output>.lock`` beside it (holding the holder's PID and host), and a second render of the same
output, with ``resume=True`` or not, fails at once with :class:`OutputBusyError` rather than
waiting, since a queued render would only redo or resume what the first one is finishing. The
kernel releases the lock when its process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from mvgen._version import __version__
from mvgen.errors import MvgenError
from mvgen.fileio import write_atomic
from mvgen.media.pixels import PIX_FMT
from mvgen.settings import RenderSettings

if TYPE_CHECKING:
    from mvgen.analysis import Analysis

try:
    import fcntl
except ImportError:  # not POSIX: renders are not locked
    fcntl = None


class StaleWorkError(MvgenError):
    """``resume=True`` found a work folder made with other settings."""


class OutputBusyError(MvgenError):
    """Another process is rendering the same output (it holds :func:`output_lock`)."""


#: ENOSPC and EDQUOT: the disk (or the user's quota) is full.
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def default_output(track: str | os.PathLike, settings: RenderSettings) -> Path:
    """Where a render of ``track`` goes when no output is given: beside it, as
    ``<stem>[-<format> | -<aspect>][-loop | -clip<N>s].mp4`` (a 16:9 full-length render: ``<stem>.mp4``)."""
    track = Path(track)
    if settings.format is not None:
        suffix = "-" + settings.format
    else:
        suffix = "" if settings.aspect == "16:9" else "-" + settings.aspect.replace(":", "x")
    if settings.loop and (settings.format is None or not settings.preset().loop):
        clip = "-loop"
    else:
        clip = f"-clip{settings.clip_s:g}s" if settings.clip_s else ""
    return track.with_name(f"{track.stem}{suffix}{clip}.mp4")


def work_key(analysis: Analysis, settings: RenderSettings, window: tuple[float, float], encoder_args: list[str]) -> str:

    # the encoder's settings too: chunks are joined by stream copy, which needs them identical
    encoder = [encoder_args, PIX_FMT]
    # the branding files' bytes too: the cover tints the chunks and is drawn on the end card, the logo, font and lyrics are drawn
    payload = json.dumps([analysis.audio.content_hash, analysis.analysis_version, settings.model_dump(), window, __version__, encoder, settings.branding.file_digests()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class WorkManifest(BaseModel):
    """``manifest.json`` of a work folder: what is being rendered and which chunks are finished."""

    key: str = Field(description="hash of everything the chunks depend on (see work_key)")
    settings: RenderSettings
    window: tuple[float, float]
    done: list[int] = Field(default_factory=list, description="indices of the finished chunks")

    def save(self, path: Path) -> None:
        # written whole and renamed, so an interruption never leaves half a manifest
        write_atomic(path, self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: Path) -> "WorkManifest | None":
        """The manifest at ``path``; None if there is none or it cannot be read (a render of an older mvgen)."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None


def _lock_path(out: Path) -> Path:
    # beside the work folder, not in it: a fresh render deletes and remakes that folder, and a lock
    # file deleted while held no longer excludes anyone
    return out.with_name(f".{out.name}.lock")


def _holder(fd: int) -> str:
    """Who holds the lock whose file is open as ``fd``: " (pid N)" or " (pid N on HOST)", or ""."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""  # not written yet: the holder took the lock a moment ago
    return f" (pid {pid})" if host == socket.gethostname() else f" (pid {pid} on {host})"


@contextlib.contextmanager
def output_lock(out: str | os.PathLike) -> Iterator[None]:
    """Hold the exclusive lock on rendering ``out``; raises :class:`OutputBusyError` at once if another process holds it.

    ``flock`` on ``.<out>.lock``: the kernel drops it when the holder's process ends, killed or
    not, so a crashed render never blocks the next one (on NFS, Linux maps it to an NFS lock shared
    by every client). The file records the holder's PID and host for the message, and is removed
    on release.
    """
    out = Path(out)
    if fcntl is None:
        yield
        return
    path = _lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:  # a read-only or full folder: nothing could be written there anyway
            raise MvgenError(f"cannot lock the output for writing: {exc.strerror}", out) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise MvgenError(f"cannot lock the output for writing: {exc.strerror}", out) from None
            raise OutputBusyError(f"another mvgen render{holder} is writing this video; wait for it or choose another output", out) from None
        # the previous holder removes the file when done: if it did so between our open and our
        # flock, we hold a lock on a file nobody else will open; take the lock again on the new file
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds without the record, which only names the holder in messages
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks the file being removed
        os.close(fd)
