"""Loudness of a finished video: measured (EBU R128 / ITU-R BS.1770) and, on request, normalized.

:func:`measure_loudness` runs ffmpeg's ``ebur128`` filter (true peak by 4x oversampling) over the
file's first audio stream and reads its summary: integrated loudness (LUFS), loudness range (LU),
sample and true peak (dBFS / dBTP). Both the bundled ffmpeg and Debian's 5.1 print the same summary.

:func:`normalize_loudness` writes a copy at a target integrated loudness with one constant gain
(the video stream copied, the audio re-encoded as mvgen encodes it, :class:`mvgen.media.assemble.AudioEncoding`). ffmpeg's
``loudnorm`` is not used for the gain: in its linear mode it silently falls back to its dynamic mode
(a moving gain, audible as pumping) whenever the linear gain would push the true peak over its
ceiling. Here the gain is ``target - measured`` applied by ``volume``; when that would put the peaks
over the ceiling, a look-ahead peak limiter (``alimiter``, auto-levelling off, run at 4x the sample
rate so that it sees inter-sample peaks) holds only those peaks down. The result is measured again;
if AAC's overshoot still leaves the true peak above the ceiling, the limiter's limit is lowered by
the excess and the audio encoded again; as limiting lowers the loudness too, the gain may be raised by
up to :data:`MAX_MAKEUP_DB` to make that up (at most :data:`MAX_PASSES` encodes in all).
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
#: Headroom (dB) below the true-peak ceiling that the limiter aims at, for the overshoot of the
#: resampling back from the limiter's rate (0.5 dB measured on a synthetic track) and of AAC encoding
#: (0.6 dB more at 256k); a further pass corrects what is left.
AAC_HEADROOM_DB = 1.0
#: Limiter look-ahead (attack) and release (ms): fast enough to touch only the peaks, slow enough not to distort bass.
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0
#: The limiter runs at this multiple of the sample rate, so it limits inter-sample (true) peaks as BS.1770's meter sees them.
LIMITER_OVERSAMPLING = 4
#: Encodes tried before giving up on reaching the target and the true-peak ceiling (an unlimited gain needs one).
MAX_PASSES = 4
#: At most this much gain (dB) is added to make up for the loudness that limited peaks take away;
#: more would turn the limiter into a loudness maximizer (squashed transients), which this is not.
MAX_MAKEUP_DB = 1.0
#: When peaks are limited, the limiter also lowers the loudness; if the result is more than this many LU
#: below the target, the gain is raised by the shortfall (at most :data:`MAX_MAKEUP_DB`) and the audio encoded again.
LIMITED_TOLERANCE_LU = 0.3
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


def _ebur128(path: str | os.PathLike, frame_log: bool) -> str | None:
    """ffmpeg's stderr after the ebur128 filter has run over ``path``'s first audio stream; None if it has none."""
    import ffmpeg

    path = Path(path)
    if not path.is_file():
        raise MvgenError("no such file", path)
    options = {"peak": "true+sample", "framelog": "info" if frame_log else "verbose"}
    graph = ffmpeg.input(str(path)).audio.filter("ebur128", **options).output("-", format="null")
    args = graph.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats"])
    result = subprocess.run(args, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        if re.search(r"matches no streams|does not contain any stream|Output file .* does not contain", result.stderr):
            return None
        dump = parse_header(result.stderr)
        if dump.streams and dump.stream("Audio") is None:  # the input was read: it has no audio
            return None
        raise MvgenError(f"loudness measurement failed: {' '.join(result.stderr.split())[-300:]}", path)
    return result.stderr


def measure_loudness(path: str | os.PathLike) -> Loudness | None:
    """Integrated loudness, loudness range, sample and true peak of ``path``'s first audio stream;
    None when the file has no audio (a Spotify Canvas loop, for one)."""
    text = _ebur128(path, frame_log=False)
    if text is None:
        return None
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
    """What :func:`normalize_loudness` wrote: the file, the gain applied, and its measured loudness."""

    path: Path
    gain_db: float
    limited: bool = dataclasses.field(metadata={"doc": "whether peaks had to be limited to keep the true-peak ceiling"})
    before: Loudness
    after: Loudness


def _audio_rate_hz(path: Path) -> int | None:
    """Sample rate (Hz) of the first audio stream of ``path``, None if it has none."""
    audio = read_header(path).stream("Audio")
    return audio.sample_rate_hz if audio else None


def _codec_options(codec_args: list[str]) -> dict[str, str]:
    """``["-c:a", "aac", "-b:a", "256k"]`` -> ``{"c:a": "aac", "b:a": "256k"}`` (ffmpeg-python output options)."""
    return {key.lstrip("-"): value for key, value in zip(codec_args[::2], codec_args[1::2])}


def _encode(video: Path, out: Path, gain_db: float, limit_dbfs: float | None, rate_hz: int) -> None:
    """Write ``video`` with its audio times ``gain_db`` (and peaks limited at ``limit_dbfs`` when not None) to ``out``."""
    import ffmpeg

    from mvgen.media.assemble import AAC_PRIMING_S, MP4_LAYOUT, AudioEncoding

    source = ffmpeg.input(str(video))
    # mvgen's files have no edit list, so the decoded audio starts with the encoder's priming, and the
    # new encode adds its own: the old priming is cut, so the copy stays on the frames
    audio = source.audio.filter("atrim", start=AAC_PRIMING_S).filter("asetpts", "PTS-STARTPTS")
    audio = audio.filter("volume", volume=f"{gain_db:.3f}dB", precision="double")
    if limit_dbfs is not None:
        audio = (
            audio.filter("aresample", rate_hz * LIMITER_OVERSAMPLING)
            # level=0: no make-up gain (alimiter's auto level would raise everything back up); latency=1: no delay
            .filter("alimiter", limit=10 ** (limit_dbfs / 20), attack=LIMITER_ATTACK_MS, release=LIMITER_RELEASE_MS, level=0, latency=1)
            .filter("aresample", rate_hz)
        )
    output = ffmpeg.output(source.video, audio, str(out), vcodec="copy", **_codec_options(AudioEncoding().args() + MP4_LAYOUT))
    args = output.compile(cmd=[ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
    result = subprocess.run(args, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise MvgenError(f"loudness normalization failed: {' '.join(result.stderr.split())[-300:]}", video)


def normalize_loudness(video: str | os.PathLike, target_lufs: float, out: str | os.PathLike | None = None, true_peak_dbtp: float = TRUE_PEAK_WARN_DBTP) -> Normalized:
    """Write ``video`` at ``target_lufs`` integrated loudness with one constant gain (no pumping), true peak <= ``true_peak_dbtp``.

    ``out``: default :func:`normalized_path`. The original is only read. Peaks the gain would push over
    the ceiling are limited (see the module's notes); the written file is measured, and an error is
    raised (nothing written) if it is not within :data:`TARGET_TOLERANCE_LU` of the target or its true
    peak stays above the ceiling.
    """
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
    gain_db = target_lufs - before.integrated_lufs
    # the measured true peak is rounded to 0.1 dB: half of that as margin
    needs_limit = before.true_peak_dbtp + gain_db > true_peak_dbtp - AAC_HEADROOM_DB - 0.05
    limit_dbfs = true_peak_dbtp - AAC_HEADROOM_DB if needs_limit else None
    with atomic_path(out, suffix=".part" + out.suffix) as tmp:
        makeup_db = 0.0
        for _ in range(MAX_PASSES):
            applied_gain_db, applied_limit_dbfs = gain_db + makeup_db, limit_dbfs  # what the file written last has
            _encode(video, tmp, applied_gain_db, applied_limit_dbfs, rate_hz)
            after = measure_loudness(tmp)
            excess_db = after.true_peak_dbtp - true_peak_dbtp
            shortfall_lu = target_lufs - after.integrated_lufs
            can_make_up = limit_dbfs is not None and shortfall_lu > LIMITED_TOLERANCE_LU and makeup_db < MAX_MAKEUP_DB
            if excess_db <= 0 and not can_make_up:
                break
            if excess_db > 0:
                # overshoot of the resampling and of AAC (or peaks of an unlimited file): limit lower by the excess
                limit_dbfs = (true_peak_dbtp - AAC_HEADROOM_DB if limit_dbfs is None else limit_dbfs) - excess_db - 0.1
            else:
                # the limited peaks took loudness away: a little more gain into the limiter (still one constant gain)
                makeup_db = min(MAX_MAKEUP_DB, makeup_db + shortfall_lu)
        if after.true_peak_dbtp > true_peak_dbtp:
            raise MvgenError(f"true peak {after.true_peak_dbtp:.1f} dBTP stays above {true_peak_dbtp:g} dBTP after {MAX_PASSES} encodes", video)
        if not math.isclose(after.integrated_lufs, target_lufs, abs_tol=TARGET_TOLERANCE_LU):
            raise MvgenError(f"normalized to {after.integrated_lufs:.1f} LUFS, not within {TARGET_TOLERANCE_LU:g} LU of {target_lufs:g} "
                             f"(the track's peaks are too far above its loudness for this target and ceiling)", video)
    return Normalized(path=out, gain_db=applied_gain_db, limited=applied_limit_dbfs is not None, before=before, after=after)
