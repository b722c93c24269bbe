"""Deliverables beside a finished video: a YouTube thumbnail and a short muted looping GIF or WebP
(and, through :func:`make_deliverables`, the loudness figures and normalized copy of :mod:`mvgen.delivery.loudness`).

Both look at the first drop, where a track (and so its video) is at full energy. Times are in seconds
of the *video* unless named ``track_*``; a video rendered from ``window_s = (start_s, end_s)`` of the
track (:func:`mvgen.clips.clip_window`) shows track time ``t`` at video time ``t - start_s``.

Thumbnail: candidate frames are decoded every 1 / :data:`CANDIDATE_FPS` s over :data:`THUMBNAIL_WINDOW_S`
seconds from the first drop (the whole video when it shows no drop), each is scored by
:func:`striking_score`, and the best one is written as a 1280x720 JPEG of at most 2 MB (YouTube's
thumbnail size and limit). A frame of another aspect (9:16, 1:1) is shown whole, fitted to the height,
over a blurred, darkened copy of itself that covers the 16:9 canvas: nothing is cropped away and there
are no black bars (a crop of a vertical frame keeps a third of it; pillarbox bars look unfinished).

Loop: whole bars from the first drop's downbeat, the Canvas's rule (:func:`mvgen.analysis.windows.phrase_loop`:
the most bars, 1, 2, 4 or 8 preferred) within :data:`PREVIEW_LOOP_MIN_S` to :data:`PREVIEW_LOOP_MAX_S`
seconds (2 bars at 96-190 bpm: 3.75 s at 128 bpm), :data:`LOOP_WIDTH_PX` wide at :data:`LOOP_FPS`,
no audio, looping forever.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mvgen.analysis.windows import phrase_loop
from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path, write_atomic
from mvgen.media.ffmpeg import ffmpeg_exe, read_header
from mvgen.delivery.loudness import TARGET_RANGE_LUFS, TRUE_PEAK_WARN_DBTP, Loudness, Normalized, measure_loudness, normalize_loudness, normalized_path

if TYPE_CHECKING:
    from mvgen.analysis.track import Analysis

T = TypeVar("T")

#: YouTube's thumbnail: 1280x720 pixels, at most 2 MB.
THUMBNAIL_SIZE_PX = (1280, 720)
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024
#: JPEG qualities tried in turn until the file fits :data:`THUMBNAIL_MAX_BYTES` (a 1280x720 frame of
#: fine noise, the worst case, is 1.1 MB at 95).
JPEG_QUALITIES = (95, 90, 85, 80, 70, 60, 50, 40)
#: Seconds after the first drop searched for the thumbnail, and candidate frames per second there.
THUMBNAIL_WINDOW_S = 6.0
CANDIDATE_FPS = 4.0
#: Width (pixels) the candidates are scored at: the measures compare frames, and a common scale makes
#: the sharpness of different renders comparable.
SCORE_WIDTH_PX = 320
#: Weights of the striking score's parts (each in [0, 1]), and the levels that count as full marks:
#: Hasler and Suesstrunk's colourfulness of 109 is their "extremely colourful"; a luma standard
#: deviation of 0.3 is a strong contrast (a half-black, half-white frame is 0.5); a variance of the
#: Laplacian of 0.02 (luma in [0, 1], at SCORE_WIDTH_PX) is a crisp, detailed frame.
SCORE_WEIGHTS = {"colourfulness": 0.4, "contrast": 0.3, "sharpness": 0.3}
FULL_COLOURFULNESS = 109.0
FULL_CONTRAST = 0.3
FULL_SHARPNESS = 0.02
#: Exposure: frames whose mean luma is outside this range, or with more than CLIPPED_SHARE of their
#: pixels crushed black or blown white, are scaled down (a dark or washed-out thumbnail reads badly small).
GOOD_MEAN_LUMA = (0.15, 0.85)
CLIPPED_SHARE = 0.5

#: The animated loop's length (s): whole bars within these bounds (4/4: 2 bars at 96-190 bpm, 1 bar
#: below). Short, as a web page loads it whole (a GIF is ~0.7 MB per second at 480 px), and not so
#: short that it is over before it reads.
PREVIEW_LOOP_MIN_S = 2.0
PREVIEW_LOOP_MAX_S = 5.0
#: Its width (pixels) and frame rate.
LOOP_WIDTH_PX = 480
LOOP_FPS = 12.0
LOOP_KINDS = ("gif", "webp")
#: Animated WebP quality (libwebp's 0-100): small files for web pages, still clean at 480 pixels.
WEBP_QUALITY = 70


@dataclasses.dataclass(frozen=True)
class Thumbnail:
    """The written thumbnail: ``path``, the chosen frame's video time ``time_s``, its ``score``, the file's ``size_bytes`` and JPEG ``quality``."""

    path: Path
    time_s: float
    score: float
    size_bytes: int
    quality: int


@dataclasses.dataclass(frozen=True)
class LoopPreview:
    """The written loop: ``path``, its video-time span ``start_s`` + ``length_s``, the file's ``n_frames``,
    ``duration_s`` (one pass of the loop, as players time it) and ``size_bytes``. libwebp merges identical
    consecutive frames into one longer frame, so a WebP can have fewer frames than ``length_s * fps``."""

    path: Path
    start_s: float
    length_s: float
    n_frames: int
    duration_s: float
    size_bytes: int


def _video_duration_s(video: Path) -> float:
    """The container's duration, from ffmpeg's header (no decoding)."""
    if not video.is_file():
        raise MvgenError("no such file", video)
    header = read_header(video)
    if header.duration_s is None or header.stream("Video") is None:
        raise MvgenError("not a video file ffmpeg can read", video)
    return header.duration_s


def drop_time_s(analysis: Analysis | None, window_s: tuple[float, float] | None) -> float | None:
    """Video time of the first drop the video shows (``window_s``: its track span; None: the whole track):
    where it starts, or 0 when the video starts inside it; None if the video shows no drop."""
    if analysis is None:
        return None
    start_s, end_s = window_s if window_s is not None else (0.0, analysis.duration_s)
    for drop in analysis.drops:
        if drop.start_s < end_s and drop.end_s > start_s:
            return max(0.0, drop.start_s - start_s)
    return None


def decode_frames(video: str | os.PathLike, start_s: float, length_s: float, fps: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Frames of ``video`` every ``1 / fps`` s from ``start_s`` for ``length_s``: ``(times_s (n,), [uint8 (H, W, 3) RGB] * n)``."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="mvgen-frames-") as folder:
        # input seeking: the decoded timestamps start at 0 at ``start_s``
        args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-ss", f"{start_s:.3f}", "-t", f"{length_s:.3f}", "-i", str(video),
                "-map", "0:v:0", "-vf", f"fps={fps:g}", "-start_number", "0", str(Path(folder) / "%05d.png")]
        result = subprocess.run(args, capture_output=True, text=True, errors="replace")
        if result.returncode != 0:
            raise MvgenError(f"decoding frames failed: {' '.join(result.stderr.split())[-300:]}", video)
        files = sorted(Path(folder).glob("*.png"))
        frames = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    return start_s + np.arange(len(frames)) / fps, frames


def striking_score(frame: np.ndarray) -> float:
    """How striking a frame is, in [0, 1]: colourful, contrasting and sharp, and neither dark nor blown out.

    ``frame``: uint8 ``(H, W, 3)`` RGB (scored at :data:`SCORE_WIDTH_PX` wide). The weighted sum
    (:data:`SCORE_WEIGHTS`) of colourfulness (Hasler and Suesstrunk 2003: ``sqrt(sd_rg^2 + sd_yb^2) +
    0.3 sqrt(mean_rg^2 + mean_yb^2)`` on 0-255 values, rg = R - G, yb = (R + G) / 2 - B), contrast (the
    luma's standard deviation) and sharpness (the variance of the luma's 4-neighbour Laplacian), each
    divided by its full-marks level and capped at 1; times an exposure factor that falls linearly to 0
    as the mean luma leaves :data:`GOOD_MEAN_LUMA` and as the share of clipped pixels passes :data:`CLIPPED_SHARE`.
    """
    from PIL import Image

    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    if w != SCORE_WIDTH_PX:
        frame = np.asarray(Image.fromarray(frame).resize((SCORE_WIDTH_PX, max(1, round(h * SCORE_WIDTH_PX / w))), Image.Resampling.BOX))
    rgb = frame.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, (r + g) / 2 - b
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    luma = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0
    laplacian = luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4 * luma[1:-1, 1:-1]
    parts = {
        "colourfulness": colourfulness / FULL_COLOURFULNESS,
        "contrast": luma.std() / FULL_CONTRAST,
        "sharpness": (laplacian.var() if laplacian.size else 0.0) / FULL_SHARPNESS,
    }
    score = sum(SCORE_WEIGHTS[k] * min(1.0, v) for k, v in parts.items())
    low, high = GOOD_MEAN_LUMA
    mean = luma.mean()
    exposure = min(1.0, mean / low, (1.0 - mean) / (1.0 - high))
    clipped = np.mean((luma <= 0.02) | (luma >= 0.98))
    exposure *= min(1.0, (1.0 - clipped) / (1.0 - CLIPPED_SHARE))
    return float(score * max(0.0, exposure))


def thumbnail_image(frame: np.ndarray):
    """``frame`` (uint8 ``(H, W, 3)``) as a 1280x720 PIL image (see the module's notes on other aspects)."""
    from PIL import Image, ImageEnhance, ImageFilter

    W, H = THUMBNAIL_SIZE_PX
    image = Image.fromarray(np.asarray(frame, np.uint8))
    w, h = image.size
    if abs(w / h - W / H) < 0.01:
        return image.resize((W, H), Image.Resampling.LANCZOS)
    cover = max(W / w, H / h)  # the background covers the canvas (cropped), the frame fits inside it
    background = image.resize((max(W, round(w * cover)), max(H, round(h * cover))), Image.Resampling.BILINEAR)
    left, top = (background.width - W) // 2, (background.height - H) // 2
    background = background.crop((left, top, left + W, top + H)).filter(ImageFilter.GaussianBlur(H / 24))
    canvas = ImageEnhance.Brightness(background).enhance(0.5)  # darker, so the frame itself stands out
    fit = min(W / w, H / h)
    front = image.resize((round(w * fit), round(h * fit)), Image.Resampling.LANCZOS)
    canvas.paste(front, ((W - front.width) // 2, (H - front.height) // 2))
    return canvas


def best_thumbnail(video: str | os.PathLike, analysis: Analysis | None, out_jpg: str | os.PathLike, window_s: tuple[float, float] | None = None) -> Thumbnail:
    """Write the most striking frame near the first drop as a 1280x720 JPEG of at most 2 MB; see the module's notes.

    ``analysis``: the track's (for its drops; None: search the whole video). ``window_s``: the track
    span the video shows (:func:`mvgen.clips.clip_window`'s start and end; None: from the track's start).
    """
    from PIL import Image

    video, out_jpg = Path(video), Path(out_jpg)
    if out_jpg.suffix.lower() not in (".jpg", ".jpeg"):
        raise MvgenError(f"a thumbnail is a JPEG: the name must end in .jpg or .jpeg, got {out_jpg.name!r}", out_jpg)
    duration_s = _video_duration_s(video)
    drop_s = drop_time_s(analysis, window_s)
    start_s, length_s = (drop_s, min(THUMBNAIL_WINDOW_S, duration_s - drop_s)) if drop_s is not None else (0.0, duration_s)
    # at most 48 candidates: a whole long video is sampled more sparsely, not decoded into memory at 4 fps
    fps = min(CANDIDATE_FPS, 48 / max(length_s, 1e-3))
    times_s, frames = decode_frames(video, start_s, length_s, fps)
    if not frames:
        raise MvgenError(f"no frames decoded from {start_s:.2f} s", video)
    scores = [striking_score(f) for f in frames]
    best = int(np.argmax(scores))
    image = thumbnail_image(frames[best])
    for quality in JPEG_QUALITIES:
        try:
            with atomic_path(out_jpg, suffix=".part.jpg") as tmp:
                image.save(tmp, format="JPEG", quality=quality, optimize=True, progressive=True)
                size = tmp.stat().st_size
                if size > THUMBNAIL_MAX_BYTES:
                    raise _TooBig()  # leaves no file behind; a lower quality next
        except _TooBig:
            continue
        return Thumbnail(path=out_jpg, time_s=float(times_s[best]), score=scores[best], size_bytes=size, quality=quality)
    raise MvgenError(f"the thumbnail is over {THUMBNAIL_MAX_BYTES} bytes even at JPEG quality {JPEG_QUALITIES[-1]}", out_jpg)


class _TooBig(Exception):
    """A JPEG over the size limit: its temporary file is dropped and a lower quality tried."""


def loop_window_s(analysis: Analysis | None, window_s: tuple[float, float] | None, duration_s: float, *,
                  max_s: float = PREVIEW_LOOP_MAX_S, min_s: float = PREVIEW_LOOP_MIN_S) -> tuple[float, float]:
    """``(start_s, length_s)`` of the loop in video time (``duration_s`` long, showing the track from
    ``window_s``'s start): :func:`~mvgen.analysis.windows.phrase_loop` of ``min_s`` to ``max_s`` seconds
    from the first drop the video shows (else its start), inside the video; without an analysis
    ``max_s`` seconds from the start."""
    offset_s = window_s[0] if window_s is not None else 0.0  # track time of the video's first frame
    drop_s = drop_time_s(analysis, window_s)
    downbeats = analysis.downbeats_s if analysis is not None else []
    loop = phrase_loop(downbeats, anchor_s=offset_s + (drop_s or 0.0), span_s=(offset_s, offset_s + duration_s), max_s=max_s, min_s=min_s,
                       note="first drop" if drop_s is not None else "video's start")
    return loop.start_s - offset_s, loop.length_s


def loop_preview(video: str | os.PathLike, out: str | os.PathLike, analysis: Analysis | None = None, window_s: tuple[float, float] | None = None,
                 width_px: int = LOOP_WIDTH_PX, fps: float = LOOP_FPS) -> LoopPreview:
    """Write a short muted loop of ``video`` around its first drop as an animated GIF or WebP (from ``out``'s suffix), looping forever.

    GIF: one palette for the whole loop (palettegen, then paletteuse with ordered (Bayer) dithering, which
    does not crawl between frames as error diffusion does; bayer_scale=5, its coarsest, is 20% smaller than
    3 on a procedural render: 2.7 MB for 3.75 s at 480x270). WebP: libwebp's animated encoder, lossy, several times smaller.
    """
    import ffmpeg

    video, out = Path(video), Path(out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in LOOP_KINDS:
        raise MvgenError(f"a loop preview is one of {', '.join('.' + k for k in LOOP_KINDS)}, got {out.name!r}", out)
    if width_px < 16 or width_px % 2:
        raise MvgenError(f"width_px must be an even number of pixels >= 16, got {width_px}")
    if not (1 <= fps <= 50):
        raise MvgenError(f"fps must be in [1, 50], got {fps}")
    start_s, length_s = loop_window_s(analysis, window_s, _video_duration_s(video))
    frames = ffmpeg.input(str(video), ss=f"{start_s:.3f}", t=f"{length_s:.3f}").video.filter("fps", fps=f"{fps:g}").filter("scale", width_px, -2, flags="lanczos")
    if kind == "gif":
        split = frames.split()
        palette = split[0].filter("palettegen", stats_mode="full")
        frames = ffmpeg.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=5)
        output_options = {"loop": 0}
    else:
        output_options = {"vcodec": "libwebp_anim", "loop": 0, "quality": WEBP_QUALITY, "lossless": 0, "pix_fmt": "yuv420p"}
    with atomic_path(out, suffix=".part." + kind) as tmp:
        args = ffmpeg.output(frames, str(tmp), an=None, **output_options).compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        result = subprocess.run(args, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise MvgenError(f"writing the {kind} loop failed: {' '.join(result.stderr.split())[-300:]}", video)
        n_frames, duration_s = animation_timing(tmp)
        size = tmp.stat().st_size
    return LoopPreview(path=out, start_s=start_s, length_s=length_s, n_frames=n_frames, duration_s=duration_s, size_bytes=size)


def animation_timing(path: str | os.PathLike) -> tuple[int, float]:
    """``(n_frames, duration_s)`` of an animated GIF or WebP, as Pillow decodes it."""
    from PIL import Image

    with Image.open(path) as image:
        n_frames = getattr(image, "n_frames", 1)
        duration_ms = 0.0
        for k in range(n_frames):
            image.seek(k)
            image.load()  # Pillow's WebP reader sets a frame's duration when it decodes it
            duration_ms += image.info.get("duration", 0)
    return n_frames, duration_ms / 1000.0


def _loudness_in_range(value: float) -> float:
    low, high = TARGET_RANGE_LUFS
    if not low <= value <= high:
        raise ValueError(f"must be a loudness from {low:g} to {high:g} LUFS (e.g. -14 for streaming), got {value:g}")
    return value


#: A target integrated loudness (LUFS) within :data:`~mvgen.delivery.loudness.TARGET_RANGE_LUFS`, for pydantic models.
LoudnessTarget = Annotated[float, AfterValidator(_loudness_in_range)]


class DeliverableOptions(BaseModel):
    """What to write beside a rendered video (the CLI's ``--loudness``, ``--thumbnail``, ``--preview-loop``; a batch manifest's keys of the same names).

    The loudness is always measured (when the video has audio); the original is never changed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    loudness: LoudnessTarget | None = Field(None, description="also write a copy normalized to this integrated loudness (LUFS), e.g. -14")
    thumbnail: bool = Field(False, description="write a 1280x720 JPEG thumbnail of the most striking frame after the first drop")
    preview_loop: Literal["gif", "webp"] | None = Field(None, description="write a short muted looping GIF or WebP from the first drop")


@dataclasses.dataclass(frozen=True)
class Failure:
    """A deliverable that could not be made: its ``kind`` (``"loudness"``: the video's measurement, or a
    kind of file of :data:`DELIVERABLE_KINDS`), the ``path`` it was to be written to (the video's, for
    its loudness) and the ``problem``, one line. ``error``: the exception, for a traceback on request."""

    kind: str
    path: Path
    problem: str
    error: BaseException | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def file_kind(self) -> str:
        """The kind of file (:data:`DELIVERABLE_KINDS`) this failure belongs to."""
        return "video" if self.kind == "loudness" else self.kind

    def check(self):
        """This failure as a failed :class:`mvgen.delivery.formats.Check` of its file."""
        from mvgen.delivery.formats import Check

        return Check("loudness measured" if self.kind == "loudness" else "written", False, self.problem)

    def describe(self) -> str:
        return f"{self.kind} ({self.path.name}): {self.problem}"


@dataclasses.dataclass(frozen=True)
class Deliverables:
    """What :func:`make_deliverables` measured and wrote for one video, and what it could not make (``failures``)."""

    loudness: Loudness | None = dataclasses.field(metadata={"doc": "the video as rendered; None without audio (or when it could not be measured: see failures)"})
    normalized: Normalized | None
    thumbnail: Thumbnail | None
    preview_loop: LoopPreview | None
    warnings: tuple[str, ...] = ()
    found: tuple[Path, ...] = dataclasses.field(default=(), metadata={"doc": "deliverables written by an earlier run (see existing_deliverables)"})
    failures: tuple[Failure, ...] = dataclasses.field(default=(), metadata={"doc": "what was asked for and failed, each with its reason"})

    @property
    def files(self) -> tuple[Path, ...]:
        """The files beside the video: written now, or found from an earlier run."""
        return tuple(x.path for x in (self.normalized, self.thumbnail, self.preview_loop) if x is not None) + self.found


def thumbnail_path(video: str | os.PathLike) -> Path:
    """``track.mp4`` -> ``track.thumbnail.jpg``, beside it."""
    return Path(video).with_suffix(".thumbnail.jpg")


def preview_loop_path(video: str | os.PathLike, kind: str) -> Path:
    """``track.mp4`` -> ``track.loop.gif`` (or ``.webp``), beside it."""
    return Path(video).with_suffix(f".loop.{kind}")


def peak_warning(loudness: Loudness) -> str | None:
    """The warning for a true peak over :data:`~mvgen.delivery.loudness.TRUE_PEAK_WARN_DBTP`, or None."""
    if not loudness.peak_warning:
        return None
    return (f"true peak {loudness.true_peak_dbtp:.1f} dBTP is above {TRUE_PEAK_WARN_DBTP:g} dBTP after AAC encoding: "
            f"players and the platforms' own transcodes may clip it (a normalized copy, e.g. --loudness -14, keeps it at {TRUE_PEAK_WARN_DBTP:g})")


def existing_deliverables(video: str | os.PathLike) -> Deliverables:
    """The loudness of a video rendered earlier, and the files beside it that :func:`make_deliverables` writes (none is made)."""
    video = Path(video)
    loudness = measure_loudness(video)
    found = [p for p in deliverable_files(video)[1:] if _kind_of(p, video) != "captions"]
    warning = peak_warning(loudness) if loudness is not None else None
    return Deliverables(loudness=loudness, normalized=None, thumbnail=None, preview_loop=None, warnings=(warning,) if warning else (), found=tuple(found))


def make_deliverables(video: str | os.PathLike, analysis: Analysis | None, options: DeliverableOptions, window_s: tuple[float, float] | None = None,
                      preset=None) -> Deliverables:
    """Measure ``video``'s loudness and write what ``options`` asks for beside it (names: :func:`~mvgen.delivery.loudness.normalized_path`,
    :func:`thumbnail_path`, :func:`preview_loop_path`). ``window_s``: the track span the video shows (:func:`mvgen.clips.clip_window`'s start and end);
    ``preset``: the :class:`mvgen.delivery.formats.Preset` it was rendered for, whose length warning joins the warnings.

    Every step is attempted whatever became of the others: one that fails (a :class:`MvgenError`, or
    any other exception, a bug) is in the result's ``failures`` with its reason, and recorded beside
    the video (:func:`failures_path`) for the checks and the preview page; an interruption (Ctrl-C,
    :class:`mvgen.interrupts.Terminated`) still stops everything.
    """
    from mvgen.delivery.formats import length_warning

    video = Path(video)
    failures: list[Failure] = []
    loudness = _attempt(failures, "loudness", video, lambda: measure_loudness(video))
    long = length_warning(preset, window_s[1] - window_s[0]) if preset is not None and window_s is not None else None
    warnings = [w for w in [peak_warning(loudness) if loudness is not None else None, long] if w]
    normalized = None
    if options.loudness is not None:
        if loudness is None and not failures:
            warnings.append(f"--loudness {options.loudness:g}: the video has no audio; no normalized copy written")
        else:  # also when the measurement failed: the copy measures again and says for itself what is wrong
            normalized = _attempt(failures, "normalized", normalized_path(video, options.loudness), lambda: normalize_loudness(video, options.loudness))
    thumbnail = loop = None
    if options.thumbnail:
        thumbnail = _attempt(failures, "thumbnail", thumbnail_path(video), lambda: best_thumbnail(video, analysis, thumbnail_path(video), window_s=window_s))
    if options.preview_loop:
        out = preview_loop_path(video, options.preview_loop)
        loop = _attempt(failures, "loop", out, lambda: loop_preview(video, out, analysis, window_s=window_s))
    try:
        record_failures(video, failures)
    except OSError as exc:  # the list beside the video is a convenience: the caller has the failures
        warnings.append(f"{failures_path(video)}: not written ({exc.strerror or exc})")
    return Deliverables(loudness=loudness, normalized=normalized, thumbnail=thumbnail, preview_loop=loop, warnings=tuple(warnings), failures=tuple(failures))


def _attempt(failures: list[Failure], kind: str, path: Path, make: Callable[[], T]) -> T | None:
    """``make()``, or None with its failure appended to ``failures``: an :class:`MvgenError` as it
    reads, an ``OSError`` as the system's message, any other exception (a bug) as an internal error. Interruptions are not exceptions of this
    kind (``KeyboardInterrupt`` is a ``BaseException``) and go through."""
    try:
        return make()
    except MvgenError as exc:
        failures.append(Failure(kind, path, str(exc), exc))
    except OSError as exc:  # the system's: a full disk, a folder in the way of the file, no permission
        where = exc.filename2 or exc.filename  # of a rename, the target: the temporary name means nothing to the user
        failures.append(Failure(kind, path, f"{exc.strerror or exc}" + (f": {where}" if where else ""), exc))
    except Exception as exc:  # noqa: BLE001 - one deliverable's bug must not cost the others
        failures.append(Failure(kind, path, f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}", exc))
    return None


def failures_path(video: str | os.PathLike) -> Path:
    """``track.mp4`` -> ``track.failed.json``: the deliverables the last run could not make, beside the video."""
    return Path(video).with_suffix(".failed.json")


def record_failures(video: str | os.PathLike, failures: Sequence[Failure]) -> Path | None:
    """Write ``failures`` beside ``video`` (:func:`failures_path`, JSON: kind, file name, problem of each) for
    :func:`check_deliverables`; with none, remove an earlier run's list. Returns the file written, or None."""
    path = failures_path(video)
    if not failures:
        path.unlink(missing_ok=True)
        return None
    rows = [{"kind": f.kind, "file": f.path.name, "problem": f.problem} for f in failures]  # beside the video: named relative to it
    return write_atomic(path, json.dumps({"video": Path(video).name, "failures": rows}, indent=1))


def recorded_failures(video: str | os.PathLike) -> tuple[Failure, ...]:
    """The failures :func:`record_failures` left beside ``video`` (none without the file)."""
    path = failures_path(video)
    if not path.is_file():
        return ()
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["failures"]
        return tuple(Failure(str(r["kind"]), path.parent / str(r["file"]), str(r["problem"])) for r in rows)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MvgenError(f"not a list of failed deliverables mvgen can read ({exc.__class__.__name__}: {exc}); delete it", path) from None


#: What each kind of deliverable file is.
DELIVERABLE_KINDS = ("video", "normalized", "thumbnail", "loop", "captions")
#: A normalized copy passes when its integrated loudness is this close to the target (LU).
NORMALIZED_TOLERANCE_LU = 1.0


@dataclasses.dataclass(frozen=True)
class Deliverable:
    """One file of a release's deliverables and its checks (:class:`mvgen.delivery.formats.Check`: name, passed, why)."""

    path: Path
    kind: Literal["video", "normalized", "thumbnail", "loop", "captions"]
    checks: tuple  # of mvgen.delivery.formats.Check

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def _kind_of(path: Path, video: Path) -> str:
    name = path.name
    if path == failures_path(video):
        return "record"  # not a deliverable: the list of those that failed
    if name.endswith(".thumbnail.jpg"):
        return "thumbnail"
    if path.suffix.lstrip(".") in LOOP_KINDS:
        return "loop"
    if path.suffix in (".srt", ".vtt"):
        return "captions"
    return "normalized" if name.endswith("LUFS" + video.suffix) else "video"


def _loudness_target(path: Path) -> float | None:
    found = re.search(r"\.(-?\d+(?:\.\d+)?)LUFS\.[^.]+$", path.name)
    return float(found.group(1)) if found else None


def check_file(path: str | os.PathLike, video: str | os.PathLike, preset=None) -> Deliverable:
    """Check one deliverable file of ``video`` for where it goes: the video against ``preset``'s
    published limits (:func:`mvgen.delivery.formats.check_preset`; without one, the upload spec every mvgen
    video follows), a normalized copy's loudness and true peak, the thumbnail's size and format
    (YouTube: 1280x720 JPEG, <= 2 MB), a loop's frames and endless looping, captions' presence."""
    from PIL import Image

    from mvgen.delivery.formats import Check, check_preset, check_upload_spec

    path, video = Path(path), Path(video)
    kind = _kind_of(path, video)
    if kind == "video":
        checks = check_preset(path, preset) if preset is not None else check_upload_spec(path)
    elif kind == "normalized":
        measured, target = measure_loudness(path), _loudness_target(path)
        if measured is None:
            checks = [Check("audio", False, "no audio stream")]
        else:
            checks = [Check("loudness", target is not None and abs(measured.integrated_lufs - target) <= NORMALIZED_TOLERANCE_LU,
                            f"{measured.integrated_lufs:.1f} LUFS (target {target:g})" if target is not None else f"{measured.integrated_lufs:.1f} LUFS"),
                      Check("true peak", measured.true_peak_dbtp <= TRUE_PEAK_WARN_DBTP, f"{measured.true_peak_dbtp:.1f} dBTP (ceiling {TRUE_PEAK_WARN_DBTP:g})")]
            if preset is not None and not preset.has_audio:
                checks.append(Check("audio", False, f"the {preset.name} format has no audio"))
    elif kind == "thumbnail":
        with Image.open(path) as image:
            fmt, size = image.format, image.size
        n_bytes = path.stat().st_size
        checks = [Check("format", fmt == "JPEG", fmt or "unknown"),
                  Check("picture", size == THUMBNAIL_SIZE_PX, f"{size[0]}x{size[1]} (want {THUMBNAIL_SIZE_PX[0]}x{THUMBNAIL_SIZE_PX[1]})"),
                  Check("file size", n_bytes <= THUMBNAIL_MAX_BYTES, f"{n_bytes} bytes (cap {THUMBNAIL_MAX_BYTES})")]
    elif kind == "loop":
        n_frames, duration_s = animation_timing(path)
        with Image.open(path) as image:
            loops = image.info.get("loop", 1)
        checks = [Check("animation", n_frames > 1 and duration_s > 0, f"{n_frames} frames, {duration_s:.2f} s"),
                  Check("loops forever", loops == 0, "loop=0" if loops == 0 else f"plays {loops} time(s)")]
    else:
        n_cues = path.read_text(errors="replace").count("-->")
        checks = [Check("captions", n_cues > 0, f"{n_cues} cues")]
    return Deliverable(path, kind, tuple(checks))


def deliverable_files(video: str | os.PathLike) -> list[Path]:
    """``video`` and the files mvgen writes beside it (normalized copies, thumbnail, loops, captions), as they are on disk."""
    video = Path(video)
    beside = sorted(p for p in video.parent.glob(f"{glob.escape(video.stem)}.*") if p != video and not p.name.startswith(".")
                    and _kind_of(p, video) not in ("video", "record") and p.is_file())
    return [video, *beside]


def check_deliverables(video: str | os.PathLike, preset=None, failures: Sequence[Failure] | None = None) -> list[Deliverable]:
    """Every deliverable of ``video`` on disk (see :func:`deliverable_files`), each with its checks
    (:func:`check_file`; a file that cannot be checked at all fails a ``readable`` check), and the
    ``failures`` of the run that made them (None: those recorded beside the video, :func:`recorded_failures`):
    each adds a failed check to its file, listed even when no file is there (an older file of
    that name fails too: it is not what this run was asked to make)."""
    from mvgen.delivery.formats import Check

    checked = []
    for path in deliverable_files(video):
        try:
            checked.append(check_file(path, video, preset))
        except Exception as exc:  # noqa: BLE001 - a file that cannot be checked is a failed check, the others are still listed
            problem = str(exc) if isinstance(exc, MvgenError) else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            checked.append(Deliverable(path, _kind_of(path, video), (Check("readable", False, problem),)))
    for failure in recorded_failures(video) if failures is None else failures:
        at = next((k for k, d in enumerate(checked) if d.path == failure.path), None)
        if at is None:
            checked.append(Deliverable(failure.path, failure.file_kind, (failure.check(),)))
        else:
            checked[at] = dataclasses.replace(checked[at], checks=(*checked[at].checks, failure.check()))
    return checked
