"""Minimal drum patterns with exactly known beat times, for unit tests of the beat grid.

The full synthetic-music generator (mvgen.synth) is tested and used elsewhere; these patterns keep
the beat tests independent of it.
"""

from __future__ import annotations

import numpy as np

SR = 22050


def kick(sr: int = SR) -> np.ndarray:
    """A pitched house kick (120 -> 50 Hz sweep, 80 ms decay, 3 ms beater click), shape ``(0.25 * sr,)``."""
    t = np.arange(int(0.25 * sr)) / sr
    phase = 2 * np.pi * (50 * t + 70 * (1 - np.exp(-t * 30)) / 30)
    click = np.random.default_rng(1).standard_normal(len(t)) * np.exp(-t / 0.003) * 0.3
    return (np.sin(phase) * np.exp(-t * 12) + click).astype(np.float32)


def hat(sr: int = SR, seed: int = 0) -> np.ndarray:
    """A closed hi-hat: high-passed noise (a second difference), 12 ms decay."""
    n = int(0.05 * sr)
    noise = np.diff(np.random.default_rng(seed).standard_normal(n + 2), n=2) / 2
    return (0.3 * noise * np.exp(-np.arange(n) / sr * 80)).astype(np.float32)


def add_at(y: np.ndarray, sound: np.ndarray, times_s: np.ndarray, sr: int = SR) -> None:
    for t in times_s:
        i = int(round(t * sr))
        if 0 <= i < len(y):
            part = sound[: len(y) - i]
            y[i : i + len(part)] += part


def four_on_the_floor(beats_s: np.ndarray, duration_s: float, sr: int = SR, hats: bool = True, seed: int = 0) -> np.ndarray:
    """Kicks on ``beats_s``, off-beat hats, a little noise; mono float32 of ``duration_s`` seconds."""
    y = np.zeros(int(duration_s * sr), dtype=np.float32)
    add_at(y, kick(sr), beats_s, sr)
    if hats and len(beats_s) > 1:
        half = np.diff(beats_s) / 2
        add_at(y, hat(sr, seed), beats_s[:-1] + half, sr)
    y += 0.01 * np.random.default_rng(seed).standard_normal(len(y)).astype(np.float32)
    return y


def grid(bpm: float, duration_s: float, phase_s: float = 0.3) -> np.ndarray:
    return np.arange(phase_s, duration_s - 0.05, 60.0 / bpm)
