"""Audio-domain degradations of real releases, for training the classifier on synthetic music.

Real tracks reach mvgen mastered for loudness, sometimes clipped, often as MP3 or AAC, now and then
with room sound, an odd EQ or a noise floor; the synthetic corpus (:mod:`mvgen.synth`) has none of
that. Each function here takes mono float32 audio ``y`` (shape ``(n,)``) and an
``np.random.Generator``, draws its settings from the ranges in the constants below, and returns
float32 audio of the same length whose peak is at most 1.0. Given the same generator state the
output is the same (the lossy round trip through ffmpeg too, up to the encoder's determinism).

Every function draws all of its settings first, in a fixed order, then the random signals it needs;
keyword arguments replace drawn settings without changing what is drawn, so ``draw_params(kind,
rng)`` with a generator in the same state tells which settings a call will use.

:func:`degrade` applies one degradation by name (:data:`DEGRADATIONS`), :func:`random_degradation`
a random chain of up to :data:`MAX_CHAIN` of them in signal-chain order (room and EQ, then clipping
and mastering, then noise, then the codec), for training augmentation.
"""

from __future__ import annotations

import functools
import math
import subprocess
from collections.abc import Callable, Sequence

import numpy as np
import scipy.fft
import soxr
from scipy import signal

from mvgen.errors import MvgenError

__all__ = [
    "DEGRADATIONS",
    "master",
    "clip",
    "lossy",
    "reverb",
    "eq_tilt",
    "noise",
    "degrade",
    "draw_params",
    "random_degradation",
]

# ----------------------------------------------------------------------------------------- ranges
# (lo, hi) pairs are drawn uniformly; tuples of values are drawn from.

#: Limiter ceiling (dBFS) of :func:`master`.
MASTER_CEILING_DB = (-1.0, -0.3)
#: Gain reduction (dB) of :func:`master` on the loudest peak: the input is gained up until its peak
#: is this far above the ceiling.
MASTER_REDUCTION_DB = (3.0, 10.0)
#: Limiter release (s): the gain recovers by a factor e (8.7 dB) per release time.
MASTER_RELEASE_S = (0.03, 0.08)
#: Limiter block (s): the gain is computed per block and is down one block before a peak (look-ahead and attack).
MASTER_LOOKAHEAD_S = 0.002

#: Drive (dB) of :func:`clip`: the input's peak is pushed this far over full scale.
CLIP_DRIVE_DB = (2.0, 8.0)
#: Probability that :func:`clip` clips hard (at +-1.0) rather than softly (tanh).
CLIP_HARD_P = 0.5

#: Codecs of :func:`lossy` and their constant bitrates (kbps), as sold and streamed.
LOSSY_KBPS = {"mp3": (96, 112, 128, 160, 192), "aac": (96, 112, 128, 160)}
#: ffmpeg encoder, muxer and demuxer per codec (ADTS: raw AAC frames, no seekable container needed).
_LOSSY_FORMATS = {"mp3": ("libmp3lame", "mp3", "mp3"), "aac": ("aac", "adts", "aac")}
#: Rate the codecs run at unless the input's rate is one of :data:`LOSSY_NATIVE_SR` (releases are 44.1 kHz).
LOSSY_SR = 44100
LOSSY_NATIVE_SR = (32000, 44100, 48000)
#: The longest encoder plus decoder delay (s) the alignment looks for.
LOSSY_MAX_DELAY_S = 0.1
_FFMPEG_TIMEOUT_S = 120

#: Reverberation time (s, 60 dB decay) and wet share of :func:`reverb`.
REVERB_RT60_S = (0.3, 2.5)
REVERB_WET = (0.1, 0.4)
#: Pre-delay (s) of the synthetic room before its tail, and the tail's lowpass (damping) and highpass (Hz).
REVERB_PREDELAY_S = (0.005, 0.025)
REVERB_DAMPING_HZ = (3000.0, 9000.0)
REVERB_HIGHPASS_HZ = 100.0

#: Spectral tilt (dB) of :func:`eq_tilt`: the gain change, linear in log frequency, from
#: :data:`EQ_TILT_LO_HZ` to the Nyquist frequency (positive: brighter).
EQ_TILT_DB = (-6.0, 6.0)
EQ_TILT_LO_HZ = 50.0
#: The random shelf of :func:`eq_tilt`: gain (dB), corner frequency (Hz) of a low or of a high shelf.
EQ_SHELF_DB = (-6.0, 6.0)
EQ_LOW_SHELF_HZ = (60.0, 300.0)
EQ_HIGH_SHELF_HZ = (2500.0, 8000.0)

#: Signal-to-noise ratio (dB, signal power over noise power) of :func:`noise`.
NOISE_SNR_DB = (20.0, 40.0)
#: Kinds of noise: white, pink (-3 dB per octave) and vinyl-like crackle (sparse clicks).
NOISE_KINDS = ("white", "pink", "crackle")
#: Crackle clicks per second, and the click length (s).
CRACKLE_RATE_HZ = (3.0, 30.0)
CRACKLE_CLICK_S = 0.0015
#: The signal power below which noise is scaled to this floor (dBFS) instead (silence gets a faint floor).
NOISE_FLOOR_DBFS = -60.0

#: Names :func:`degrade` accepts, in the order :func:`random_degradation` applies them.
DEGRADATIONS = ("reverb", "eq_tilt", "clip", "master", "noise", "mp3", "aac")
#: Most degradations one :func:`random_degradation` chain applies.
MAX_CHAIN = 3


# ------------------------------------------------------------------------------------ helpers


def _check(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono, shape (n,), got shape {y.shape}")
    return y


def _fit(x: np.ndarray) -> np.ndarray:
    """float32 with the peak scaled down to 1.0 when it is over."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 1.0:
        x = x / peak
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _pick(value, drawn):
    return drawn if value is None else value


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


# ------------------------------------------------------------------------------------- master


def _draw_master(rng: np.random.Generator) -> dict:
    return {"ceiling_db": _uniform(rng, MASTER_CEILING_DB), "reduction_db": _uniform(rng, MASTER_REDUCTION_DB), "release_s": _uniform(rng, MASTER_RELEASE_S)}


def master(y: np.ndarray, sr: int, rng: np.random.Generator, *, ceiling_db: float | None = None, reduction_db: float | None = None, release_s: float | None = None) -> np.ndarray:
    """Loudness-war mastering: gain up by the drawn reduction over the ceiling, then a brickwall limiter.

    The limiter is a look-ahead peak limiter computed on blocks of :data:`MASTER_LOOKAHEAD_S`: the
    gain a block needs (ceiling over its peak, in dB) is held over its neighbours (the gain is down
    a block before a peak arrives), recovers linearly in dB at one factor e per ``release_s`` (a
    cumulative minimum, so no per-sample loop), and is interpolated linearly between block centres.
    Each sample's gain is a mix of the gains of its block and a neighbour, both at most what the
    sample needs, so the output's peak is at most the ceiling.
    """
    y = _check(y)
    p = _draw_master(rng)
    ceiling_db, reduction_db, release_s = _pick(ceiling_db, p["ceiling_db"]), _pick(reduction_db, p["reduction_db"]), _pick(release_s, p["release_s"])
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak <= 0.0:
        return y.copy()
    ceiling = 10.0 ** (ceiling_db / 20.0)
    x = y * np.float32(ceiling * 10.0 ** (reduction_db / 20.0) / peak)
    block = max(1, int(round(MASTER_LOOKAHEAD_S * sr)))
    n_blocks = -(-len(x) // block)
    level = np.abs(np.pad(x, (0, n_blocks * block - len(x)))).reshape(n_blocks, block).max(axis=1).astype(np.float64)
    need = np.minimum(0.0, 20.0 * np.log10(ceiling / np.maximum(level, 1e-12)))  # dB each block needs
    edged = np.pad(need, 1, mode="edge")
    held = np.minimum(np.minimum(edged[:-2], edged[1:-1]), edged[2:])  # look-ahead (and behind) by one block
    rate = 20.0 * math.log10(math.e) * block / (release_s * sr)  # release, dB per block
    ramp = rate * np.arange(n_blocks)
    released = np.minimum(held, np.minimum.accumulate(held - ramp) + ramp)  # min over j <= k of held[j] + rate (k - j)
    centres = np.arange(n_blocks) * block + (block - 1) / 2.0
    gain = np.interp(np.arange(len(x), dtype=np.float32), centres, 10.0 ** (released / 20.0)).astype(np.float32)
    return np.clip(x * gain, -ceiling, ceiling).astype(np.float32)


# --------------------------------------------------------------------------------------- clip


def _draw_clip(rng: np.random.Generator) -> dict:
    return {"drive_db": _uniform(rng, CLIP_DRIVE_DB), "hard": bool(rng.random() < CLIP_HARD_P)}


def clip(y: np.ndarray, rng: np.random.Generator, *, drive_db: float | None = None, hard: bool | None = None) -> np.ndarray:
    """Clipping: the peak is driven ``drive_db`` over full scale, then clipped hard at +-1 or softly (tanh)."""
    y = _check(y)
    p = _draw_clip(rng)
    drive_db, hard = _pick(drive_db, p["drive_db"]), _pick(hard, p["hard"])
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak <= 0.0:
        return y.copy()
    x = y * np.float32(10.0 ** (drive_db / 20.0) / peak)
    return (np.clip(x, -1.0, 1.0) if hard else np.tanh(x)).astype(np.float32)


# -------------------------------------------------------------------------------------- lossy


def _draw_lossy(rng: np.random.Generator, codec: str) -> dict:
    return {"kbps": int(rng.choice(LOSSY_KBPS[codec]))}


def _ffmpeg_run(args: list[str], data: bytes, what: str) -> bytes:
    exe = args[0]
    try:
        run = subprocess.run(args, input=data, capture_output=True, timeout=_FFMPEG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise MvgenError(f"ffmpeg took over {_FFMPEG_TIMEOUT_S} s to {what}", exe) from None
    except OSError as exc:
        raise MvgenError(f"cannot run ffmpeg: {exc.strerror or exc}", exe) from None
    if run.returncode != 0:
        reason = run.stderr.decode(errors="replace").strip().splitlines()
        raise MvgenError(f"ffmpeg could not {what}: {reason[-1] if reason else 'exit status ' + str(run.returncode)}", exe)
    return run.stdout


def _round_trip(exe: str, x: np.ndarray, sr: int, codec: str, kbps: int) -> np.ndarray:
    """``x`` (mono, at ``sr``) encoded as a stereo stream and decoded back, unaligned, mono float32."""
    encoder, muxer, demuxer = _LOSSY_FORMATS[codec]
    quiet = [exe, "-nostdin", "-hide_banner", "-loglevel", "error"]
    # Stereo like a release (the codecs pick their bandwidth by bitrate per channel pair), built here
    # so that ffmpeg's rematrixing gains never apply.
    stereo = np.repeat(np.ascontiguousarray(x, dtype="<f4"), 2)
    coded = _ffmpeg_run(
        quiet + ["-f", "f32le", "-ar", str(sr), "-ac", "2", "-i", "pipe:0", "-c:a", encoder, "-b:a", f"{kbps}k", "-f", muxer, "pipe:1"], stereo.tobytes(), f"encode {codec}"
    )
    raw = _ffmpeg_run(quiet + ["-f", demuxer, "-i", "pipe:0", "-f", "f32le", "-c:a", "pcm_f32le", "-ac", "2", "-ar", str(sr), "pipe:1"], coded, f"decode {codec}")
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2).mean(axis=1).astype(np.float32)


def _lag(out: np.ndarray, ref: np.ndarray, max_lag: int) -> int:
    """The delay (samples) of ``out`` against ``ref`` within +-``max_lag``: the cross-correlation peak."""
    size = scipy.fft.next_fast_len(len(out) + len(ref), real=True)
    xc = scipy.fft.irfft(scipy.fft.rfft(out, size) * np.conj(scipy.fft.rfft(ref, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(xc[lags])])


@functools.lru_cache(maxsize=64)
def _codec_delay(exe: str, sr: int, codec: str, kbps: int) -> int:
    """Encoder plus decoder delay (samples at ``sr``) of this ffmpeg, codec and bitrate, measured once on noise."""
    probe = (0.25 * np.random.default_rng(0).standard_normal(sr)).astype(np.float32)
    return _lag(_round_trip(exe, probe, sr, codec, kbps), probe, int(LOSSY_MAX_DELAY_S * sr))


def lossy(y: np.ndarray, sr: int, rng: np.random.Generator, codec: str, *, kbps: int | None = None) -> np.ndarray:
    """MP3 (libmp3lame) or AAC (ffmpeg's ``aac``) round trip through ffmpeg pipes at a drawn constant bitrate.

    The audio is coded as a stereo release at 44.1 kHz (:data:`LOSSY_SR`; input at a rate in
    :data:`LOSSY_NATIVE_SR` is coded at its own rate), resampled with soxr. The codec's delay
    (encoder priming, decoder delay) is measured once per ffmpeg, codec and bitrate by
    cross-correlation on noise and cut off, so the output lines up with the input; the codec's
    tail padding is cut at the input's length. Decoded overs are clipped at +-1.0, as 16-bit
    decoding would. ffmpeg is :func:`mvgen.media.ffmpeg.ffmpeg_exe`.
    """
    from mvgen.media.ffmpeg import ffmpeg_exe

    y = _check(y)
    if codec not in LOSSY_KBPS:
        raise ValueError(f"codec must be one of {', '.join(LOSSY_KBPS)}, got {codec!r}")
    kbps = int(_pick(kbps, _draw_lossy(rng, codec)["kbps"]))
    if len(y) == 0:
        return y.copy()
    rate = sr if sr in LOSSY_NATIVE_SR else LOSSY_SR
    x = soxr.resample(y, sr, rate).astype(np.float32) if rate != sr else y
    exe = ffmpeg_exe()
    out = _round_trip(exe, x, rate, codec, kbps)[_codec_delay(exe, rate, codec, kbps) :]
    out = np.pad(out, (0, max(0, len(x) - len(out))))[: len(x)]
    if rate != sr:
        out = soxr.resample(out, rate, sr)
    out = np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------- reverb


def _draw_reverb(rng: np.random.Generator) -> dict:
    return {
        "rt60_s": _uniform(rng, REVERB_RT60_S),
        "wet": _uniform(rng, REVERB_WET),
        "predelay_s": _uniform(rng, REVERB_PREDELAY_S),
        "damping_hz": _uniform(rng, REVERB_DAMPING_HZ),
    }


def reverb(
    y: np.ndarray, sr: int, rng: np.random.Generator, *, rt60_s: float | None = None, wet: float | None = None, predelay_s: float | None = None, damping_hz: float | None = None
) -> np.ndarray:
    """Convolution with a synthetic room: exponentially decaying band-limited noise (60 dB down after ``rt60_s``).

    The impulse response has unit energy, so the wet signal is about as loud as the dry one; the
    output is ``(1 - wet) * y + wet * room(y)``, scaled down when its peak would pass 1.0.
    """
    y = _check(y)
    p = _draw_reverb(rng)
    rt60_s, wet = _pick(rt60_s, p["rt60_s"]), _pick(wet, p["wet"])
    predelay_s, damping_hz = _pick(predelay_s, p["predelay_s"]), _pick(damping_hz, p["damping_hz"])
    n_ir = max(2, int(rt60_s * sr))
    tail = rng.standard_normal(n_ir)
    band = signal.butter(2, [REVERB_HIGHPASS_HZ, min(damping_hz, 0.45 * sr)], "bandpass", fs=sr, output="sos")
    tail = signal.sosfilt(band, tail) * np.exp(-3.0 * math.log(10.0) * np.arange(n_ir) / (rt60_s * sr))
    ir = np.concatenate([np.zeros(int(predelay_s * sr)), tail])
    ir /= math.sqrt(float(np.sum(ir**2)))
    if len(y) == 0:
        return y.copy()
    size = scipy.fft.next_fast_len(len(y) + len(ir) - 1, real=True)
    room = scipy.fft.irfft(scipy.fft.rfft(y, size) * scipy.fft.rfft(ir.astype(np.float32), size), size)[: len(y)]
    return _fit((1.0 - wet) * y + wet * room)


# ------------------------------------------------------------------------------------ eq_tilt


def _draw_eq(rng: np.random.Generator) -> dict:
    shelf = "low" if rng.random() < 0.5 else "high"
    lo, hi = EQ_LOW_SHELF_HZ if shelf == "low" else EQ_HIGH_SHELF_HZ
    return {"tilt_db": _uniform(rng, EQ_TILT_DB), "shelf": shelf, "shelf_hz": float(math.exp(rng.uniform(math.log(lo), math.log(hi)))), "shelf_db": _uniform(rng, EQ_SHELF_DB)}


def _shelf_sos(shelf: str, hz: float, db: float, sr: int) -> np.ndarray:
    """RBJ-cookbook low or high shelf biquad (slope 1), as one second-order section."""
    a = 10.0 ** (db / 40.0)
    w0 = 2.0 * math.pi * min(hz, 0.45 * sr) / sr
    cos, alpha = math.cos(w0), math.sin(w0) / 2.0 * math.sqrt(2.0)
    s = 1.0 if shelf == "low" else -1.0  # the high shelf is the low one with the cosine terms negated
    b = [a * ((a + 1) - s * (a - 1) * cos + 2 * math.sqrt(a) * alpha), s * 2 * a * ((a - 1) - s * (a + 1) * cos), a * ((a + 1) - s * (a - 1) * cos - 2 * math.sqrt(a) * alpha)]
    den = [(a + 1) + s * (a - 1) * cos + 2 * math.sqrt(a) * alpha, -s * 2 * ((a - 1) + s * (a + 1) * cos), (a + 1) + s * (a - 1) * cos - 2 * math.sqrt(a) * alpha]
    return np.array([[*(np.array(b) / den[0]), 1.0, den[1] / den[0], den[2] / den[0]]])


@functools.lru_cache(maxsize=16)
def _tilt_position(size: int, sr: int) -> np.ndarray:
    """Each rfft bin's place between :data:`EQ_TILT_LO_HZ` (-0.5) and Nyquist (+0.5), linear in log frequency."""
    f = np.maximum(scipy.fft.rfftfreq(size, 1.0 / sr), EQ_TILT_LO_HZ)
    position = (np.log(f / EQ_TILT_LO_HZ) / math.log(sr / 2.0 / EQ_TILT_LO_HZ) - 0.5).astype(np.float32)
    position.flags.writeable = False
    return position


def eq_tilt(
    y: np.ndarray, sr: int, rng: np.random.Generator, *, tilt_db: float | None = None, shelf: str | None = None, shelf_hz: float | None = None, shelf_db: float | None = None
) -> np.ndarray:
    """A spectral tilt (``tilt_db`` from :data:`EQ_TILT_LO_HZ` to Nyquist, linear in log frequency) and a low or high shelf.

    The tilt is applied as a zero-phase gain on the spectrum, the shelf as an RBJ biquad; the
    result is scaled down when its peak would pass 1.0.
    """
    y = _check(y)
    p = _draw_eq(rng)
    tilt_db, shelf, shelf_hz, shelf_db = _pick(tilt_db, p["tilt_db"]), _pick(shelf, p["shelf"]), _pick(shelf_hz, p["shelf_hz"]), _pick(shelf_db, p["shelf_db"])
    if shelf not in ("low", "high"):
        raise ValueError(f"shelf must be 'low' or 'high', got {shelf!r}")
    if len(y) == 0:
        return y.copy()
    pad = min(len(y), sr // 10)  # room for the tilt's short response, so it does not wrap around
    size = scipy.fft.next_fast_len(len(y) + pad, real=True)
    gain = np.exp(_tilt_position(size, sr) * np.float32(tilt_db * math.log(10.0) / 20.0))
    x = scipy.fft.irfft(scipy.fft.rfft(y, size) * gain, size)[: len(y)]
    x = signal.sosfilt(_shelf_sos(shelf, shelf_hz, shelf_db, sr), x)
    return _fit(x)


# -------------------------------------------------------------------------------------- noise


def _draw_noise(rng: np.random.Generator) -> dict:
    return {"kind": str(rng.choice(NOISE_KINDS)), "snr_db": _uniform(rng, NOISE_SNR_DB), "crackle_hz": _uniform(rng, CRACKLE_RATE_HZ)}


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise (power ~ 1/f above 20 Hz), shaped in the spectrum."""
    size = scipy.fft.next_fast_len(n, real=True)
    spec = scipy.fft.rfft(rng.standard_normal(size))
    k = np.arange(len(spec), dtype=np.float64)
    spec *= 1.0 / np.sqrt(np.maximum(k, 20.0 * size / 44100.0 + 1.0))
    return scipy.fft.irfft(spec, size)[:n]


def _crackle(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Vinyl-like crackle: clicks at Poisson times, heavy-tailed sizes, each a short decaying noise burst."""
    count = int(rng.poisson(rate_hz * n / sr)) + 1
    impulses = np.zeros(n)
    np.add.at(impulses, rng.integers(0, n, count), rng.lognormal(0.0, 1.0, count) * rng.choice([-1.0, 1.0], count))
    m = max(2, int(CRACKLE_CLICK_S * sr))
    click = rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 4.0))
    return signal.oaconvolve(impulses, click)[:n]


def noise(y: np.ndarray, sr: int, rng: np.random.Generator, *, kind: str | None = None, snr_db: float | None = None, crackle_hz: float | None = None) -> np.ndarray:
    """Added white, pink or crackle noise at ``snr_db`` below the signal's power (or below :data:`NOISE_FLOOR_DBFS`, if louder).

    The result is scaled down when its peak would pass 1.0 (which keeps the signal-to-noise ratio).
    """
    y = _check(y)
    p = _draw_noise(rng)
    kind, snr_db, crackle_hz = _pick(kind, p["kind"]), _pick(snr_db, p["snr_db"]), _pick(crackle_hz, p["crackle_hz"])
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    n = len(y)
    if n == 0:
        return y.copy()
    if kind == "white":
        z = rng.standard_normal(n)
    elif kind == "pink":
        z = _pink(n, rng)
    else:
        z = _crackle(n, sr, crackle_hz, rng)
    power = max(float(np.mean(y.astype(np.float64) ** 2)), 10.0 ** (NOISE_FLOOR_DBFS / 10.0))
    z *= math.sqrt(power / 10.0 ** (snr_db / 10.0) / max(float(np.mean(z**2)), 1e-30))
    return _fit(y + z)


# ----------------------------------------------------------------------------------- dispatch

_TABLE: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "reverb": reverb,
    "eq_tilt": eq_tilt,
    "clip": lambda y, sr, rng: clip(y, rng),
    "master": master,
    "noise": noise,
    "mp3": lambda y, sr, rng: lossy(y, sr, rng, "mp3"),
    "aac": lambda y, sr, rng: lossy(y, sr, rng, "aac"),
}
_DRAWS: dict[str, Callable[[np.random.Generator], dict]] = {
    "reverb": _draw_reverb,
    "eq_tilt": _draw_eq,
    "clip": _draw_clip,
    "master": _draw_master,
    "noise": _draw_noise,
    "mp3": functools.partial(_draw_lossy, codec="mp3"),
    "aac": functools.partial(_draw_lossy, codec="aac"),
}
assert tuple(_TABLE) == DEGRADATIONS == tuple(_DRAWS)


def _check_kind(kind: str) -> None:
    if kind not in _TABLE:
        raise ValueError(f"unknown degradation {kind!r}; allowed: {', '.join(DEGRADATIONS)}")


def degrade(y: np.ndarray, sr: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Apply the degradation ``kind`` (one of :data:`DEGRADATIONS`) with settings drawn from ``rng``."""
    _check_kind(kind)
    return _TABLE[kind](y, sr, rng)


def draw_params(kind: str, rng: np.random.Generator) -> dict:
    """The settings ``degrade(y, sr, kind, rng)`` would use with ``rng`` in this state (it advances ``rng``)."""
    _check_kind(kind)
    return _DRAWS[kind](rng)


def random_degradation(y: np.ndarray, sr: int, rng: np.random.Generator, p: float = 0.3, kinds: Sequence[str] = DEGRADATIONS) -> np.ndarray:
    """A random chain of 0 to :data:`MAX_CHAIN` degradations, for training augmentation.

    Each of ``kinds`` is picked with probability ``p`` (MP3 and AAC count as one, a codec, drawn
    between them); when more than :data:`MAX_CHAIN` are picked a random :data:`MAX_CHAIN` of them
    are kept. They are applied in the order of :data:`DEGRADATIONS`, the order of a release's
    signal chain. Returns float32 audio of the same length, peak <= 1.0.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be within 0..1, got {p}")
    for kind in kinds:
        _check_kind(kind)
    y = _check(y)
    codecs = [k for k in ("mp3", "aac") if k in kinds]
    slots = [k for k in DEGRADATIONS if k in kinds and k not in codecs] + (["codec"] if codecs else [])
    picked = [k for k, u in zip(slots, rng.random(len(slots))) if u < p]
    if len(picked) > MAX_CHAIN:
        keep = set(rng.choice(len(picked), MAX_CHAIN, replace=False).tolist())
        picked = [k for i, k in enumerate(picked) if i in keep]
    for kind in picked:
        if kind == "codec":
            kind = codecs[int(rng.integers(len(codecs)))]
        y = _TABLE[kind](y, sr, rng)
    return _fit(y)
