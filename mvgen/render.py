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

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from mvgen.analysis import Analysis, analyze
from mvgen.branding import Branding, build_overlay, write_sidecars
from mvgen.clips import LOOP_DRAFT_SIZE, LOOP_MAX_S, LOOP_MIN_S, ClipWindow, best_clip, calmest_cut, cut_candidates, loop_window, rotate_loop
from mvgen.assemble import CUT_FADE_S, ChunkWriter, gop_frames, mux
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
    teaser_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="the old name of clip_s (the same picker)")
    clip_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="render the strongest window of at most this many seconds, whole bars from downbeat to downbeat (mvgen.clips.best_clip)")
    loop: bool = Field(False, description="render a seamless loop (mvgen.clips.loop_window: whole bars from the first drop, at most clip_s or 8 s; or the excerpt start_s-end_s given) with periodic motion and no audio")
    renderer: Literal["procedural", "diffusion"] = "procedural"
    diffusion: DiffusionSettings = Field(default_factory=DiffusionSettings, description="settings of the diffusion renderer")
    styles: str | None = Field(None, description="style file or folder overriding the defaults")
    classifier: str | None = Field(None, description="genre classifier (folder or Hub id) whose classes the styles follow; None: the bundled one")
    seed: int = 0
    branding: Branding = Field(default_factory=Branding, description="text, logo, cover, end card and lyrics of the release")
    end_card: bool = Field(True, description="end the video with the branding's end card (mvgen.endcard); False for Spotify Canvas, a loop without an end")
    detail: float | None = Field(None, gt=0, le=1, description="fraction of the size the pictures are drawn at before upscaling; None: 1 on a GPU, 0.5 on a CPU")
    compile: bool | None = Field(None, description="torch.compile the renderer; None: on a CPU for renders long enough to repay the compilation")
    chunk_frames: int = Field(240, ge=1)
    batch_frames: int = Field(8, ge=1)
    format: str | None = Field(None, description="platform preset (mvgen.formats.PRESETS): sets aspect, fps and size (size may be changed), the length and the encoding")

    @field_validator("format")
    @classmethod
    def _known_format(cls, name: str | None) -> str | None:
        if name is not None and name not in PRESETS:
            raise ValueError(f"format {name!r} is not one of: {', '.join(PRESETS)}")
        return name

    @model_validator(mode="after")
    def _follow_format(self) -> "RenderSettings":
        """A format sets aspect and fps (a different one given alongside is an error) and, unless given,
        size; an excerpt or teaser longer than the platform allows (or shorter) is an error up front."""
        if self.format is None:
            return self
        preset = PRESETS[self.format]
        for name, value in (("aspect", preset.aspect), ("fps", preset.fps)):
            if name in self.model_fields_set and getattr(self, name) != value:
                raise ValueError(f"{name} {getattr(self, name)} differs from the {self.format} format's {value}; leave it out (only size may be changed)")
            object.__setattr__(self, name, value)
        if "size" not in self.model_fields_set:
            object.__setattr__(self, "size", preset.size_px)
        if preset.loop:  # Spotify Canvas: a seamless loop, with no end card and no text or logo (its content policy)
            object.__setattr__(self, "loop", True)
        if not preset.allows_text and self.branding.overlay:
            object.__setattr__(self, "branding", self.branding.model_copy(update={"overlay": False}))
        asked = self.clip_length_s if self.clip_length_s else (self.end_s - self.start_s if self.end_s is not None else None)
        if asked is not None and preset.limit_duration_s is not None and asked > preset.limit_duration_s:
            raise ValueError(f"{asked:g} s is longer than the {self.format} format allows ({preset.limit_duration_s:g} s)")
        if asked is not None and preset.min_duration_s is not None and asked < preset.min_duration_s:
            raise ValueError(f"{asked:g} s is shorter than the {self.format} format needs ({preset.min_duration_s:g} s)")
        return self

    def preset(self) -> Preset | None:
        """The :class:`mvgen.formats.Preset` of :attr:`format`, or None."""
        return None if self.format is None else get_preset(self.format)

    @model_validator(mode="after")
    def _one_window(self) -> "RenderSettings":
        if self.teaser_s is not None and self.clip_s is not None and self.teaser_s != self.clip_s:
            raise ValueError(f"teaser_s (--teaser {self.teaser_s:g}) is the old name of clip_s (--clip {self.clip_s:g}); give one of them")
        if self.clip_length_s is not None and (self.start_s or self.end_s is not None):
            raise ValueError("a clip (clip_s, --clip) picks its own window; give it without start_s/end_s (--start/--end)")
        if self.loop and self.renderer != "procedural":
            raise ValueError(f"loop: only the procedural renderer draws periodic motion (renderer: {self.renderer}); the diffusion keyframes do not loop")
        return self

    @property
    def clip_length_s(self) -> float | None:
        """The clip's requested length (s): ``clip_s``, or its old name ``teaser_s``; None: no clip."""
        return self.clip_s if self.clip_s is not None else self.teaser_s

    def frame_size(self) -> tuple[int, int]:
        """(width, height) in pixels, both even (yuv420p needs even sizes)."""
        aw, ah = ASPECTS[self.aspect]
        short = self.size - self.size % 2
        if aw >= ah:
            return 2 * round(short * aw / ah / 2), short
        return short, 2 * round(short * ah / aw / 2)


def clip_window(analysis: Analysis, settings: RenderSettings) -> ClipWindow:
    """The window of the video as a :class:`~mvgen.clips.ClipWindow`: a loop (``settings.loop``,
    :func:`~mvgen.clips.loop_window` of at most ``clip_s``, the format's cap or 8 s), the best clip
    (``clip_s`` or ``teaser_s``, :func:`~mvgen.clips.best_clip`) or the excerpt ``[start_s, end_s)``.
    A length-capped format (Shorts, X) renders the best clip of its cap from a longer track, and an
    excerpt with only a start is cut at the cap; a window shorter than a format's minimum is an error."""
    preset = settings.preset()
    cap_s = preset.max_duration_s if preset is not None else None
    excerpt = settings.start_s > 0 or settings.end_s is not None
    if settings.loop and not excerpt:  # a loop picks its bars, unless an excerpt is given (then that is looped)
        max_s = settings.clip_length_s or cap_s or LOOP_MAX_S
        window = loop_window(analysis, max_s=max_s, min_s=min(LOOP_MIN_S, max_s))
    elif settings.clip_length_s is not None:
        window = best_clip(analysis, settings.clip_length_s)
    else:
        end = analysis.duration_s if settings.end_s is None else min(settings.end_s, analysis.duration_s)
        if settings.start_s >= end:
            raise MvgenError(f"--start {settings.start_s:g} s is not before the end ({end:g} s)", analysis.audio.path)
        window = ClipWindow(settings.start_s, end, 0.0, "the excerpt asked for")
        if cap_s is not None and settings.end_s is None and end - settings.start_s > cap_s:
            window = best_clip(analysis, cap_s) if settings.start_s == 0 else ClipWindow(settings.start_s, settings.start_s + cap_s, 0.0, f"the {preset.name} format's {cap_s:g} s from the start asked for")
    if preset is not None and preset.min_duration_s is not None and window.end_s - window.start_s < preset.min_duration_s - 1e-6:
        raise MvgenError(f"the video would be {window.end_s - window.start_s:.2f} s; the {preset.name} format needs at least {preset.min_duration_s:g} s", analysis.audio.path)
    return window


def render_window(analysis: Analysis, settings: RenderSettings) -> tuple[float, float]:
    """``(start_s, end_s)`` of the video: the excerpt, the best clip or the loop (see :func:`clip_window`)."""
    window = clip_window(analysis, settings)
    return window.start_s, window.end_s


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


def loop_draft(specs, settings: RenderSettings) -> np.ndarray:
    """The frames ``specs`` drawn small (short side :data:`~mvgen.clips.LOOP_DRAFT_SIZE`, half detail,
    the settings' aspect) by the procedural renderer: uint8 RGB, shape ``(N, H, W, 3)``, for
    :func:`~mvgen.clips.calmest_cut`."""
    width, height = settings.model_copy(update={"size": LOOP_DRAFT_SIZE}).frame_size()
    renderer = _cached_renderer(width, height, 0.5, False)
    step = settings.batch_frames
    return np.concatenate([renderer.render(specs[i : i + step]).cpu().numpy() for i in range(0, len(specs), step)])


def _work_key(analysis: Analysis, settings: RenderSettings, window: tuple[float, float], encoder_args: list[str]) -> str:
    from mvgen import __version__

    # the encoder's settings too: chunks are joined by stream copy, which needs them identical
    encoder = [encoder_args, PIX_FMT]
    # the branding files' bytes too: the cover tints the chunks and is drawn on the end card, the logo, font and lyrics are drawn
    payload = json.dumps([analysis.audio.content_hash, analysis.analysis_version, settings.model_dump(), window, __version__, encoder, settings.branding.file_digests()], sort_keys=True)
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
    if settings.loop and (settings.format is None or not settings.preset().loop):
        clip = "-loop"
    elif settings.clip_s:
        clip = f"-clip{settings.clip_s:g}s"
    else:
        clip = f"-teaser{settings.teaser_s:g}s" if settings.teaser_s else ""
    return track.with_name(f"{track.stem}{suffix}{clip}.mp4")


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


def _draw(renderer, overlay, specs) -> np.ndarray:
    """The encoder's yuv420p frames of ``specs``, with the branding ``overlay`` (text, logo, lyrics)
    composited on the renderer's device; also under the end card's fade, so the text fades out with the video."""
    frames = renderer.render(specs, pix_fmt=PIX_FMT)
    if overlay is not None:
        overlay.composite(frames, specs)
    return frames.cpu().numpy()


def _render_locked(track, out: Path, settings: RenderSettings, resume: bool, on_progress, analysis: Analysis | None, on_status) -> Path:
    from mvgen.checkpoints import classifier_labels
    from mvgen.endcard import EndCard, card_frames
    from mvgen.mapper import map_frames
    from mvgen.styles import StyleTable, load_styles

    # branding: files, layout and lyrics checked, and the overlay rasterized once, before the analysis
    overlay = build_overlay(settings.branding, *settings.frame_size(), settings.aspect)
    analysis = analysis or analyze(track, classifier=settings.classifier)
    labels = analysis.genre_profile.labels if analysis.genre_profile else classifier_labels(settings.classifier)
    styles = load_styles(settings.styles, labels=labels)
    clip = clip_window(analysis, settings)
    window = (clip.start_s, clip.end_s)
    table = StyleTable.from_styles(styles)
    if settings.branding.palette_from_cover:
        from mvgen.cover import cover_palette, tint_table

        table = tint_table(table, cover_palette(settings.branding.cover))
    specs = map_frames(analysis, table, fps=settings.fps, start_s=window[0], end_s=window[1], seed=settings.seed, loop=settings.loop)
    status = on_status or (lambda text: None)
    if settings.loop:
        status("choosing the loop's cut")
        specs = rotate_loop(specs, calmest_cut(loop_draft(specs, settings), allowed=cut_candidates(specs)))
    width, height = settings.frame_size()
    # chunks end on GOP boundaries (every chunk starts with a keyframe: a chunk of a whole number of
    # GOPs keeps every GOP of the video the same length)
    gop = gop_frames(settings.fps)
    chunk_frames = -(-settings.chunk_frames // gop) * gop
    # the end card takes the last frames: the body is drawn as always, the card is one more chunk; it
    # starts on a GOP boundary (up to half a second longer than asked), so no short GOP sits before it
    n_card = card_frames(settings.branding, window[1] - window[0], settings.fps, enabled=settings.end_card and not settings.loop)  # a loop has no end
    if n_card:
        n_card = len(specs) - (len(specs) - n_card) // gop * gop
    card = EndCard(settings.branding, width, height, settings.fps, n_card, aspect=settings.aspect) if n_card else None
    body = specs[: len(specs) - n_card]
    n_body_chunks = (len(body) + chunk_frames - 1) // chunk_frames

    work = out.with_name(f".{out.name}.work")
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
    n_chunks = n_body_chunks + (card is not None)
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

        chunks = [work / f"chunk{c:05d}.mp4" for c in range(n_body_chunks)]
        done = 0
        for c, chunk in enumerate(chunks):
            part = body[c * chunk_frames : (c + 1) * chunk_frames]
            if c in manifest.done and chunk.is_file():
                done += len(part)
                if on_progress is not None:
                    on_progress(done, len(specs))
                continue
            with ChunkWriter(chunk, width, height, settings.fps, pix_fmt=PIX_FMT, encoding=video_encoding) as writer:
                for b in range(0, len(part), settings.batch_frames):
                    frames = _draw(renderer, overlay, part[b : b + settings.batch_frames])
                    status("rendering")
                    writer.write(frames)
                    done += len(part[b : b + settings.batch_frames])
                    if on_progress is not None:
                        on_progress(done, len(specs))
            manifest.done.append(c)
            manifest.save(manifest_path)
        if card is not None:
            chunk = work / f"chunk{n_body_chunks:05d}.mp4"
            chunks.append(chunk)

            def card_progress(n: int) -> None:
                nonlocal done
                done += n
                if on_progress is not None:
                    on_progress(done, len(specs))

            if n_body_chunks in manifest.done and chunk.is_file():
                card_progress(n_card)
            else:
                # the video under the card's fade: drawn like the body, then composed with the card
                # (in batches of the body's size: a compiled renderer would recompile for a larger one)
                fade = specs[len(body) : len(body) + card.fade_frames]
                underlay = np.concatenate([_draw(renderer, overlay, fade[b : b + settings.batch_frames]) for b in range(0, len(fade), settings.batch_frames)])
                status("end card")
                card.write(chunk, underlay, on_frames=card_progress, encoding=video_encoding)
                manifest.done.append(n_body_chunks)
                manifest.save(manifest_path)
        # a loop has no audio (its sound would jump at every repeat); a cut inside the track is faded
        inside = (CUT_FADE_S if window[0] > 0 else 0.0, CUT_FADE_S if window[1] < analysis.duration_s - CUT_FADE_S else 0.0)
        mux(chunks, None if settings.loop else track, window[0], len(specs), settings.fps, out, *inside, audio=audio_encoding, max_bytes=max_bytes)
        write_sidecars(settings.branding, out, (window[0], window[0] + len(specs) / settings.fps))  # lyrics as .srt/.vtt captions
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        # the chunk being written is removed (ChunkWriter's abort); the finished ones are kept
        raise MvgenError(f"the disk is full ({exc.strerror or exc}); free some space and run the same command with --resume to continue", out) from None
    shutil.rmtree(work, ignore_errors=True)
    return out
