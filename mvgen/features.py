"""Frame-level spectral features shared by beat tracking and structure analysis.

Everything is computed block by block, so a 1-hour mix never needs its whole spectrogram in
memory: only the small per-frame feature arrays (a few floats per 11.6 ms frame) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Analysis sample rate (Hz) and STFT settings; hop 256 at 22050 Hz is 11.6 ms per frame.
ANALYSIS_SR = 22050
N_FFT = 1024
HOP = 256
N_MELS = 64
_BLOCK_FRAMES = 4096  # about 48 s of audio per block
# Band edges (Hz): kick/sub, claps/snares/vocals, hats/cymbals.
LOW_HZ = (30.0, 150.0)
MID_HZ = (1000.0, 5000.0)
HIGH_HZ = (6000.0, 11025.0)
#: Band edges (Hz) of :attr:`DetailFrames.band_power`: sub, low, mid, high and air (see mvgen.analysis.reactive).
DETAIL_BANDS_HZ: tuple[tuple[float, float], ...] = ((0.0, 60.0), (60.0, 250.0), (250.0, 2000.0), (2000.0, 8000.0), (8000.0, np.inf))
#: Harmonic/percussive separation of the power spectrogram (Fitzgerald 2010, "Harmonic/percussive
#: separation using median filtering"): the harmonic part is the median over this many frames
#: (about 200 ms, longer than a drum hit's attack, shorter than a held note; taken over every
#: second frame of the span, 9 values), the percussive part the median over this many frequency
#: rows (a drum hit is broadband, a note a few rows). Both are of the form 8 k + 1 (see _running_median9).
HPSS_TIME_FRAMES = 17
HPSS_FREQ_ROWS = 9
#: The percussive part must exceed the harmonic part this many times to count fully (the margin of
#: Driedger, Mueller and Disch 2014): a note's attack is a little percussive, a drum hit very.
#: Below HPSS_LINEAR_BELOW_HZ, where bass and chord notes put most of their power, the margin is
#: larger; above it a clap's or hat's noise is less percussive against a steady pad than a kick.
HPSS_MARGIN_LOW = 4.0
HPSS_MARGIN_HIGH = 2.0
#: Band (Hz) of the kick's onset in :attr:`DetailFrames.kick_flux`: where a kick's pitch sweep starts
#: (85-450 Hz in the synth's recipes, as in real kicks) and bass lines have little of their power,
#: which sits at their fundamental (40-80 Hz), so rolling bass notes do not read as kicks.
KICK_HZ = (80.0, 200.0)
#: Band (Hz) of the hi-hats' onset in :attr:`DetailFrames.hats_flux`.
HATS_HZ = (7000.0, 11025.0)
#: Lowest frequency (Hz) of the separation's rows counted as "above the bass" in the lead measure.
ABOVE_BASS_HZ = 250.0
#: The separation runs on FFT bins below this frequency (Hz) and on mel bands above it: there a
#: mel band spans several bins and would merge a bass note's harmonics into one broadband blur,
#: while bin by bin a note is a few peaks and a kick's pitch sweep a smear (Fitzgerald's criterion).
HPSS_LINEAR_BELOW_HZ = 500.0
#: Gain before the log compression of the percussive power, rising with frequency as
#: ``(f / PERCUSSIVE_BOOST_HZ) ** 2`` up to :data:`PERCUSSIVE_BOOST_MAX`: mixes have far less power in
#: the clap and hat bands than in the kick band, and without it log1p would be nearly linear (and
#: the flux nearly zero) there, while more gain in the kick band would turn its small ripples into flux.
PERCUSSIVE_BOOST_HZ = 150.0
PERCUSSIVE_BOOST_MAX = 1e3
# The K-weighting of ITU-R BS.1770-4: its two biquads as the standard gives them at 48 kHz (the
# +4 dB high shelf, then the RLB high-pass), applied as a power weight per FFT bin.
_K_WEIGHTING_SR = 48000
_K_BIQUADS = (
    ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585)),
    ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621)),
)


@dataclass(frozen=True)
class DetailFrames:
    """The per-frame raw material of :mod:`mvgen.analysis.reactive`'s audio features, on the same grid as
    :class:`FrameFeatures`; powers are relative to a full-scale sine (1.0 = 0 dBFS).

    band_power: power in the :data:`DETAIL_BANDS_HZ`, shape ``(T, 5)``.
    k_power: K-weighted power of the frame (BS.1770 weighting), shape ``(T,)``.
    kick_flux, snare_flux, hats_flux: spectral flux of the *percussive* part of the log power
        (harmonic/percussive separation by median filtering) in the kick (:data:`KICK_HZ`), clap
        (:data:`MID_HZ`) and hat (:data:`HATS_HZ`) bands, shape ``(T,)``, >= 0, log units per frame.
    harmonic_power, percussive_power: power of the harmonic and percussive parts above
        :data:`ABOVE_BASS_HZ`, shape ``(T,)``.

    The separation runs on rows of FFT bins below :data:`HPSS_LINEAR_BELOW_HZ` and of mel bands
    above it.
    """

    band_power: np.ndarray
    k_power: np.ndarray
    kick_flux: np.ndarray
    snare_flux: np.ndarray
    hats_flux: np.ndarray
    harmonic_power: np.ndarray
    percussive_power: np.ndarray


@dataclass(frozen=True)
class FrameFeatures:
    """Per-frame features on a grid of ``hop_s`` seconds; frame ``n`` is centred at ``n * hop_s``.

    onset, onset_low, onset_mid, onset_high: spectral flux of log-mel bands, full band / kick band /
        clap band / hat band,
        shape ``(T,)``, >= 0, in log-magnitude units per frame.
    rms_db, low_db, mid_db, high_db: frame energy in dB (0 dB = full-scale sine), shape ``(T,)``.
    detail: the raw material of the audio features of :mod:`mvgen.analysis.reactive`, when asked for.
    """

    sr: int
    hop_s: float
    onset: np.ndarray
    onset_low: np.ndarray
    onset_mid: np.ndarray
    onset_high: np.ndarray
    rms_db: np.ndarray
    low_db: np.ndarray
    mid_db: np.ndarray
    high_db: np.ndarray
    detail: DetailFrames | None = None

    @property
    def n_frames(self) -> int:
        return int(self.onset.shape[0])

    def times_s(self) -> np.ndarray:
        """Frame centres in seconds, shape ``(T,)``."""
        return np.arange(self.n_frames) * self.hop_s


def _band_mask(freqs_hz: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
    return (freqs_hz >= band_hz[0]) & (freqs_hz < band_hz[1])


def _to_db(power: np.ndarray) -> np.ndarray:
    return (10.0 * np.log10(np.maximum(power, 1e-10))).astype(np.float32)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale (as librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


# The two filterbanks below equal librosa.filters.mel / .chroma (tests compare them) but are written
# out because importing librosa.filters (and scipy.signal with it) takes longer than the whole analysis.
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Slaney-normalized triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``, and band centres (Hz)."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    lower = (fft_hz[None, :] - edges_hz[:-2, None]) / np.diff(edges_hz)[:-1, None]
    upper = (edges_hz[2:, None] - fft_hz[None, :]) / np.diff(edges_hz)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32), edges_hz[1:-1]


def chroma_filterbank(sr: int, n_fft: int, fmin_hz: float = 55.0, fmax_hz: float = 4000.0) -> np.ndarray:
    """Pitch-class weights of FFT bins, shape ``(12, n_fft // 2 + 1)``; row 0 is C.

    Each bin between ``fmin_hz`` and ``fmax_hz`` adds to its pitch class with a Gaussian weight of
    its distance (in semitones) from the nearest equal-tempered pitch.
    """
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    valid = (fft_hz >= fmin_hz) & (fft_hz <= fmax_hz)
    midi = 69.0 + 12.0 * np.log2(np.maximum(fft_hz, 1e-9) / 440.0)
    nearest = np.round(midi)
    weight = np.exp(-0.5 * ((midi - nearest) / 0.3) ** 2) * valid
    fb = np.zeros((12, len(fft_hz)), dtype=np.float32)
    fb[nearest.astype(int) % 12, np.arange(len(fft_hz))] = weight
    return fb


def _k_weights(fft_hz: np.ndarray) -> np.ndarray:
    """Power gain of the K-weighting at each FFT bin, shape ``(bins,)``."""
    z1 = np.exp(-2j * np.pi * np.asarray(fft_hz, dtype=np.float64) / _K_WEIGHTING_SR)  # z^-1 on the unit circle
    gain = np.ones(len(z1))
    for b, a in _K_BIQUADS:
        gain *= np.abs((b[0] + b[1] * z1 + b[2] * z1**2) / (a[0] + a[1] * z1 + a[2] * z1**2)) ** 2
    return gain


# Devillard's median-of-9 sorting network (19 compare-exchanges): on whole arrays, several times
# faster than np.partition over a sliding-window view, which copies every window.
_MEDIAN9_NETWORK = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
                    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))


def _median9(values: list[np.ndarray]) -> np.ndarray:
    """Element-wise median of 9 arrays of one shape."""
    p = list(values)
    for i, j in _MEDIAN9_NETWORK:
        p[i], p[j] = np.minimum(p[i], p[j]), np.maximum(p[i], p[j])
    return p[4]


def _running_median9(x: np.ndarray, span: int, axis: int) -> np.ndarray:
    """Median of 9 values evenly spread over ``span`` (odd, ``8 k + 1``) neighbours along ``axis`` of a
    2-D array padded by ``span // 2`` at both ends of ``axis``; the result is shorter by ``span - 1`` there."""
    step, n = (span - 1) // 8, x.shape[axis] - (span - 1)
    return _median9([np.take(x, np.arange(k * step, k * step + n), axis=axis) for k in range(9)])


class _Detail:
    """Accumulates :class:`DetailFrames` block by block (see :func:`frame_features`)."""

    def __init__(self, n_frames: int, fft_hz: np.ndarray, mel_fb: np.ndarray, mel_hz: np.ndarray, full_scale: float, log_scale: float):
        self.full_scale = full_scale
        weights = [_band_mask(fft_hz, band).astype(np.float64) for band in DETAIL_BANDS_HZ] + [_k_weights(fft_hz)]
        self.weights = (np.stack(weights, axis=1) / full_scale).astype(np.float32)  # (bins, 6)
        # The separation's filterbank: FFT bins below HPSS_LINEAR_BELOW_HZ, mel bands above.
        linear = fft_hz < HPSS_LINEAR_BELOW_HZ
        high_mels = mel_hz >= HPSS_LINEAR_BELOW_HZ
        self.bank = np.concatenate([np.eye(len(fft_hz), dtype=np.float32)[linear], mel_fb[high_mels]]).T  # (bins, rows)
        row_hz = np.concatenate([fft_hz[linear], mel_hz[high_mels]])
        self.margin2 = np.where(row_hz < HPSS_LINEAR_BELOW_HZ, HPSS_MARGIN_LOW, HPSS_MARGIN_HIGH).astype(np.float32) ** 2
        self.kick, self.snare, self.hats = (_band_mask(row_hz, band) for band in (KICK_HZ, MID_HZ, HATS_HZ))
        self.above_bass = row_hz >= ABOVE_BASS_HZ
        self.log_scale = (log_scale * np.clip((row_hz / PERCUSSIVE_BOOST_HZ) ** 2, 1.0, PERCUSSIVE_BOOST_MAX)).astype(np.float32)
        self.out = {k: np.zeros(n_frames, dtype=np.float32) for k in ("k_power", "kick_flux", "snare_flux", "hats_flux", "harmonic_power", "percussive_power")}
        self.band_power = np.zeros((n_frames, len(DETAIL_BANDS_HZ)), dtype=np.float32)
        self.prev_log = None

    def add(self, f0: int, power_ctx: np.ndarray, before: int, after: int) -> None:
        """Frames ``f0 ..``: their power spectra with ``before`` / ``after`` neighbouring frames on each
        side, ``power_ctx`` shape (before + frames + after, bins)."""
        power = power_ctx[before : len(power_ctx) - after]
        f1 = f0 + len(power)
        rows_ctx = power_ctx.astype(np.float32) @ self.bank  # (before + frames + after, rows)
        sums = power.astype(np.float32) @ self.weights
        self.band_power[f0:f1] = sums[:, : len(DETAIL_BANDS_HZ)]
        self.out["k_power"][f0:f1] = sums[:, -1]
        half_t, half_f = HPSS_TIME_FRAMES // 2, HPSS_FREQ_ROWS // 2
        # Pad to the full median context: edge frames where the track ends, none inside it.
        padded = np.pad(rows_ctx, ((half_t - before, half_t - after), (0, 0)), mode="edge")
        harmonic = _running_median9(padded, HPSS_TIME_FRAMES, axis=0)
        core = rows_ctx[before : before + len(power)]
        percussive = _running_median9(np.pad(core, ((0, 0), (half_f, half_f)), mode="edge"), HPSS_FREQ_ROWS, axis=1)
        h2, p2 = harmonic * harmonic, percussive * percussive
        mask = p2 / np.maximum(self.margin2 * h2 + p2, 1e-20)  # Wiener-like soft mask of the percussive part
        perc = core * mask
        harm = core - perc
        self.out["harmonic_power"][f0:f1] = harm[:, self.above_bass].sum(axis=1) / self.full_scale
        self.out["percussive_power"][f0:f1] = perc[:, self.above_bass].sum(axis=1) / self.full_scale
        log_perc = np.log1p(perc * self.log_scale)
        first = log_perc[:1] if self.prev_log is None else self.prev_log
        flux = np.maximum(np.diff(log_perc, axis=0, prepend=first), 0.0)
        self.out["kick_flux"][f0:f1] = flux[:, self.kick].mean(axis=1)
        self.out["snare_flux"][f0:f1] = flux[:, self.snare].mean(axis=1)
        self.out["hats_flux"][f0:f1] = flux[:, self.hats].mean(axis=1)
        self.prev_log = log_perc[-1:]

    def frames(self) -> DetailFrames:
        return DetailFrames(band_power=self.band_power, **self.out)


def frame_features(y: np.ndarray, sr: int = ANALYSIS_SR, *, detail: bool = False) -> FrameFeatures:
    """Compute :class:`FrameFeatures` of mono audio ``y`` (shape ``(n,)``, float32) at ``sr`` Hz;
    ``detail=True`` adds :class:`DetailFrames` (the audio features' raw material) from the same STFT."""
    if y.ndim != 1:
        raise ValueError(f"y must be mono with shape (n,), got shape {y.shape}")
    n_frames = 1 + len(y) // HOP
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    # Summed rfft power of a full-scale sine (Parseval), so that dB figures read as dBFS.
    full_scale = N_FFT * float(np.sum(window.astype(np.float64) ** 2)) / 4.0
    mel_fb, mel_hz = mel_filterbank(sr, N_FFT, N_MELS, 30.0, sr / 2)
    fft_hz = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    bins = {name: _band_mask(fft_hz, band) for name, band in (("low", LOW_HZ), ("mid", MID_HZ), ("high", HIGH_HZ))}
    mel_low = _band_mask(mel_hz, (0.0, LOW_HZ[1]))
    mel_mid = _band_mask(mel_hz, MID_HZ)
    mel_high = _band_mask(mel_hz, HIGH_HZ)
    # Scale so that the log compression treats quiet and loud masters alike.
    # Accumulated block-wise: a float64 square of a 1-hour mix would double its memory.
    energy = sum(float(np.dot(y[i : i + 2**20], y[i : i + 2**20])) for i in range(0, len(y), 2**20))
    level = float(np.sqrt(energy / max(len(y), 1)))
    gain = 1.0 / max(level, 1e-4)

    out = {k: np.zeros(n_frames, dtype=np.float32) for k in ("onset", "onset_low", "onset_mid", "onset_high", "rms", "low", "mid", "high")}
    details = _Detail(n_frames, fft_hz, mel_fb, mel_hz, full_scale, gain**2 / full_scale * 1e3) if detail else None
    # The harmonic median needs this many frames of context on each side of a block.
    context = HPSS_TIME_FRAMES // 2 if detail else 0
    prev_log_mel = None
    pad = N_FFT // 2
    for f0 in range(0, n_frames, _BLOCK_FRAMES):
        f1 = min(n_frames, f0 + _BLOCK_FRAMES)
        g0, g1 = max(0, f0 - context), min(n_frames, f1 + context)
        s0, s1 = g0 * HOP - pad, (g1 - 1) * HOP + pad
        seg = np.zeros(s1 - s0, dtype=np.float32)
        a, b = max(s0, 0), min(s1, len(y))
        if b > a:
            seg[a - s0 : b - s0] = y[a:b]
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP][: g1 - g0]
        power_ctx = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (frames, bins)
        power = power_ctx[f0 - g0 : f1 - g0]
        if details is not None:
            details.add(f0, power_ctx, f0 - g0, g1 - f1)
        for name, mask in bins.items():
            out[name][f0:f1] = power[:, mask].sum(axis=1) / full_scale
        out["rms"][f0:f1] = power.sum(axis=1) / full_scale
        log_mel = np.log1p(power.astype(np.float32) @ mel_fb.T * (gain**2 / full_scale) * 1e3)  # (frames, mels)
        first = log_mel[:1] if prev_log_mel is None else prev_log_mel
        flux = np.maximum(np.diff(log_mel, axis=0, prepend=first), 0.0)
        out["onset"][f0:f1] = flux.mean(axis=1)
        out["onset_low"][f0:f1] = flux[:, mel_low].mean(axis=1)
        out["onset_mid"][f0:f1] = flux[:, mel_mid].mean(axis=1)
        out["onset_high"][f0:f1] = flux[:, mel_high].mean(axis=1)
        prev_log_mel = log_mel[-1:]

    return FrameFeatures(
        sr=sr,
        hop_s=HOP / sr,
        onset=out["onset"],
        onset_low=out["onset_low"],
        onset_mid=out["onset_mid"],
        onset_high=out["onset_high"],
        rms_db=_to_db(out["rms"]),
        low_db=_to_db(out["low"]),
        mid_db=_to_db(out["mid"]),
        high_db=_to_db(out["high"]),
        detail=None if details is None else details.frames(),
    )
