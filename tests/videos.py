"""Helpers for tests of rendered videos: decoded frames, and a render that is interrupted then resumed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mvgen.media.ffmpeg import ffmpeg_exe
from mvgen.settings import RenderSettings
from mvgen.pipeline import render_video


def gray_frames(path: str | Path, width: int, height: int) -> np.ndarray:
    """The decoded video as grey levels, float32 ``(n_frames, height, width)``."""
    return _decoded(path, width, height, "gray", 1)[..., 0]


def rgb_frames(path: str | Path, width: int, height: int) -> np.ndarray:
    """The decoded video as RGB, float32 ``(n_frames, height, width, 3)``."""
    return _decoded(path, width, height, "rgb24", 3)


def _decoded(path: str | Path, width: int, height: int, pix_fmt: str, channels: int) -> np.ndarray:
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    raw = subprocess.run(args, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, channels).astype(np.float32)


def interrupt_then_resume(track: Path, out: Path, settings: RenderSettings, after_frames: int) -> Path:
    """Render until ``after_frames`` frames are done, interrupt (KeyboardInterrupt, as Ctrl-C), check
    that nothing is at ``out`` and the work folder holds no partial file, then ``--resume``."""

    def interrupt(done, total):
        if done >= after_frames:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_video(track, out, settings, on_progress=interrupt)
    work = out.with_name(f".{out.name}.work")
    assert not out.exists() and (work / "manifest.json").is_file()
    assert not list(work.glob("*.part*"))
    return render_video(track, out, settings, resume=True)


def mono_48k(path, start_s: float = 0.0) -> np.ndarray:
    """Decoded audio of ``path`` from ``start_s``, mono float32 at 48 kHz (every sample, priming included when no edit list hides it)."""
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-ss", f"{start_s}", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-ac", "1", "-ar", "48000", "-"]
    return np.frombuffer(subprocess.run(args, capture_output=True, check=True).stdout, np.float32)


def audio_lag_samples(out, track, start_s: float) -> int:
    """Samples (at 48 kHz) by which the video's audio lags the track from ``start_s``: cross-correlation peak."""
    got, want = mono_48k(out)[:96000], mono_48k(track, start_s)[:96000]
    n = len(got) + len(want)
    corr = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(want, n)), n)
    lag = int(np.argmax(corr))
    return lag if lag < n // 2 else lag - n
