"""Assembly: frames stream into an ffmpeg encoder, chunk by chunk, then are muxed with the audio.

Chunks are independent H.264 files of a fixed number of frames in a work folder, so an interrupted
render resumes from the last finished chunk; the final video concatenates them (stream copy) and
adds the original audio trimmed to exactly ``n_frames / fps`` seconds, so video and audio durations
agree to within one frame and frame ``i`` is shown at ``i / fps``. Memory stays bounded: only one
batch of frames is in memory at a time.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from mvgen.audio import ffmpeg_exe
from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path

if TYPE_CHECKING:
    from mvgen.framespec import FrameSpec

#: Colour tags of every video: BT.709 primaries, transfer and matrix at limited ("tv") range, the
#: HD convention players assume (untagged, a BT.601 conversion shows shifted hues in browsers).
COLOUR_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]
#: Encoder settings shared by every chunk (they must match for a stream-copy concatenation).
VIDEO_CODEC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "60", *COLOUR_TAGS]
AUDIO_CODEC = ["-c:a", "aac", "-b:a", "256k"]
#: Pixel formats :class:`ChunkWriter` takes: frames of ``(H, W, 3)`` interleaved RGB bytes, or
#: ``H * W * 3 // 2`` bytes of BT.709 limited-range Y'CbCr 4:2:0 planes (Y, then Cb, then Cr), which
#: the encoder takes as they are (no conversion in ffmpeg, half the bytes through the pipe).
PIX_FMTS = ("rgb24", "yuv420p")


def frame_shape(pix_fmt: str, width: int, height: int) -> tuple[int, ...]:
    """Shape of one frame of ``pix_fmt`` (see :data:`PIX_FMTS`) at ``width`` x ``height`` pixels (even for yuv420p)."""
    if pix_fmt == "rgb24":
        return (height, width, 3)
    if pix_fmt == "yuv420p":
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs an even width and height, got {width}x{height}")
        return (height * width * 3 // 2,)
    raise ValueError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")


def _upsample(padded: torch.Tensor, factor: int, dim: int) -> torch.Tensor:
    """Bilinear upsampling (align_corners=False) by an integer ``factor`` of axis ``dim`` (-1 or -2)
    of planes padded by one edge pixel on both sides of that axis; the padding is dropped. Each
    output phase is a fixed two-tap blend of neighbours, interleaved by a reshape: compiled on a
    CPU this is several times faster than ``F.interpolate``'s per-pixel index arithmetic."""
    n = padded.shape[dim] - 2
    x = padded.narrow(dim, 1, n)
    phases = []
    for j in range(factor):
        offset = (j + 0.5) / factor - 0.5  # source position of this phase, relative to its pixel
        neighbour = padded.narrow(dim, 0 if offset < 0 else 2, n)
        phases.append(x + (neighbour - x) * abs(offset))
    shape = list(x.shape)
    shape[dim] = n * factor
    return torch.stack(phases, dim=dim).reshape(shape)


def resize_planes(planes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(..., h, w)`` planes to ``size`` = (H, W): unchanged, a 2x2 mean (halving), an exact
    integer bilinear upsampling, or ``F.interpolate`` (bilinear) for any other ratio."""
    h, w = planes.shape[-2:]
    H, W = size
    if (h, w) == (H, W):
        return planes
    if (h, w) == (2 * H, 2 * W):
        return F.avg_pool2d(planes.reshape(-1, h, w), 2).reshape(*planes.shape[:-2], H, W)
    lead = planes.shape[:-2]
    if H % h == 0 and W % w == 0:
        # edges held: padded once, so the row pass keeps the column padding the column pass needs
        padded = F.pad(planes.reshape(-1, h, w), (1, 1, 1, 1), mode="replicate").reshape(*lead, h + 2, w + 2)
        return _upsample(_upsample(padded, H // h, -2), W // w, -1)
    return F.interpolate(planes.reshape(1, -1, h, w), size=size, mode="bilinear", align_corners=False).reshape(*lead, H, W)


#: BT.709 limited ("tv") range 8-bit codes: Y' in [0, 1] -> 16..235, Cb and Cr in [-0.5, 0.5] -> 16..240.
LUMA_SCALE, LUMA_OFFSET = 219.0, 16.0
CHROMA_SCALE, CHROMA_OFFSET = 224.0, 128.0


def rgb_to_ycbcr(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BT.709 R'G'B' planes ``(3, ...)`` -> ``(Y', Cb, Cr)``, each ``(...)``: Y' in [0, 1], Cb and Cr in
    [-0.5, 0.5] for inputs in [0, 1]. Linear (the limited-range offsets come with the quantization in
    :func:`encode_pixels`), so it maps premultiplied colours to premultiplied colours."""
    r, g, b = rgb.unbind(0)
    luma = 0.2126 * r + 0.7152 * g + 0.0722 * b  # BT.709
    return luma, (b - luma) / 1.8556, (r - luma) / 1.5748


def encode_pixels(rgb: torch.Tensor, pix_fmt: str, width: int, height: int) -> torch.Tensor:
    """Display-referred (gamma-encoded) planar R'G'B' -> uint8 frames for :class:`ChunkWriter`.

    ``rgb``: float ``(3, B, h, w)`` in [0, 1] at any size (a renderer's drawing size); it is
    resized to ``width`` x ``height``. Returns ``(B, *frame_shape(pix_fmt, width, height))``.
    For yuv420p the conversion comes first, so luma is resized to the frame and chroma to half of
    it (a renderer drawing at half size gives chroma at its own resolution, untouched).
    """
    frame_shape(pix_fmt, width, height)  # checks pix_fmt
    if pix_fmt == "rgb24":
        img = resize_planes(rgb, (height, width))
        return (img * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()
    luma, cb, cr = rgb_to_ycbcr(rgb)  # not clamped here: a clamped copy would be stored; the quantization clamps

    # limited range, rounded; each plane quantized before the concatenation, so no float copy of the
    # frame is made (three separate planes: compiled, each is written straight into its slice of
    # the output rather than copied there by a concatenation kernel)
    def quantize(plane, size, scale, offset):
        return (resize_planes(plane, size) * scale + offset).clamp(0, 255).to(torch.uint8).reshape(plane.shape[0], -1)

    half = (height // 2, width // 2)
    # +0.5 and the truncation of .to(uint8): rounded to the nearest code
    return torch.cat([quantize(luma, (height, width), LUMA_SCALE, LUMA_OFFSET + 0.5), quantize(cb, half, CHROMA_SCALE, CHROMA_OFFSET + 0.5),
                      quantize(cr, half, CHROMA_SCALE, CHROMA_OFFSET + 0.5)], dim=1)


class FrameRenderer(abc.ABC):
    """What :func:`mvgen.render.render_video` draws with: ``width`` x ``height`` frames on ``device``,
    one per :class:`~mvgen.framespec.FrameSpec`. Subclasses draw a non-empty batch in :meth:`_draw`."""

    width: int
    height: int
    device: torch.device

    @torch.no_grad()
    def render(self, specs: Sequence[FrameSpec], pix_fmt: str = "rgb24") -> torch.Tensor:
        """One uint8 frame per spec on :attr:`device`: ``(B, H, W, 3)`` RGB, or for ``pix_fmt="yuv420p"``
        the encoder's planes, ``(B, H * W * 3 // 2)`` (see :func:`encode_pixels`)."""
        specs = list(specs)
        if not specs:
            return torch.zeros((0, *frame_shape(pix_fmt, self.width, self.height)), dtype=torch.uint8, device=self.device)
        return self._draw(specs, pix_fmt)

    @abc.abstractmethod
    def _draw(self, specs: list[FrameSpec], pix_fmt: str) -> torch.Tensor:
        """Draw a non-empty batch: what :meth:`render` returns. Each renderer (procedural, diffusion) draws its own way."""


#: The encoder children get their own process group, so a terminal's Ctrl-C reaches only mvgen,
#: which then stops them itself and keeps every finished chunk (a killed encoder would first turn
#: the interruption into an "encoder stopped" error).
DETACHED = {"start_new_session": True} if os.name == "posix" else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


class ChunkWriter:
    """Writes uint8 frames (``rgb24`` or ``yuv420p``, see :data:`PIX_FMTS`) to one H.264 file through an ffmpeg pipe.

    A feeder thread writes to the pipe, so the caller draws the next frames while the encoder
    works on the last ones (at most ``queue_batches`` batches wait, which bounds memory). The file is
    written under a temporary name (:func:`mvgen.fileio.atomic_path`) and renamed by :meth:`close`;
    :meth:`abort` (or an exception inside a ``with`` block) removes it.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float, queue_batches: int = 3, pix_fmt: str = "rgb24"):
        self.path = Path(path)
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self.frame_shape = frame_shape(pix_fmt, width, height)
        # the temporary file lives from here to close() or abort(), beyond any one ``with`` block
        self._tmp_scope = contextlib.ExitStack()
        self.tmp = self._tmp_scope.enter_context(atomic_path(self.path, suffix=".part.mp4"))
        self.frames = 0
        if pix_fmt == "yuv420p":
            source, convert = [*COLOUR_TAGS, "-pix_fmt", "yuv420p"], []  # already BT.709: tagged, not converted
        else:
            # RGB with BT.709 primaries and transfer, converted with the matrix the tags promise (ffmpeg's default is BT.601)
            source = [*COLOUR_TAGS[:4], "-pix_fmt", "rgb24"]
            convert = ["-vf", "scale=out_color_matrix=bt709:out_range=tv"]
        args = [
            ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", *source, "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "pipe:0",
            *convert, *VIDEO_CODEC, "-r", f"{fps}", "-an", str(self.tmp),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE, **DETACHED)
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_batches)
        self._broken = False
        self._feeder = threading.Thread(target=self._feed, name="mvgen-encoder-feed", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        while (frames := self._queue.get()) is not None:
            if self._broken:
                continue  # drain, so a blocked write() returns
            try:
                self.process.stdin.write(memoryview(frames).cast("B"))
            except (BrokenPipeError, OSError, ValueError):
                self._broken = True

    def write(self, frames: np.ndarray) -> None:
        """Append frames, shape ``(B, *frame_shape)`` or ``frame_shape`` (:func:`frame_shape`), dtype uint8."""
        frames = np.ascontiguousarray(frames if frames.ndim == len(self.frame_shape) + 1 else frames[None])
        if frames.dtype != np.uint8 or frames.shape[1:] != self.frame_shape:
            raise ValueError(f"{self.pix_fmt} frames must be uint8 of shape (B, {', '.join(map(str, self.frame_shape))}), got {frames.dtype} {frames.shape}")
        if self._broken:
            raise MvgenError(f"video encoder stopped: {self._stderr()}", self.path)
        self._queue.put(frames)
        self.frames += len(frames)

    def _finish_feed(self) -> None:
        if self._feeder.is_alive():
            self._queue.put(None)
            self._feeder.join()

    def _stderr(self) -> str:
        self.process.wait()
        return " ".join(self.process.stderr.read().decode(errors="replace").split())[-300:]

    def close(self) -> Path:
        """Finish encoding and move the file into place; returns its path."""
        self._finish_feed()
        try:
            self.process.stdin.close()
        except OSError:
            pass  # a broken pipe: the exit status below tells
        if self.process.wait() != 0:
            message = self._stderr()
            self._discard()
            raise MvgenError(f"video encoder failed: {message}", self.path)
        self.process.stderr.close()
        self._tmp_scope.close()  # renames the finished file into place
        return self.path

    def _discard(self) -> None:
        # leaving the atomic_path scope with an error removes the temporary file and keeps any old one
        try:
            self._tmp_scope.__exit__(MvgenError, MvgenError("chunk discarded"), None)
        except MvgenError:
            pass

    def abort(self) -> None:
        """Stop the encoder and remove the partial file."""
        self._broken = True
        if self.process.poll() is None:
            self.process.kill()
        self._finish_feed()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        self._discard()

    def __enter__(self) -> "ChunkWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


#: Length (s) of the fades :func:`mux` puts on audio cut inside a track: 15 ms, under a 16th note at
#: any dance tempo (and far under a beat, so the downbeat a clip starts on keeps its attack) yet
#: long enough (hundreds of samples) that a cut through a waveform does not click.
CUT_FADE_S = 0.015


def mux(chunks: list[Path], audio_path: str | os.PathLike | None, start_s: float, n_frames: int, fps: float, out_path: str | os.PathLike,
        fade_in_s: float = 0.0, fade_out_s: float = 0.0) -> Path:
    """Concatenate chunk files and add the audio from ``start_s`` for ``n_frames / fps`` seconds.

    ``audio_path`` None: a video without audio (a seamless loop). ``fade_in_s`` / ``fade_out_s``:
    fades (s) at the start / end of the audio, for a cut inside the track (:data:`CUT_FADE_S`), so
    it does not click. Writes ``out_path`` under a temporary name (renamed when complete), with faststart.
    """
    out_path = Path(out_path)
    listing = out_path.with_name(f".{out_path.name}.chunks.txt")
    # The concat demuxer reads this list; quotes in paths are escaped as its syntax requires.
    listing.write_text("".join(f"file '{str(c.resolve()).replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n" for c in chunks))
    duration_s = n_frames / fps
    fades = ([f"afade=t=in:st=0:d={fade_in_s:.6f}"] if fade_in_s > 0 else []) \
        + ([f"afade=t=out:st={max(0.0, duration_s - fade_out_s):.6f}:d={fade_out_s:.6f}"] if fade_out_s > 0 else [])
    audio_in = [] if audio_path is None else ["-ss", f"{start_s:.6f}", "-t", f"{duration_s:.6f}", "-i", str(audio_path)]
    audio_out = [] if audio_path is None else ["-map", "1:a:0", *(["-af", ",".join(fades)] if fades else []), *AUDIO_CODEC]
    args = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(listing), *audio_in,
        "-map", "0:v:0", "-c:v", "copy", *audio_out,
        "-t", f"{duration_s:.6f}", "-movflags", "+faststart",
    ]  # fmt: skip
    try:
        with atomic_path(out_path, suffix=".part.mp4") as tmp:  # the mp4 suffix tells ffmpeg the container
            result = subprocess.run([*args, str(tmp)], capture_output=True, text=True, **DETACHED)
            if result.returncode != 0:
                raise MvgenError(f"muxing failed: {' '.join(result.stderr.split())[-300:]}", out_path)
    finally:
        listing.unlink(missing_ok=True)
    return out_path


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads from a video file."""

    video_codec: str
    pix_fmt: str
    colour: str | None = dataclasses.field(metadata={"doc": "the stream's colour tags as ffmpeg prints them, e.g. 'tv, bt709'; None if untagged"})
    width: int
    height: int
    fps: float
    n_frames: int = dataclasses.field(metadata={"doc": "counted by decoding"})
    duration_s: float = dataclasses.field(metadata={"doc": "the container's duration"})
    audio_codec: str | None = dataclasses.field(metadata={"doc": "None if there is no audio"})


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Streams of a rendered file, read with ffmpeg itself (the imageio-ffmpeg wheel has no ffprobe).

    The frame count is counted by decoding; see :class:`VideoInfo`.
    """
    import re

    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    text = subprocess.run(args, capture_output=True, text=True).stderr
    video = re.search(r"Stream #0:\d+.*?: Video: (\w+).*?, (\w+)(?:\(([^)]*)\))?, (\d+)x(\d+).*?, ([\d.]+) fps", text)
    if video is None:
        raise MvgenError("no video stream found", path)
    audio = re.search(r"Stream #0:\d+.*?: Audio: (\w+)", text)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    frames = re.findall(r"frame=\s*(\d+)", text)
    return VideoInfo(
        video_codec=video.group(1),
        pix_fmt=video.group(2),
        colour=", ".join(t for t in (video.group(3) or "").split(", ") if t not in ("", "progressive")) or None,
        width=int(video.group(4)),
        height=int(video.group(5)),
        fps=float(video.group(6)),
        n_frames=int(frames[-1]) if frames else 0,
        duration_s=int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else 0.0,
        audio_codec=audio.group(1) if audio else None,
    )
