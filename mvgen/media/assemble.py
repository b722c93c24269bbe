"""Assembly: frames stream into an ffmpeg encoder, chunk by chunk, then are muxed with the audio.

Chunks are independent H.264 files of a fixed number of frames in a work folder, so an interrupted
render resumes from the last finished chunk; the final video concatenates them (stream copy) and
adds the original audio trimmed to exactly ``n_frames / fps`` seconds, so video and audio durations
agree to within one frame and frame ``i`` is shown at ``i / fps``. Memory stays bounded: only one
batch of frames is in memory at a time. The finished file says where it lies in its track (a
:class:`VideoWindow` as mp4 tags, :data:`WINDOW_TAGS`; read back by :func:`read_video_window`).
"""

from __future__ import annotations

import contextlib
import errno
import dataclasses
import math
import os
import queue
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path
from mvgen.interrupts import deferred_interrupts
from mvgen.media.ffmpeg import ffmpeg_exe, layout_channels, parse_header, read_header
from mvgen.media.mp4 import iter_boxes, read_top_level
from mvgen.media.pixels import PIX_FMTS, frame_shape

#: Colour tags of every video: BT.709 primaries, transfer and matrix at limited ("tv") range, the
#: HD convention players assume (untagged, a BT.601 conversion shows shifted hues in browsers).
COLOUR_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]
#: Encoder settings shared by every chunk (they must match for a stream-copy concatenation), after
#: the platforms' published upload specs (YouTube's "Recommended upload encoding settings",
#: support.google.com/youtube/answer/1722171; Instagram's and X's API media specs say the same):
#: H.264 High profile, 4:2:0, 2 consecutive B-frames (``-b_strategy 0``: always 2, not chosen per
#: frame), closed GOPs, no scene-cut keyframes (so every GOP has the length :func:`gop_frames`
#: sets, see :meth:`VideoEncoding.args`). CRF 20 sets the quality; a platform's bitrate cap is
#: added as ``-maxrate``/``-bufsize``. Colour tags last (a test drops them to change the settings).
VIDEO_CODEC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high", "-pix_fmt", "yuv420p",
               "-bf", "2", "-b_strategy", "0", "-flags", "+cgop", "-sc_threshold", "0", *COLOUR_TAGS]
#: Audio of every upload: AAC-LC (the profile every platform names), 48 kHz, stereo (a mono track is
#: duplicated to both channels).
AUDIO_SAMPLE_RATE_HZ = 48000
AUDIO_CHANNELS = 2
#: Default AAC bitrate (kbit/s): the issue's floor for uploads; YouTube recommends 384 for stereo,
#: which its presets use (:mod:`mvgen.delivery.formats`).
AUDIO_BITRATE_KBPS = 320


#: MP4 layout of the finished file: the moov box first ("Fast Start") and no edit lists (YouTube: "No
#: Edit Lists (or the video might not be processed correctly)"; Instagram's API says the same). An
#: edit list is how ffmpeg normally starts the video at its first frame despite the B-frame delay,
#: and hides the AAC encoder's priming; instead the video's composition offsets may be negative
#: (ctts version 1), so its first frame is still shown at 0, and the audio is cut to match the priming.
#: ``use_metadata_tags``: without it ffmpeg's mp4 muxer drops every metadata key it does not know
#: (checked with Debian's ffmpeg 5.1 and the bundled 9.0), such as the window tags
#: (:data:`WINDOW_TAGS`); a copy written with this layout keeps its source's tags (ffmpeg copies the
#: first input's global metadata).
MP4_LAYOUT = ["-movflags", "+faststart+negative_cts_offsets+use_metadata_tags", "-use_editlist", "0"]
#: The mp4 metadata keys of a video's window in its track (:class:`VideoWindow`): start and end,
#: track seconds to the millisecond ("7.500"); a seamless loop ("1"/"0"); and for a loop, seconds
#: into the window where the video's first frame is (a loop opens on its calmest frame, not on its
#: first bar). Read with ``ffprobe -show_entries format_tags`` or :func:`read_video_window`.
WINDOW_TAGS = ("mvgen_start_s", "mvgen_end_s", "mvgen_loop", "mvgen_loop_cut_s")


@dataclasses.dataclass(frozen=True)
class VideoWindow:
    """Where a video lies in its track: it shows ``[start_s, end_s)`` (track seconds). ``loop``: a
    seamless loop (Spotify Canvas), which plays the window over and over from ``loop_cut_s`` seconds
    into it (its first frame) and wraps at the end."""

    start_s: float
    end_s: float
    loop: bool = False
    loop_cut_s: float = 0.0

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s

    def track_time_s(self, video_time_s: float) -> float:
        """The track time (s) of the video's ``video_time_s``: ``start_s`` later, wrapped for a loop."""
        if self.loop and self.length_s > 0:
            return self.start_s + (self.loop_cut_s + video_time_s) % self.length_s
        return self.start_s + video_time_s

    def metadata_args(self) -> list[str]:
        """ffmpeg output options writing the window as :data:`WINDOW_TAGS` (kept by :data:`MP4_LAYOUT`)."""
        values = (f"{self.start_s:.3f}", f"{self.end_s:.3f}", "1" if self.loop else "0", f"{self.loop_cut_s:.3f}")
        return [arg for key, value in zip(WINDOW_TAGS, values) for arg in ("-metadata", f"{key}={value}")]


def read_video_window(path: str | os.PathLike) -> VideoWindow | None:
    """The window tags of the video at ``path`` (see :data:`WINDOW_TAGS`), read from ffmpeg's input
    dump (the bundled ffmpeg has no ffprobe); None for a video without them (not mvgen's, or older),
    which callers take as the whole track from 0. :class:`MvgenError` when the file is not a
    readable video or its tags are not numbers."""
    header = read_header(path)
    if not header.found:
        raise MvgenError("not a readable video", path)
    start, end, loop, cut = (header.tag(key) for key in WINDOW_TAGS)
    if start is None or end is None:
        return None
    try:
        window = VideoWindow(float(start), float(end), loop == "1", float(cut or 0.0))
    except ValueError:
        raise MvgenError(f"the video's window tags are not numbers: {WINDOW_TAGS[0]}={start!r}, {WINDOW_TAGS[1]}={end!r}", path) from None
    if not (math.isfinite(window.start_s) and math.isfinite(window.end_s) and 0 <= window.start_s < window.end_s):
        raise MvgenError(f"the video's window tags are not a window of its track: {WINDOW_TAGS[0]}={start}, {WINDOW_TAGS[1]}={end}", path)
    return window


#: Samples of silence ffmpeg's AAC encoder puts before the audio (its ``initial_padding``), which a
#: file without an edit list plays; the audio is taken from this much later in the track, so the
#: music stays on the frames. Seconds at :data:`AUDIO_SAMPLE_RATE_HZ`.
AAC_PRIMING_SAMPLES = 1024
AAC_PRIMING_S = AAC_PRIMING_SAMPLES / AUDIO_SAMPLE_RATE_HZ


def gop_frames(fps: float) -> int:
    """Frames per GOP at ``fps``: half the frame rate (YouTube: "Closed GOP. GOP of half the frame rate."), at least 1."""
    return max(1, round(fps / 2))


@dataclasses.dataclass(frozen=True)
class VideoEncoding:
    """H.264 settings of one video's chunks: :data:`VIDEO_CODEC`, a GOP of :func:`gop_frames` frames, and
    an optional VBV cap (``maxrate_kbps`` kbit/s with a ``bufsize_kbit`` kbit buffer)."""

    fps: float
    maxrate_kbps: int | None = None
    bufsize_kbit: int | None = None

    @property
    def gop_frames(self) -> int:
        return gop_frames(self.fps)

    def args(self) -> list[str]:
        """The encoder's ffmpeg arguments (read :data:`VIDEO_CODEC` when called)."""
        gop = str(self.gop_frames)
        rate = [] if self.maxrate_kbps is None else ["-maxrate", f"{self.maxrate_kbps}k", "-bufsize", f"{self.bufsize_kbit or self.maxrate_kbps}k"]
        return [*VIDEO_CODEC, "-g", gop, "-keyint_min", gop, *rate]


@dataclasses.dataclass(frozen=True)
class AudioEncoding:
    """AAC-LC at ``bitrate_kbps`` kbit/s, :data:`AUDIO_SAMPLE_RATE_HZ`, :data:`AUDIO_CHANNELS` channels."""

    bitrate_kbps: int = AUDIO_BITRATE_KBPS

    def args(self) -> list[str]:
        return ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{self.bitrate_kbps}k", "-ar", str(AUDIO_SAMPLE_RATE_HZ), "-ac", str(AUDIO_CHANNELS)]
#: The encoder children get their own process group, so a terminal's Ctrl-C reaches only mvgen,
#: which then stops them itself and keeps every finished chunk (a killed encoder would first turn
#: the interruption into an "encoder stopped" error).
DETACHED = {"start_new_session": True} if os.name == "posix" else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


#: What ffmpeg prints (strerror of ENOSPC) when a write of its own meets a full disk.
_DISK_FULL_TEXT = os.strerror(errno.ENOSPC)


def ffmpeg_failure(what: str, stderr: str, path: str | os.PathLike) -> Exception:
    """The error for an ffmpeg run that failed: an ``OSError(ENOSPC)`` when ffmpeg met a full disk, so
    callers treat it like their own writes' full disk (a render keeps its chunks for ``--resume``),
    else an :class:`MvgenError` with the end of ffmpeg's messages."""
    if _DISK_FULL_TEXT in stderr:
        return OSError(errno.ENOSPC, _DISK_FULL_TEXT, os.fspath(path))
    return MvgenError(f"{what}: {stderr}", path)


#: Seconds :meth:`ChunkWriter.abort` waits for its feeder thread (normally it stops at once: the
#: encoder is killed, so its pipe is broken and the queue drains without writing).
ABORT_FEED_WAIT_S = 2.0


class ChunkWriter:
    """Writes uint8 frames (``rgb24`` or ``yuv420p``, see :data:`PIX_FMTS`) to one H.264 file through an ffmpeg pipe.

    A feeder thread writes to the pipe, so the caller draws the next frames while the encoder
    works on the last ones (at most ``queue_batches`` batches wait, which bounds memory). The file is
    written under a temporary name (:func:`mvgen.fileio.atomic_path`) and renamed by :meth:`close`;
    :meth:`abort` (or an exception inside a ``with`` block) removes it.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float, queue_batches: int = 3, pix_fmt: str = "rgb24",
                 encoding: VideoEncoding | None = None):
        encoding = encoding or VideoEncoding(fps)
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
            *convert, *encoding.args(), "-r", f"{fps}", "-an", str(self.tmp),
        ]  # fmt: skip
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_batches)
        self._broken = False
        self._input_ended = False
        self._feeder = threading.Thread(target=self._feed, name="mvgen-encoder-feed", daemon=True)
        # Ctrl-C or SIGTERM while the encoder starts waits until it runs and is kept in self.process,
        # then stops it (abort): an encoder started but not yet recorded would outlive the render.
        process = None
        try:
            with deferred_interrupts():
                process = self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE, **DETACHED)
                self._feeder.start()
        except BaseException:
            if process is not None:
                self.abort()
            raise

    def _feed(self) -> None:
        while (frames := self._queue.get()) is not None:
            if self._broken:
                continue  # drain, so a blocked write() returns
            try:
                self.process.stdin.write(memoryview(frames).cast("B"))
            except (BrokenPipeError, OSError, ValueError):
                self._broken = True
        try:  # no more frames: the encoder flushes its look-ahead and ends
            self.process.stdin.close()
        except (OSError, ValueError):
            pass  # a broken pipe: the exit status tells

    def write(self, frames: np.ndarray) -> None:
        """Append frames, shape ``(B, *frame_shape)`` or ``frame_shape`` (:func:`frame_shape`), dtype uint8."""
        frames = np.ascontiguousarray(frames if frames.ndim == len(self.frame_shape) + 1 else frames[None])
        if frames.dtype != np.uint8 or frames.shape[1:] != self.frame_shape:
            raise ValueError(f"{self.pix_fmt} frames must be uint8 of shape (B, {', '.join(map(str, self.frame_shape))}), got {frames.dtype} {frames.shape}")
        if self._broken:
            raise ffmpeg_failure("video encoder stopped", self._stderr(), self.path)
        self._queue.put(frames)
        self.frames += len(frames)

    @property
    def input_ended(self) -> bool:
        """Whether :meth:`end_input` was called: every frame was given, the encoder only has to finish."""
        return self._input_ended

    def end_input(self, timeout_s: float | None = None) -> None:
        """No more frames: the feeder writes what is queued and closes the encoder's input while the
        caller goes on (drawing the next chunk as this one's encoder flushes); :meth:`close` waits for the file.
        ``timeout_s``: give up after that long if the queue stays full."""
        if not self._input_ended:
            try:
                self._queue.put(None, timeout=timeout_s)
                self._input_ended = True
            except queue.Full:
                pass

    def _finish_feed(self, timeout_s: float | None = None) -> None:
        """Let the feeder write what is queued and stop; ``timeout_s``: give up waiting after that
        long (the feeder is a daemon thread and dies with the process)."""
        if self._feeder.is_alive():
            self.end_input(timeout_s)
            self._feeder.join(timeout_s)

    def _stderr(self) -> str:
        self.process.wait()
        return " ".join(self.process.stderr.read().decode(errors="replace").split())[-300:]

    def close(self) -> Path:
        """Finish encoding and move the file into place; returns its path.

        An interruption (Ctrl-C, SIGTERM) or error while the encoder finishes stops it as
        :meth:`abort` does before it goes on: the encoder never outlives the writer.
        """
        try:
            self._finish_feed()
            try:
                self.process.stdin.close()
            except OSError:
                pass  # a broken pipe: the exit status below tells
            status = self.process.wait()
        except BaseException:
            self.abort()
            raise
        if status != 0:
            message = self._stderr()
            self._discard()
            raise ffmpeg_failure("video encoder failed", message, self.path)
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
        """Stop the encoder and remove the partial file; returns once the encoder has exited.

        It is killed at once, with no grace period: the partial file is thrown away, so there is
        nothing for it to finish, and the render exits sooner.
        """
        self._broken = True
        if self.process.poll() is None:
            self.process.kill()
        # bounded: an interruption landing inside the queue's own code (a signal handler raising in
        # the main thread between the bytecodes of Queue.put) can lose the feeder's wake-up, and an
        # unbounded join then hung the interrupted render for good
        self._finish_feed(timeout_s=ABORT_FEED_WAIT_S)
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
        fade_in_s: float = 0.0, fade_out_s: float = 0.0, audio: AudioEncoding | None = AudioEncoding(), max_bytes: int | None = None,
        window: VideoWindow | None = None) -> Path:
    """Concatenate chunk files and add the audio from ``start_s`` for ``n_frames / fps`` seconds.

    Writes ``out_path`` under a temporary name (renamed when complete), with faststart.
    ``audio_path`` or ``audio`` None: no audio stream at all (a seamless loop, Spotify Canvas);
    ``audio``: how the audio is encoded. ``fade_in_s`` / ``fade_out_s``: fades (s) at the start / end
    of the audio, for a cut inside the track (:data:`CUT_FADE_S`), so it does not click.
    ``max_bytes``: a platform's file-size cap; a larger result raises :class:`MvgenError` and is not kept.
    ``window``: where the video lies in its track, written as the file's :data:`WINDOW_TAGS`.
    """
    out_path = Path(out_path)
    listing = out_path.with_name(f".{out_path.name}.chunks.txt")
    # The concat demuxer reads this list; quotes in paths are escaped as its syntax requires.
    listing.write_text("".join(f"file '{str(c.resolve()).replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n" for c in chunks))
    duration_s = n_frames / fps
    if audio_path is None:
        audio = None
    # the encoder's priming samples play first (no edit list hides them): the track is taken from that
    # much later and that much shorter, so the music stays on the frames and ends with the last one
    sound_s = max(0.0, duration_s - AAC_PRIMING_S)
    fades = ([f"afade=t=in:st=0:d={fade_in_s:.6f}"] if fade_in_s > 0 else []) \
        + ([f"afade=t=out:st={max(0.0, sound_s - fade_out_s):.6f}:d={fade_out_s:.6f}"] if fade_out_s > 0 else [])
    sound = ["-ss", f"{start_s + AAC_PRIMING_S:.6f}", "-t", f"{sound_s:.6f}", "-i", str(audio_path)] if audio is not None else []
    audio_out = ["-map", "1:a:0", *(["-af", ",".join(fades)] if fades else []), *audio.args()] if audio is not None else ["-an"]
    args = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(listing), *sound,
        "-map", "0:v:0", *audio_out, "-c:v", "copy",
        "-t", f"{duration_s:.6f}", *MP4_LAYOUT, *(window.metadata_args() if window is not None else []),
    ]  # fmt: skip
    try:
        with atomic_path(out_path, suffix=".part.mp4") as tmp:  # the mp4 suffix tells ffmpeg the container
            result = subprocess.run([*args, str(tmp)], capture_output=True, text=True, **DETACHED)
            if result.returncode != 0:
                raise ffmpeg_failure("muxing failed", " ".join(result.stderr.split())[-300:], out_path)
            if max_bytes is not None and tmp.stat().st_size > max_bytes:
                raise MvgenError(f"the video is {tmp.stat().st_size} bytes, over the format's cap of {max_bytes} bytes", out_path)
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
    header = parse_header(subprocess.run(args, capture_output=True, text=True).stderr)
    video, audio = header.stream("Video"), header.stream("Audio")
    if video is None or None in (video.pix_fmt, video.size, video.fps):
        raise MvgenError("no video stream found", path)
    frames = re.findall(r"frame=\s*(\d+)", header.text)
    return VideoInfo(
        video_codec=video.codec,
        pix_fmt=video.pix_fmt,
        colour=", ".join(t for t in (video.colour or "").split(", ") if t not in ("", "progressive")) or None,
        width=video.size[0],
        height=video.size[1],
        fps=video.fps,
        n_frames=int(frames[-1]) if frames else 0,
        duration_s=header.duration_s or 0.0,
        audio_codec=audio.codec if audio else None,
    )


@dataclasses.dataclass(frozen=True)
class Packet:
    """One compressed packet as stored: timestamps in its stream's time base, size in bytes."""

    pts: int
    dts: int
    duration: int
    size_bytes: int
    key: bool
    discard: bool = False  # AAC priming samples the player drops


@dataclasses.dataclass(frozen=True)
class MediaProbe:
    """What :func:`probe_media` reads of an MP4: the streams' parameters and every packet, the same
    whether read with ffprobe or with ffmpeg alone (``tool`` says which). Derived figures are properties.

    ``picture_types``: one letter (I, P, B) per video frame in display order.
    """

    tool: str = dataclasses.field(compare=False)
    file_bytes: int
    faststart: bool = dataclasses.field(metadata={"doc": "the moov box comes before mdat"})
    edit_lists: bool = dataclasses.field(metadata={"doc": "a track has an edit list (edts/elst)"})
    video_codec: str
    video_profile: str | None
    pix_fmt: str
    width: int
    height: int
    video_time_base: Fraction
    video_packets: tuple[Packet, ...]
    picture_types: str
    audio_codec: str | None
    audio_profile: str | None
    sample_rate_hz: int | None
    channels: int | None
    audio_time_base: Fraction | None
    audio_packets: tuple[Packet, ...]

    @property
    def n_frames(self) -> int:
        return len(self.video_packets)

    @property
    def fps(self) -> float:
        """Frames per second from the most common packet duration."""
        durations = [p.duration for p in self.video_packets if p.duration > 0]
        common = max(set(durations), key=durations.count) if durations else 0
        return float(1 / (common * self.video_time_base)) if common else 0.0

    @property
    def duration_s(self) -> float:
        """Length of the video stream (first frame shown to the end of the last), seconds."""
        return _span_s(self.video_packets, self.video_time_base)

    @property
    def audio_duration_s(self) -> float:
        """Length of the audio stream without its priming samples, seconds (0 without audio)."""
        return _span_s([p for p in self.audio_packets if not p.discard], self.audio_time_base) if self.audio_packets else 0.0

    @property
    def keyframes(self) -> tuple[int, ...]:
        """Display-order indices of the keyframes."""
        order = sorted(self.video_packets, key=lambda p: p.pts)
        return tuple(i for i, p in enumerate(order) if p.key)

    @property
    def gop_lengths(self) -> tuple[int, ...]:
        """Frames from each keyframe to the next (the last GOP runs to the end)."""
        keys = self.keyframes
        return tuple(b - a for a, b in zip(keys, [*keys[1:], self.n_frames]))

    @property
    def closed_gops(self) -> bool:
        """No frame after a keyframe in decode order is shown before it (no open-GOP leading pictures)."""
        # one pass from the end: the earliest display time of everything decoded after each packet
        later_min = math.inf
        for p in reversed(self.video_packets):
            if p.key and later_min < p.pts:
                return False
            later_min = min(later_min, p.pts)
        return True

    @property
    def max_b_frames(self) -> int:
        """Most consecutive B-frames in display order."""
        runs = self.picture_types.replace("I", " ").replace("P", " ").split()
        return max((len(r) for r in runs), default=0)

    @property
    def video_bitrate_bps(self) -> float:
        return sum(p.size_bytes for p in self.video_packets) * 8 / self.duration_s if self.duration_s else 0.0

    @property
    def audio_bitrate_bps(self) -> float:
        """All audio bits over the audio's length (0 without audio)."""
        length = self.audio_duration_s
        return sum(p.size_bytes for p in self.audio_packets) * 8 / length if length else 0.0


def _span_s(packets, time_base: Fraction) -> float:
    if not packets:
        return 0.0
    return float((max(p.pts + p.duration for p in packets) - min(p.pts for p in packets)) * time_base)


def _layout(path: Path) -> tuple[bool, bool]:
    """(moov before mdat, some track has an edit list), from the file's box structure."""
    top = read_top_level(path)
    faststart = b"moov" in top.kinds and b"mdat" in top.kinds and top.kinds.index(b"moov") < top.kinds.index(b"mdat")
    moov = top.moov or b""
    edits = any(kind == b"edts" and any(k == b"elst" for k, _, _ in iter_boxes(moov, s, e))
                for _, ts, te in ((k, s, e) for k, s, e in iter_boxes(moov) if k == b"trak")
                for kind, s, e in iter_boxes(moov, ts, te))
    return faststart, edits


def probe_media(path: str | os.PathLike, tool: str = "auto") -> MediaProbe:
    """Read the streams and packets of an MP4 (see :class:`MediaProbe`).

    ``tool``: "ffprobe" (``-show_streams -show_packets -show_frames``), "ffmpeg" (ffmpeg alone: a
    stream-copy ``framecrc`` listing of the packets and ``showinfo`` of the decoded frames, for the
    imageio-ffmpeg wheel, which has no ffprobe) or "auto" (ffprobe when it is on PATH).
    Raises :class:`MvgenError` when the file has no video stream or cannot be read.
    """
    import shutil

    path = Path(path)
    if tool not in ("auto", "ffprobe", "ffmpeg"):
        raise ValueError(f"tool must be one of auto, ffprobe, ffmpeg, got {tool!r}")
    if not path.is_file():
        raise MvgenError("no such file", path)
    ffprobe = shutil.which("ffprobe") if tool != "ffmpeg" else None
    if tool == "ffprobe" and ffprobe is None:
        raise MvgenError("ffprobe is not on PATH")
    faststart, edits = _layout(path)
    common = dict(file_bytes=path.stat().st_size, faststart=faststart, edit_lists=edits)
    return _read_ffprobe(path, ffprobe, common) if ffprobe else _read_ffmpeg(path, common)


def _read_ffprobe(path: Path, exe: str, common: dict) -> MediaProbe:
    import json

    entries = ("stream=index,codec_type,codec_name,profile,width,height,pix_fmt,time_base,sample_rate,channels"
               ":packet=stream_index,pts,dts,duration,size,flags:frame=stream_index,pict_type")
    result = subprocess.run([exe, "-v", "error", "-show_streams", "-show_packets", "-show_frames", "-show_entries", entries, "-of", "json", str(path)], capture_output=True, text=True)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = {}
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if result.returncode != 0 or video is None:
        raise MvgenError(f"no video stream found ({' '.join(result.stderr.split())[-200:]})", path)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    # with both -show_packets and -show_frames, ffprobe interleaves them in one list, each with its "type"
    items = data.get("packets_and_frames") or [*({**p, "type": "packet"} for p in data.get("packets", [])), *({**f, "type": "frame"} for f in data.get("frames", []))]
    frames = [f for f in items if f["type"] == "frame"]

    def packets(stream) -> tuple[Packet, ...]:
        if stream is None:
            return ()
        return tuple(Packet(int(p["pts"]), int(p["dts"]), int(p["duration"]), int(p["size"]), "K" in p["flags"], "D" in p["flags"])
                     for p in items if p["type"] == "packet" and p["stream_index"] == stream["index"])

    return MediaProbe(
        tool="ffprobe", **common,
        video_codec=video["codec_name"], video_profile=video.get("profile"), pix_fmt=video.get("pix_fmt", ""),
        width=int(video["width"]), height=int(video["height"]), video_time_base=Fraction(video["time_base"]),
        video_packets=packets(video),
        picture_types="".join(f.get("pict_type", "?") for f in frames if f.get("stream_index") == video["index"]),
        audio_codec=audio["codec_name"] if audio else None, audio_profile=audio.get("profile") if audio else None,
        sample_rate_hz=int(audio["sample_rate"]) if audio else None, channels=int(audio["channels"]) if audio else None,
        audio_time_base=Fraction(audio["time_base"]) if audio else None, audio_packets=packets(audio),
    )  # fmt: skip


def _read_ffmpeg(path: Path, common: dict) -> MediaProbe:
    import re

    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-i", str(path),
            "-map", "0", "-c", "copy", "-f", "framecrc", "pipe:1",
            "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True)
    text = result.stderr
    dump = parse_header(text)
    video, audio = dump.stream("Video"), dump.stream("Audio")
    if result.returncode != 0 or video is None or video.pix_fmt is None or video.size is None:
        raise MvgenError(f"no video stream found ({' '.join(text.split())[-200:]})", path)
    header: dict[tuple[str, int], str] = {}
    packets: dict[int, list[Packet]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            name, _, index = key.rpartition(" ")
            if index.isdigit():
                header[(name, int(index))] = value.strip()
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 6:
            continue
        flags = next((int(f[2:], 16) for f in fields[6:] if f.startswith("F=")), 1)  # no F=: a plain keyframe
        packets.setdefault(int(fields[0]), []).append(Packet(int(fields[2]), int(fields[1]), int(fields[3]), int(fields[4]), bool(flags & 1), bool(flags & 4)))
    # framecrc numbers the streams it copies (all of them, in order); the stream dump numbers them the same way
    v, a = video.index, (audio.index if audio else None)
    channels = layout_channels(header[("channel_layout_name", a)]) if ("channel_layout_name", a) in header else None
    return MediaProbe(
        tool="ffmpeg", **common,
        video_codec=video.codec, video_profile=video.profile, pix_fmt=video.pix_fmt,
        width=video.size[0], height=video.size[1], video_time_base=Fraction(header[("tb", v)]),
        video_packets=tuple(packets.get(v, [])), picture_types="".join(re.findall(r"\btype:([IPBSip?])", text)),
        audio_codec=audio.codec if audio else None, audio_profile=audio.profile if audio else None,
        sample_rate_hz=int(header[("sample_rate", a)]) if a is not None and ("sample_rate", a) in header else None,
        channels=channels, audio_time_base=Fraction(header[("tb", a)]) if a is not None else None,
        audio_packets=tuple(packets.get(a, [])) if a is not None else (),
    )  # fmt: skip
