"""Loudness of a finished video: measured (EBU R128 / ITU-R BS.1770) and, on request, normalized.

:func:`measure_loudness` runs ffmpeg's ``ebur128`` filter (true peak by 4x oversampling) over the
file's first audio stream and reads its summary: integrated loudness (LUFS), loudness range (LU),
sample and true peak (dBFS / dBTP). Both the bundled ffmpeg and Debian's 5.1 print the same summary.

:func:`normalize_loudness` writes a copy at a target integrated loudness with one constant gain
(the video stream copied, the audio re-encoded as mvgen encodes it, :class:`mvgen.media.assemble.AudioEncoding`). ffmpeg's
``loudnorm`` is not used for the gain: in its linear mode it silently falls back to its dynamic mode
(a moving gain, audible as pumping) whenever the linear gain would push the true peak over its
ceiling. Here the gain is ``target - measured``; when that would put the peaks over the ceiling, the
look-ahead true-peak limiter of :mod:`mvgen.delivery.limiter` holds only those peaks down, and as
limiting lowers the loudness too, the gain is raised until the limited audio measures the target
(searched on the decoded samples, without encoding). Real masters with peaks at 0 dBFS typically need
3-4 dB of peak limiting for -14 LUFS; past :data:`MAX_LIMITING_DB` the file is refused. The AAC
encode is measured; if its overshoot leaves the true peak above the ceiling, the limiter's ceiling is
lowered by the excess and the audio encoded again (at most :data:`MAX_PASSES` encodes).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np

from mvgen.errors import MvgenError
from mvgen.fileio import atomic_path
from mvgen.media.ffmpeg import ffmpeg_exe, parse_header, read_header

#: A true peak above this (dBTP) after AAC encoding is a warning: lossy decoders (and the platforms'
#: own transcodes) can clip such peaks (EBU R128 s1 / AES TD1004 recommend -1 dBTP for lossy delivery).
TRUE_PEAK_WARN_DBTP = -1.0
#: ebur128 reports an integrated loudness of -70 LUFS (its absolute gate) for silence: nothing to normalize.
SILENCE_LUFS = -70.0
#: Headroom (dB) below the true-peak ceiling that the limiter aims at, for the overshoot of AAC encoding
#: (0.2-0.5 dB measured at 256k on real masters); a further pass corrects what is left.
AAC_HEADROOM_DB = 0.5
#: Encodes tried before giving up on the true-peak ceiling.
MAX_PASSES = 4
#: The most peak gain reduction (dB) the limiter may apply: mastering limiters take 3-4 dB of peaks off
#: a master cleanly, 6 dB is audible on transients but still musical; more would turn the limiter into a
#: loudness maximizer (squashed drums), so a file needing more is refused with the figures.
MAX_LIMITING_DB = 6.0
#: The gain search stops when the limited audio measures within this many LU of the target (ebur128
#: prints 0.1 LU), or after :data:`MAX_GAIN_STEPS` measurements (each step removes most of the shortfall).
GAIN_SEARCH_TOLERANCE_LU = 0.1
MAX_GAIN_STEPS = 6
#: The gain search's steps assume a dB of gain adds at least this many LU (measured 0.3-0.5 on a dense
#: loud master limited by 5 dB): it bounds a step when two tries measure nearly the same.
MIN_GAIN_SLOPE = 0.2
#: Targets :func:`normalize_loudness` accepts (LUFS): from quiet broadcast (-23, EBU R128; -24, ATSC A/85)
#: through streaming (-14 Spotify and YouTube, -16 Apple) to club masters (about -6).
TARGET_RANGE_LUFS = (-40.0, -5.0)
#: A normalized file must measure within this many LU of its target (else an error, nothing written).
TARGET_TOLERANCE_LU = 1.0


@dataclasses.dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of one file's first audio stream (ebur128's summary, 0.1 dB resolution)."""

    integrated_lufs: float
    true_peak_dbtp: float = dataclasses.field(metadata={"doc": "maximum over channels, 4x oversampled; -inf for digital silence"})
    sample_peak_dbfs: float
    lra_lu: float = dataclasses.field(metadata={"doc": "loudness range"})

    @property
    def peak_warning(self) -> bool:
        """Whether the true peak is above :data:`TRUE_PEAK_WARN_DBTP`."""
        return self.true_peak_dbtp > TRUE_PEAK_WARN_DBTP

    def describe(self) -> str:
        """One line for people, e.g. ``-7.9 LUFS integrated, true peak -0.4 dBTP``."""
        return f"{self.integrated_lufs:.1f} LUFS integrated, true peak {self.true_peak_dbtp:.1f} dBTP"


@dataclasses.dataclass(frozen=True)
class LoudnessCurve:
    """ebur128's running figures every 100 ms: ``time_s``, ``momentary_lufs`` (400 ms window) and
    ``short_term_lufs`` (3 s window), float arrays of shape ``(n,)``; -inf where a window is silent."""

    time_s: np.ndarray
    momentary_lufs: np.ndarray
    short_term_lufs: np.ndarray


_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf))"


def _ebur128_command(source, frame_log: bool) -> list[str]:
    """ffmpeg's command running the ebur128 filter over ``source``'s audio (an ffmpeg-python input) and discarding the result."""
    import ffmpeg

    options = {"peak": "true+sample", "framelog": "info" if frame_log else "verbose"}
    graph = source.audio.filter("ebur128", **options).output("-", format="null")
    return graph.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats"])


def _ebur128(path: str | os.PathLike, frame_log: bool) -> str | None:
    """ffmpeg's stderr after the ebur128 filter has run over ``path``'s first audio stream; None if it has none."""
    path = Path(path)
    if not path.is_file():
        raise MvgenError("no such file", path)
    import ffmpeg

    args = _ebur128_command(ffmpeg.input(str(path)), frame_log)
    result = subprocess.run(args, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        if re.search(r"matches no streams|does not contain any stream|Output file .* does not contain", result.stderr):
            return None
        dump = parse_header(result.stderr)
        if dump.streams and dump.stream("Audio") is None:  # the input was read: it has no audio
            return None
        raise MvgenError(f"loudness measurement failed: {' '.join(result.stderr.split())[-300:]}", path)
    return result.stderr


def _summary(text: str, path) -> Loudness:
    """The :class:`Loudness` in the summary ebur128 printed at the end of ``text`` (``path``: for errors)."""
    summary = text[text.rfind("Summary:") :]

    def figure(pattern: str) -> float:
        found = re.search(pattern + r"\s+" + _NUMBER, summary)
        if found is None:
            raise MvgenError(f"loudness measurement: no {pattern!r} in ffmpeg's ebur128 summary", path)
        return float(found.group(1))

    return Loudness(
        integrated_lufs=figure(r"Integrated loudness:\s+I:"),
        lra_lu=figure(r"LRA:"),
        sample_peak_dbfs=figure(r"Sample peak:\s+Peak:"),
        true_peak_dbtp=figure(r"True peak:\s+Peak:"),
    )


def measure_loudness(path: str | os.PathLike) -> Loudness | None:
    """Integrated loudness, loudness range, sample and true peak of ``path``'s first audio stream;
    None when the file has no audio (a Spotify Canvas loop, for one)."""
    text = _ebur128(path, frame_log=False)
    return None if text is None else _summary(text, path)


def measure_samples(audio: np.ndarray, sr: int, source: str | os.PathLike | None = None) -> Loudness:
    """:func:`measure_loudness` of samples in memory: ``audio`` float ``(channels, n)`` at ``sr`` Hz, piped to
    ffmpeg's ebur128 (no file written). ``source``: the file they came from, named in errors."""
    import ffmpeg

    raw = np.ascontiguousarray(audio.T, dtype=np.float32).tobytes()
    args = _ebur128_command(ffmpeg.input("pipe:", format="f32le", ar=sr, ac=audio.shape[0]), frame_log=False)
    result = subprocess.run(args, input=raw, capture_output=True)
    text = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        raise MvgenError(f"loudness measurement failed: {' '.join(text.split())[-300:]}", source)
    return _summary(text, source)


def loudness_curve(path: str | os.PathLike) -> LoudnessCurve | None:
    """Momentary and short-term loudness of ``path`` every 100 ms (see :class:`LoudnessCurve`); None without audio."""
    text = _ebur128(path, frame_log=True)
    if text is None:
        return None
    rows = re.findall(r"t:\s*" + _NUMBER + r"\s+TARGET:.*?M:\s*" + _NUMBER + r"\s+S:\s*" + _NUMBER, text)
    values = np.array([[float(v) for v in row] for row in rows], dtype=np.float64).reshape(-1, 3)
    return LoudnessCurve(time_s=values[:, 0], momentary_lufs=values[:, 1], short_term_lufs=values[:, 2])


def check_target_lufs(target_lufs: float, name: str = "target_lufs") -> float:
    """``target_lufs`` if it is within :data:`TARGET_RANGE_LUFS`, else an :class:`MvgenError` naming ``name`` and the range."""
    low, high = TARGET_RANGE_LUFS
    if not (isinstance(target_lufs, (int, float)) and low <= target_lufs <= high):
        raise MvgenError(f"{name} must be a loudness from {low:g} to {high:g} LUFS (e.g. -14 for streaming), got {target_lufs!r}")
    return float(target_lufs)


def normalized_path(video: str | os.PathLike, target_lufs: float) -> Path:
    """Where the normalized copy of ``video`` goes: beside it, e.g. ``track.-14LUFS.mp4``."""
    video = Path(video)
    return video.with_name(f"{video.stem}.{target_lufs:g}LUFS{video.suffix}")


@dataclasses.dataclass(frozen=True)
class Normalized:
    """What :func:`normalize_loudness` wrote: the file, the gain applied, the peak limiting, and its measured loudness."""

    path: Path
    gain_db: float = dataclasses.field(metadata={"doc": "the constant gain, make-up for the limited peaks included"})
    limited_db: float = dataclasses.field(metadata={"doc": "the most any peak was turned down by the limiter (dB, >= 0; 0: not limited)"})
    before: Loudness
    after: Loudness

    @property
    def limited(self) -> bool:
        """Whether peaks had to be limited to keep the true-peak ceiling (by 0.05 dB or more)."""
        return self.limited_db >= 0.05

    def describe(self) -> str:
        """One line for people, e.g. ``gain +3.2 dB, peaks limited by 3.6 dB``."""
        return f"gain {self.gain_db:+.1f} dB" + (f", peaks limited by {self.limited_db:.1f} dB" if self.limited else "")


def _audio_rate_hz(path: Path) -> int | None:
    """Sample rate (Hz) of the first audio stream of ``path``, None if it has none."""
    audio = read_header(path).stream("Audio")
    return audio.sample_rate_hz if audio else None


def _encode(video: Path, out: Path, audio: np.ndarray, rate_hz: int) -> None:
    """Write ``video`` with its audio replaced by ``audio`` (float ``(channels, n)`` at ``rate_hz``) to ``out``, the video stream copied."""
    import ffmpeg

    from mvgen.media.assemble import MP4_LAYOUT, AudioEncoding

    source = ffmpeg.input(str(video))
    samples = ffmpeg.input("pipe:", format="f32le", ar=rate_hz, ac=audio.shape[0])
    codec = AudioEncoding().args() + MP4_LAYOUT
    options = {key.lstrip("-"): value for key, value in zip(codec[::2], codec[1::2])}  # ["-c:a", "aac"] -> {"c:a": "aac"}
    streams = [source["v?"], samples.audio]
    # the container's tags (a render's window in its track, title...) come from the video, input 0
    output = ffmpeg.output(*streams, str(out), vcodec="copy", map_metadata=0, **options)
    args = output.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
    result = subprocess.run(args, input=np.ascontiguousarray(audio.T, dtype=np.float32).tobytes(), capture_output=True)
    if result.returncode != 0:
        raise MvgenError(f"loudness normalization failed: {' '.join(result.stderr.decode(errors='replace').split())[-300:]}", video)


def _decoded(video: Path, rate_hz: int) -> np.ndarray:
    """``video``'s first audio stream as float32 ``(channels, n)`` at its own rate, the AAC encoder's priming cut.

    mvgen's files have no edit list, so the decoded audio starts with the encoder's priming, and the
    new encode adds its own: the old priming is cut, so the copy stays on the frames.
    """
    from mvgen.media.assemble import AAC_PRIMING_S
    from mvgen.media.audio import load_audio

    audio = load_audio(video, sr=None, mono=False)
    return audio.reshape(-1, audio.shape[-1])[:, round(AAC_PRIMING_S * rate_hz) :]


def _reach_target(audio: np.ndarray, rate_hz: int, peaks: np.ndarray, gain_db: float, target_lufs: float, ceiling_dbfs: float,
                  video: Path, true_peak_dbtp: float):
    """The constant gain (dB) that, with the peaks over ``ceiling_dbfs`` limited, measures ``target_lufs``, and the limited audio
    (:class:`mvgen.delivery.limiter.Limited`); an :class:`MvgenError` when that needs more than :data:`MAX_LIMITING_DB` of limiting."""
    from mvgen.delivery.limiter import limit_true_peak

    tried: list[tuple[float, float]] = []  # (gain dB, measured LUFS)
    capped = False  # the gain was capped at MAX_LIMITING_DB of limiting

    def refuse(needed_db: float):
        return MvgenError(f"reaching {target_lufs:g} LUFS with the true peak at {true_peak_dbtp:g} dBTP needs about {needed_db:.1f} dB of "
                          f"peak limiting, more than the {MAX_LIMITING_DB:g} dB allowed: choose a quieter target (--loudness)", video)

    for _ in range(MAX_GAIN_STEPS):
        limited = limit_true_peak(audio, rate_hz, gain_db, ceiling_dbfs, peaks=peaks)
        if limited.reduction_db == 0.0:
            return gain_db, limited  # a constant gain: the loudness moves by exactly the gain
        if limited.reduction_db > MAX_LIMITING_DB + 0.01:
            if capped:  # back over the cap after a step down from it (not seen): refuse rather than limit more
                raise refuse(limited.reduction_db)
            # the peak reduction grows dB for dB with the gain: try the most gain allowed, which may still land within the tolerance
            needed_db, capped = limited.reduction_db, True
            gain_db -= limited.reduction_db - MAX_LIMITING_DB
            limited = limit_true_peak(audio, rate_hz, gain_db, ceiling_dbfs, peaks=peaks)
        tried.append((gain_db, measure_samples(limited.audio, rate_hz, video).integrated_lufs))
        shortfall_lu = target_lufs - tried[-1][1]
        if abs(shortfall_lu) <= GAIN_SEARCH_TOLERANCE_LU:
            break
        # limiting took some loudness: more gain into the limiter (still one constant gain). On dense masters
        # a dB of gain adds well under 1 LU once limited: the step follows the slope of the last two tries
        slope = 1.0
        if len(tried) > 1 and tried[-1][0] != tried[-2][0]:
            slope = float(np.clip((tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0]), MIN_GAIN_SLOPE, 1.0))
        if capped:
            if shortfall_lu > TARGET_TOLERANCE_LU:
                raise refuse(max(needed_db, MAX_LIMITING_DB + shortfall_lu / slope))
            if shortfall_lu > 0:
                break  # short of the target, but within the tolerance, with as much limiting as allowed
        gain_db += shortfall_lu / slope
    return gain_db, limited


def normalize_loudness(video: str | os.PathLike, target_lufs: float, out: str | os.PathLike | None = None, true_peak_dbtp: float = TRUE_PEAK_WARN_DBTP) -> Normalized:
    """Write ``video`` at ``target_lufs`` integrated loudness with one constant gain (no pumping), true peak <= ``true_peak_dbtp``.

    ``out``: default :func:`normalized_path`. The original is only read. Peaks the gain would push over
    the ceiling are limited, by at most :data:`MAX_LIMITING_DB` (see the module's notes); the written
    file is measured, and an error is raised (nothing written) if it is not within
    :data:`TARGET_TOLERANCE_LU` of the target or its true peak stays above the ceiling.
    """
    from mvgen.delivery.limiter import block_true_peaks

    video = Path(video)
    check_target_lufs(target_lufs)
    if not (-20.0 <= true_peak_dbtp <= 0.0):
        raise MvgenError(f"true_peak_dbtp must be in [-20, 0] dBTP, got {true_peak_dbtp}")
    out = normalized_path(video, target_lufs) if out is None else Path(out)
    if out.resolve() == video.resolve():
        raise MvgenError("the normalized copy cannot replace the original", out)
    before = measure_loudness(video)
    if before is None:
        raise MvgenError("no audio stream to normalize", video)
    if before.integrated_lufs <= SILENCE_LUFS:
        raise MvgenError("the audio is silent: no loudness to normalize", video)
    rate_hz = _audio_rate_hz(video) or 48000
    audio = _decoded(video, rate_hz)
    peaks = block_true_peaks(audio)
    gain_db, ceiling_dbfs = target_lufs - before.integrated_lufs, true_peak_dbtp - AAC_HEADROOM_DB
    with atomic_path(out, suffix=".part" + out.suffix) as tmp:
        for _ in range(MAX_PASSES):
            gain_db, limited = _reach_target(audio, rate_hz, peaks, gain_db, target_lufs, ceiling_dbfs, video, true_peak_dbtp)
            _encode(video, tmp, limited.audio, rate_hz)
            after = measure_loudness(tmp)
            excess_db = after.true_peak_dbtp - true_peak_dbtp
            if excess_db <= 0:
                break
            ceiling_dbfs -= excess_db + 0.1  # AAC's overshoot: limit lower by the excess (ebur128 rounds to 0.1 dB)
        if after.true_peak_dbtp > true_peak_dbtp:
            raise MvgenError(f"true peak {after.true_peak_dbtp:.1f} dBTP stays above {true_peak_dbtp:g} dBTP after {MAX_PASSES} encodes", video)
        if not math.isclose(after.integrated_lufs, target_lufs, abs_tol=TARGET_TOLERANCE_LU):
            raise MvgenError(f"normalized to {after.integrated_lufs:.1f} LUFS, not within {TARGET_TOLERANCE_LU:g} LU of {target_lufs:g}", video)
    return Normalized(path=out, gain_db=gain_db, limited_db=limited.reduction_db, before=before, after=after)
