"""DSP building blocks of the synth: pitch, filters, oscillators, envelopes, drive and buses."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from scipy import signal

# --------------------------------------------------------------------------------------------
# DSP building blocks. Audio is float32; a "bus" is (C, n) with row 0 = mid and row 1 = side
# (stereo only), turned into left/right at the very end.


def midi_to_hz(midi: float) -> float:
    """Frequency (Hz) of a MIDI note number in equal temperament, A4 (69) = 440 Hz."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def in_register(pitch_class: int, low: int) -> int:
    """The MIDI note of a pitch class in the octave starting at ``low``."""
    return low + (pitch_class - low) % 12


@functools.lru_cache(maxsize=1024)
def _sos(kind: str, hz: float | tuple[float, float], sr: int, order: int) -> np.ndarray:
    nyq = 0.45 * sr
    if isinstance(hz, tuple):  # keep a band that runs past Nyquist (at low rates) a valid band
        hz = (min(hz[0], 0.8 * nyq), min(hz[1], nyq))
    else:
        hz = min(hz, nyq)
    return signal.butter(order, hz, btype=kind, fs=sr, output="sos")


def butter_filter(x: np.ndarray, kind: str, hz: float | tuple[float, float], sr: int, *, order: int = 2) -> np.ndarray:
    """Butterworth filter of ``x`` (float32, filtered along its last axis): ``kind`` a scipy ``btype``
    (``"lowpass"``, ``"highpass"``, ``"bandpass"`` with ``hz = (low_hz, high_hz)``), cutoffs kept
    under 0.45 ``sr``; a low-pass at or above that returns ``x`` itself. Cutoffs are rounded to
    0.1 Hz so that the cached filter designs are shared."""
    if kind == "lowpass" and hz >= 0.45 * sr:
        return x
    hz = tuple(round(h, 1) for h in hz) if isinstance(hz, tuple) else round(float(hz), 1)
    return signal.sosfilt(_sos(kind, hz, sr, order), x, axis=-1).astype(np.float32)


def sweep_filter(x: np.ndarray, cutoff_hz: np.ndarray, sr: int, *, kind: str = "lowpass", n_bands: int = 6) -> np.ndarray:
    """Time-varying filter (cutoff per sample, shape ``(n,)``) by cross-fading fixed filters.

    Fading between filters an octave or so apart sounds like a moving cutoff at a fraction of the
    cost of a per-sample filter, which numpy could only do in a Python loop.
    """
    lo, hi = float(cutoff_hz.min()), float(cutoff_hz.max())
    if hi / lo < 1.05:
        return butter_filter(x, kind, math.sqrt(lo * hi), sr)
    grid = np.geomspace(lo, hi, n_bands)
    pos = np.interp(np.log(cutoff_hz), np.log(grid), np.arange(n_bands)).astype(np.float32)
    out = np.zeros_like(x)
    for k, hz in enumerate(grid):
        w = np.clip(1.0 - np.abs(pos - k), 0.0, 1.0)
        if w.any():
            out += w * butter_filter(x, kind, float(hz), sr)
    return out


def waveform(phase: np.ndarray, shape: str) -> np.ndarray:
    """Naive oscillator of ``phase`` in cycles; our notes sit low enough that aliasing stays faint."""
    p = phase - np.floor(phase)
    if shape == "saw":
        return 2.0 * p - 1.0
    if shape == "tri":
        return 4.0 * np.abs(p - 0.5) - 1.0
    if shape == "square":
        return np.where(p < 0.5, 1.0, -1.0).astype(np.float32)
    return np.sin(2.0 * np.pi * p)


_GOLDEN = 0.6180339887


def phase_cycles(f_hz: float, n: int, sr: int, bend: np.ndarray | None = None) -> np.ndarray:
    """Phase in cycles, shape ``(n,)`` float64; ``bend`` is a per-sample frequency ratio."""
    if bend is None:
        return np.arange(n, dtype=np.float64) * (f_hz / sr)
    return np.cumsum(f_hz * bend, dtype=np.float64) / sr


def unison(phase: np.ndarray, detune_cents: float, voices: int, width: float, shape: str, channels: int) -> np.ndarray:
    """``voices`` detuned copies of an oscillator spread across the stereo field, shape ``(C, n)``."""
    cents = np.linspace(-detune_cents, detune_cents, voices) if voices > 1 else np.zeros(1)
    ratios = 2.0 ** (cents / 1200.0)
    # Voices start close in phase (like retriggered oscillators): spread evenly they would cancel the
    # fundamental outright until the detuning drifted them apart.
    offsets = (np.arange(voices) * _GOLDEN) % 1.0 * 0.2
    w = waveform((phase[None, :] * ratios[:, None] + offsets[:, None]).astype(np.float32), shape)
    # A louder centre voice keeps the chorus from cancelling whole notes as the voices drift apart.
    w *= np.where(np.abs(cents) < 1e-9, 2.0, 1.0).astype(np.float32)[:, None]
    mid = w.mean(axis=0)
    if channels == 1:
        return mid[None, :]
    # Neighbouring detunings go to opposite sides, the widest voices furthest out.
    pans = width * np.where(np.arange(voices) % 2 == 0, -1.0, 1.0) * np.abs(np.linspace(-1.0, 1.0, voices))
    return np.stack([mid, (pans[:, None] * w).mean(axis=0).astype(np.float32)])


def envelope(n: int, gate: int, sr: int, attack_s: float, decay_s: float | None = None, sustain: float = 0.0) -> np.ndarray:
    """Amplitude envelope of ``n`` samples: attack, exponential decay to ``sustain``, linear release after ``gate``."""
    t = np.arange(n, dtype=np.float32) / sr
    env = np.minimum(1.0, t / attack_s) if attack_s > 0 else np.ones(n, np.float32)
    if decay_s is not None:
        env = env * (sustain + (1.0 - sustain) * np.exp(-t / decay_s))
    if n > gate:
        env[gate:] *= np.linspace(1.0, 0.0, n - gate, dtype=np.float32)
    return env.astype(np.float32)


def filter_envelope(x: np.ndarray, sr: int, lo_hz: float, hi_hz: float, decay_s: float) -> np.ndarray:
    """A cutoff that falls from ``hi_hz`` to ``lo_hz``, as a fade between two filtered copies."""
    dark = butter_filter(x, "lowpass", lo_hz, sr)
    bright = butter_filter(x, "lowpass", hi_hz, sr)
    fade = np.exp(-np.arange(x.shape[-1], dtype=np.float32) / (decay_s * sr))
    return dark + (bright - dark) * fade


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Soft saturation ``tanh(amount * x) / tanh(amount)``, float32: a full-scale peak stays at 1."""
    return (np.tanh(amount * x) / np.tanh(amount)).astype(np.float32)


def mono_bus(x: np.ndarray, channels: int) -> np.ndarray:
    """A centred mono signal as a bus of ``channels`` rows."""
    out = np.zeros((channels, x.shape[-1]), np.float32)
    out[0] = x
    return out


def scatter_hits(bus: np.ndarray, hit: np.ndarray, starts: Sequence[int], gains: Sequence[float], pans: Sequence[float] | None = None) -> None:
    """Add ``hit`` (mono) at each start sample into ``bus`` ((C, n), or (n,) for a send), clipped at its end."""
    bus = bus if bus.ndim == 2 else bus[None, :]
    n = bus.shape[1]
    for i, (s, g) in enumerate(zip(starts, gains)):
        if s >= n or s < 0:
            continue
        part = hit[: n - s]
        bus[0, s : s + len(part)] += g * part
        if pans is not None and bus.shape[0] > 1:
            bus[1, s : s + len(part)] += g * pans[i] * part
