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


@dataclass(frozen=True)
class FrameFeatures:
    """Per-frame features on a grid of ``hop_s`` seconds; frame ``n`` is centred at ``n * hop_s``.

    onset, onset_low, onset_mid, onset_high: spectral flux of log-mel bands, full band / kick band /
        clap band / hat band,
        shape ``(T,)``, >= 0, in log-magnitude units per frame.
    rms_db, low_db, mid_db, high_db: frame energy in dB (0 dB = full-scale sine), shape ``(T,)``.
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


def frame_features(y: np.ndarray, sr: int = ANALYSIS_SR) -> FrameFeatures:
    """Compute :class:`FrameFeatures` of mono audio ``y`` (shape ``(n,)``, float32) at ``sr`` Hz."""
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
    prev_log_mel = None
    pad = N_FFT // 2
    for f0 in range(0, n_frames, _BLOCK_FRAMES):
        f1 = min(n_frames, f0 + _BLOCK_FRAMES)
        s0, s1 = f0 * HOP - pad, (f1 - 1) * HOP + pad
        seg = np.zeros(s1 - s0, dtype=np.float32)
        a, b = max(s0, 0), min(s1, len(y))
        if b > a:
            seg[a - s0 : b - s0] = y[a:b]
        frames = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP][: f1 - f0]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (frames, bins)
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
    )
