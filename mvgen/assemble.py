"""Assembly: frames stream into an ffmpeg encoder, chunk by chunk, then are muxed with the audio.

Chunks are independent H.264 files of a fixed number of frames in a work folder, so an interrupted
render resumes from the last finished chunk; the final video concatenates them (stream copy) and
adds the original audio trimmed to exactly ``n_frames / fps`` seconds, so video and audio durations
agree to within one frame and frame ``i`` is shown at ``i / fps``. Memory stays bounded: only one
batch of frames is in memory at a time.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

import numpy as np

from mvgen.audio import ffmpeg_exe
from mvgen.errors import MvgenError

#: Encoder settings shared by every chunk (they must match for a stream-copy concatenation).
VIDEO_CODEC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "60"]
AUDIO_CODEC = ["-c:a", "aac", "-b:a", "256k"]


#: The encoder children get their own process group, so a terminal's Ctrl-C reaches only mvgen,
#: which then stops them itself and keeps every finished chunk (a killed encoder would first turn
#: the interruption into an "encoder stopped" error).
DETACHED = {"start_new_session": True} if os.name == "posix" else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


class ChunkWriter:
    """Writes ``(H, W, 3)`` uint8 RGB frames to one H.264 file through an ffmpeg pipe.

    A feeder thread writes to the pipe, so the caller draws the next frames while the encoder
    works on the last ones (at most ``queue_batches`` batches wait, which bounds memory). The file is
    written under a temporary name and renamed by :meth:`close`; :meth:`abort` (or an exception
    inside a ``with`` block) removes it.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float, queue_batches: int = 3):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".part.mp4")
        self.width, self.height = width, height
        self.frames = 0
        args = [
            ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "pipe:0",
            *VIDEO_CODEC, "-r", f"{fps}", "-an", str(self.tmp),
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
        """Append frames, shape ``(B, H, W, 3)`` or ``(H, W, 3)``, dtype uint8."""
        frames = np.ascontiguousarray(frames if frames.ndim == 4 else frames[None])
        if frames.dtype != np.uint8 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(f"frames must be uint8 of shape (B, {self.height}, {self.width}, 3), got {frames.dtype} {frames.shape}")
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
            self.tmp.unlink(missing_ok=True)
            raise MvgenError(f"video encoder failed: {message}", self.path)
        self.process.stderr.close()
        os.replace(self.tmp, self.path)
        return self.path

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
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "ChunkWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def mux(chunks: list[Path], audio_path: str | os.PathLike, start_s: float, n_frames: int, fps: float, out_path: str | os.PathLike) -> Path:
    """Concatenate chunk files and add the audio from ``start_s`` for ``n_frames / fps`` seconds.

    Writes ``out_path`` under a temporary name (renamed when complete), with faststart.
    """
    out_path = Path(out_path)
    listing = out_path.with_name(f".{out_path.name}.chunks.txt")
    tmp = out_path.with_name(f".{out_path.name}.part.mp4")
    # The concat demuxer reads this list; quotes in paths are escaped as its syntax requires.
    listing.write_text("".join(f"file '{str(c.resolve()).replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n" for c in chunks))
    duration_s = n_frames / fps
    args = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(listing),
        "-ss", f"{start_s:.6f}", "-t", f"{duration_s:.6f}", "-i", str(audio_path),
        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *AUDIO_CODEC,
        "-t", f"{duration_s:.6f}", "-movflags", "+faststart", str(tmp),
    ]  # fmt: skip
    try:
        result = subprocess.run(args, capture_output=True, text=True, **DETACHED)
        if result.returncode != 0:
            raise MvgenError(f"muxing failed: {' '.join(result.stderr.split())[-300:]}", out_path)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
    return out_path


def probe_video(path: str | os.PathLike) -> dict:
    """Streams of a rendered file, read with ffmpeg itself (the imageio-ffmpeg wheel has no ffprobe).

    Returns ``width``, ``height``, ``fps``, ``n_frames`` (counted by decoding), ``duration_s``
    (container), ``video_codec``, ``pix_fmt``, ``audio_codec`` (None if no audio).
    """
    import re

    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    text = subprocess.run(args, capture_output=True, text=True).stderr
    video = re.search(r"Stream #0:\d+.*?: Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?, ([\d.]+) fps", text)
    if video is None:
        raise MvgenError("no video stream found", path)
    audio = re.search(r"Stream #0:\d+.*?: Audio: (\w+)", text)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    frames = re.findall(r"frame=\s*(\d+)", text)
    return {
        "video_codec": video.group(1),
        "pix_fmt": video.group(2),
        "width": int(video.group(3)),
        "height": int(video.group(4)),
        "fps": float(video.group(5)),
        "n_frames": int(frames[-1]) if frames else 0,
        "duration_s": int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else 0.0,
        "audio_codec": audio.group(1) if audio else None,
    }
