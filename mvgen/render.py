"""`mvgen render`: analysis -> frame specs -> frames -> encoded chunks -> the finished video.

Entry point: :func:`render_video`. Work happens in ``.<output>.work/`` beside the output: one
H.264 chunk per ``chunk_frames`` frames and a manifest; an interrupted render (Ctrl-C, crash)
leaves it, and ``resume=True`` continues from the last finished chunk with the same result as an
uninterrupted render. The output is written under a temporary name and renamed when complete.

One render at a time per output: :func:`output_lock` takes an exclusive ``flock`` on
``.<output>.lock`` beside it (holding the holder's PID and host), and a second render of the same
output, with ``resume=True`` or not, fails at once with :class:`OutputBusyError` rather than
waiting, since a queued render would only redo or resume what the first one is finishing. The
kernel releases the lock when its process dies, however it dies. :func:`sigterm_interrupts` turns
SIGTERM (what ``timeout``, systemd, Kubernetes and Ray send) into a :class:`Terminated`
interruption, so a terminated render stops as after Ctrl-C: encoders ended, finished chunks kept.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from mvgen.analysis import Analysis, analyze
from mvgen.branding import Branding
from mvgen.assemble import ChunkWriter, gop_frames, mux
from mvgen.diffusion import DiffusionSettings
from mvgen.errors import MvgenError
from mvgen.fileio import write_atomic
from mvgen.formats import PRESETS, Preset, encodings, get_preset

try:
    import fcntl
except ImportError:  # not POSIX: renders are not locked
    fcntl = None

#: What the renderers draw and the encoder takes (see :data:`mvgen.assemble.PIX_FMTS`): no conversion in ffmpeg.
PIX_FMT = "yuv420p"


class StaleWorkError(MvgenError):
    """``resume=True`` found a work folder made with other settings."""


class OutputBusyError(MvgenError):
    """Another process is rendering the same output (it holds :func:`output_lock`)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interruption (see :func:`sigterm_interrupts`); exits with :attr:`exit_code`."""

    #: 128 + SIGTERM, the status a shell reports for a process ended by SIGTERM.
    exit_code = 128 + signal.SIGTERM


#: ENOSPC and EDQUOT: the disk (or the user's quota) is full.
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


#: Aspect presets: (width units, height units). Every one is re-framed, never squashed: the
#: procedural renderer scales its coordinates with the short side.
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}


class RenderSettings(BaseModel):
    """What to render. ``size`` is the short side in pixels (720 gives 1280x720 at 16:9)."""

    size: int = Field(720, ge=64, le=4320)
    aspect: Literal["16:9", "9:16", "1:1", "4:5"] = "16:9"
    fps: float = Field(30.0, gt=0, le=120)
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0)
    teaser_s: float | None = Field(None, gt=0, description="render a clip of this length around the first drop")
    renderer: Literal["procedural", "diffusion"] = "procedural"
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings, description="settings of the diffusion renderer")
    styles: str | None = Field(None, description="style file or folder overriding the defaults")
    classifier: str | None = Field(None, description="genre classifier (folder or Hub id) whose classes the styles follow; None: the bundled one")
    seed: int = 0
    branding: Branding = Field(default_factory=Branding, description="text, logo, cover, end card and lyrics of the release")
    detail: float | None = Field(None, gt=0, le=1, description="fraction of the size the pictures are drawn at before upscaling; None: 1 on a GPU, 0.5 on a CPU")
    compile: bool | None = Field(None, description="torch.compile the renderer; None: on a CPU for renders long enough to repay the compilation")
    chunk_frames: int = Field(240, ge=1)
    batch_frames: int = Field(8, ge=1)
    format: str | None = Field(None, description="platform preset (mvgen.formats.PRESETS): sets aspect, fps and size (size may be changed), the length and the encoding")

    @model_validator(mode="after")
    def _follow_format(self) -> "RenderSettings":
        """A format sets aspect and fps (a different one given alongside is an error) and, unless given,
        size; an excerpt or teaser longer than the platform allows (or shorter) is an error up front."""
        if self.format is None:
            return self
        preset = PRESETS.get(self.format)
        if preset is None:
            raise ValueError(f"format {self.format!r} is not one of: {', '.join(PRESETS)}")
        for name, value in (("aspect", preset.aspect), ("fps", preset.fps)):
            if name in self.model_fields_set and getattr(self, name) != value:
                raise ValueError(f"{name} {getattr(self, name)} differs from the {self.format} format's {value}; leave it out (only size may be changed)")
            object.__setattr__(self, name, value)
        if "size" not in self.model_fields_set:
            object.__setattr__(self, "size", preset.size_px)
        asked = self.teaser_s if self.teaser_s else (self.end_s - self.start_s if self.end_s is not None else None)
        if asked is not None and preset.limit_duration_s is not None and asked > preset.limit_duration_s:
            raise ValueError(f"{asked:g} s is longer than the {self.format} format allows ({preset.limit_duration_s:g} s)")
        if asked is not None and preset.min_duration_s is not None and asked < preset.min_duration_s:
            raise ValueError(f"{asked:g} s is shorter than the {self.format} format needs ({preset.min_duration_s:g} s)")
        return self

    def preset(self) -> Preset | None:
        """The :class:`mvgen.formats.Preset` of :attr:`format`, or None."""
        return None if self.format is None else get_preset(self.format)

    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels, both even (yuv420p needs even sizes)."""
        aw, ah = ASPECTS[self.aspect]
        short = self.size - self.size % 2
        if aw >= ah:
            return 2 * round(short * aw / ah / 2), short
        return short, 2 * round(short * ah / aw / 2)


def render_window(analysis: Analysis, settings: RenderSettings) -> tuple[float, float]:
    """``(start_s, end_s)`` of the video: the excerpt, or a teaser around the first drop.

    A teaser starts a quarter of its length before the first drop (on a downbeat when possible),
    so the build-up leads into the drop; without drops it starts at the beginning.
    """
    preset = settings.preset()
    if settings.teaser_s:
        window = teaser_window(analysis, settings.teaser_s)
    else:
        end = analysis.duration_s if settings.end_s is None else min(settings.end_s, analysis.duration_s)
        if settings.start_s >= end:
            raise MvgenError(f"--start {settings.start_s:g} s is not before the end ({end:g} s)", analysis.audio.path)
        window = (settings.start_s, end)
        if preset is not None and preset.max_duration_s is not None and end - settings.start_s > preset.max_duration_s and settings.end_s is None:
            # a length-capped format: the whole track becomes its best window, an excerpt with only a start is cut at the cap
            cap = preset.max_duration_s
            window = best_window(analysis, cap) if settings.start_s == 0 else (settings.start_s, settings.start_s + cap)
    if preset is not None and preset.min_duration_s is not None and window[1] - window[0] < preset.min_duration_s - 1e-6:
        raise MvgenError(f"the video would be {window[1] - window[0]:.2f} s; the {preset.name} format needs at least {preset.min_duration_s:g} s", analysis.audio.path)
    return window


def teaser_window(analysis: Analysis, length_s: float) -> tuple[float, float]:
    """``(start_s, end_s)`` of a clip of ``length_s`` seconds (at most the track) around the first drop (see :func:`render_window`)."""
    duration_s = analysis.duration_s
    length = min(length_s, duration_s)
    anchor = analysis.drops[0].start_s if analysis.drops else 0.0
    start = anchor - length / 4
    earlier = [d for d in analysis.downbeats_s if d <= start + 1e-6]
    if earlier and start - earlier[-1] < 60.0 / (analysis.tempo_bpm or 120.0) * analysis.beats_per_bar:
        start = earlier[-1]
    start = min(max(0.0, start), max(0.0, duration_s - length))
    return start, start + length


def best_window(analysis: Analysis, length_s: float) -> tuple[float, float]:
    """The window of ``length_s`` seconds a length-capped format (Shorts, X, Canvas...) renders of a longer track.

    INTEGRATION POINT: for now the teaser window around the first drop; the clip picker (issue 13,
    ``RenderSettings.clip_s``) replaces this body, and every capped format follows it.
    """
    return teaser_window(analysis, length_s)


#: Drawn pixels (frames x pixels) above which compiling the CPU renderer (about 40 s, cached on disk
#: afterwards) beats drawing eagerly: about 10 s of video at 1280x720 and detail 0.5.
COMPILE_MIN_PIXELS = 300 * 640 * 360


def procedural_renderer(settings: RenderSettings, width: int, height: int, n_frames: int):
    """The procedural renderer for these settings, with ``detail`` and ``compile`` resolved."""
    import torch

    cuda = torch.cuda.is_available()
    detail = settings.detail if settings.detail is not None else (1.0 if cuda else 0.5)
    compile = settings.compile
    if compile is None:
        compile = not cuda and n_frames * width * height * detail**2 >= COMPILE_MIN_PIXELS
    return _cached_renderer(width, height, detail, compile)


@functools.lru_cache(maxsize=4)
def _cached_renderer(width: int, height: int, detail: float, compile: bool):
    # one renderer per size and mode, so batch renders reuse a compiled graph
    from mvgen.procedural import ProceduralRenderer

    return ProceduralRenderer(width, height, detail=detail, compile=compile)


def _work_key(analysis: Analysis, settings: RenderSettings, window: tuple[float, float], encoder_args: list[str]) -> str:
    from mvgen import __version__

    # the encoder's settings too: chunks are joined by stream copy, which needs them identical
    encoder = [encoder_args, PIX_FMT]
    payload = json.dumps([analysis.audio.content_hash, analysis.analysis_version, settings.model_dump(), window, __version__, encoder], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class WorkManifest(BaseModel):
    """``manifest.json`` of a work folder: what is being rendered and which chunks are finished."""

    key: str = Field(description="hash of everything the chunks depend on (see _work_key)")
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


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, so a
    terminated render cleans up as after Ctrl-C; outside a main thread it does nothing.

    Only the first SIGTERM raises: later ones are ignored until the block ends, so a second signal
    (systemd and Kubernetes repeat theirs) cannot cut the cleanup short; SIGKILL stays the hard stop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def default_output(track: str | os.PathLike, settings: RenderSettings) -> Path:
    track = Path(track)
    if settings.format is not None:
        suffix = "-" + settings.format
    else:
        suffix = "" if settings.aspect == "16:9" else "-" + settings.aspect.replace(":", "x")
    teaser = f"-teaser{settings.teaser_s:g}s" if settings.teaser_s else ""
    return track.with_name(f"{track.stem}{suffix}{teaser}.mp4")


def render_video(
    track: str | os.PathLike,
    out: str | os.PathLike | None = None,
    settings: RenderSettings | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    analysis: Analysis | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Path:
    """Render the music video of ``track`` and return the path of the finished file.

    ``on_progress(done_frames, total_frames)`` is called as batches finish (resumed chunks count
    as done at once); ``on_status(text)`` names slow steps before they start (loading a model,
    denoising keyframes, compiling the renderer). Raises :class:`MvgenError` for bad input, a full
    disk (finished chunks kept for ``resume=True``) and :class:`OutputBusyError` when another
    process is rendering ``out``; a ``KeyboardInterrupt`` (or :class:`Terminated`) leaves the work
    folder for ``resume=True``.
    """
    settings = settings or RenderSettings()
    out = Path(out) if out is not None else default_output(track, settings)
    if out.suffix.lower() != ".mp4":
        raise MvgenError("the output must be an .mp4 file", out)
    with output_lock(out):
        return _render_locked(track, out, settings, resume, on_progress, analysis, on_status)


def _render_locked(track, out: Path, settings: RenderSettings, resume: bool, on_progress, analysis: Analysis | None, on_status) -> Path:
    from mvgen.checkpoints import classifier_labels
    from mvgen.mapper import map_frames
    from mvgen.styles import StyleTable, load_styles

    analysis = analysis or analyze(track, classifier=settings.classifier)
    labels = analysis.genre_profile.labels if analysis.genre_profile else classifier_labels(settings.classifier)
    styles = load_styles(settings.styles, labels=labels)
    window = render_window(analysis, settings)
    table = StyleTable.from_styles(styles)
    specs = map_frames(analysis, table, fps=settings.fps, start_s=window[0], end_s=window[1], seed=settings.seed)
    width, height = settings.frame_size()

    work = out.with_name(f".{out.name}.work")
    status = on_status or (lambda text: None)
    if settings.renderer == "diffusion":
        from mvgen.diffusion import DiffusionRenderer

        status(f"loading {settings.diffusion.model}")
        renderer = DiffusionRenderer(styles, width, height, settings.diffusion)
        status("denoising keyframes")
        renderer.prepare(specs)  # keyframes of the whole video, so any chunk can be drawn
    else:
        renderer = procedural_renderer(settings, width, height, len(specs))
        if renderer.compiles_on_first_render:
            status("compiling the renderer (about a minute the first time, cached afterwards)")
    # chunks end on GOP boundaries (every chunk starts with a keyframe: a chunk of a whole number of
    # GOPs keeps every GOP of the video the same length)
    gop = gop_frames(settings.fps)
    chunk_frames = -(-settings.chunk_frames // gop) * gop
    n_chunks = (len(specs) + chunk_frames - 1) // chunk_frames
    video_encoding, audio_encoding, max_bytes = encodings(settings.preset(), settings.fps, len(specs) / settings.fps, n_chunks)
    # chunks drawn at another detail must not be mixed in: the key holds the resolved value
    key = _work_key(analysis, settings.model_copy(update={"detail": renderer.detail, "compile": None}), window, video_encoding.args())
    manifest_path = work / "manifest.json"
    manifest = WorkManifest.load(manifest_path) if resume and manifest_path.is_file() else None
    if resume and manifest_path.is_file() and (manifest is None or manifest.key != key):
        raise StaleWorkError("the unfinished render here was made with other settings; run without --resume to start over", work)
    try:
        if manifest is None:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            manifest = WorkManifest(key=key, settings=settings, window=window)
            manifest.save(manifest_path)

        chunks = [work / f"chunk{c:05d}.mp4" for c in range(n_chunks)]
        done = 0
        for c, chunk in enumerate(chunks):
            part = specs[c * chunk_frames : (c + 1) * chunk_frames]
            if c in manifest.done and chunk.is_file():
                done += len(part)
                if on_progress is not None:
                    on_progress(done, len(specs))
                continue
            with ChunkWriter(chunk, width, height, settings.fps, pix_fmt=PIX_FMT, encoding=video_encoding) as writer:
                for b in range(0, len(part), settings.batch_frames):
                    frames = renderer.render(part[b : b + settings.batch_frames], pix_fmt=PIX_FMT)
                    status("rendering")
                    writer.write(frames.cpu().numpy())
                    done += len(part[b : b + settings.batch_frames])
                    if on_progress is not None:
                        on_progress(done, len(specs))
            manifest.done.append(c)
            manifest.save(manifest_path)
        mux(chunks, track, window[0], len(specs), settings.fps, out, audio=audio_encoding, max_bytes=max_bytes)
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        # the chunk being written is removed (ChunkWriter's abort); the finished ones are kept
        raise MvgenError(f"the disk is full ({exc.strerror or exc}); free some space and run the same command with --resume to continue", out) from None
    shutil.rmtree(work, ignore_errors=True)
    return out
