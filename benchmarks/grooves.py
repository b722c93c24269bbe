"""Grooves with misleading accents, built by mixing extra hits into rendered synthetic house.

The synth's house tracks put a kick on every beat and change chords on the bar, which makes the
beat and bar phase easy. Real songs are not so kind: a reggae skank or an off-beat bass can be
louder than the kick, a snare fill or a pickup leads into the bar, chords change a beat early.
Each variant here takes a synth render (audio and :class:`~mvgen.synth.SynthTruth`) and mixes one
such element into it at times derived from the true beats, so the reference beats and downbeats
stay exact. Used by ``bench_analysis.py --grooves`` and by ``tests/test_beats.py``.

Levels are relative to the render's own peak, so "louder than the kick" holds whatever the
master gain: the added hits peak at ``level`` times the render's peak before the mix is
renormalized to the render's peak.
"""

from __future__ import annotations

import numpy as np

#: The variants of :func:`mix_variant`: what each adds, and what it is meant to mislead.
VARIANTS = {
    "offbeat_bass": "a sub-bass note on every off-beat, louder than the kick (misleads the beat phase in the low band)",
    "offbeat_skank": "a bright chord chop on every off-beat, louder than the kick (misleads the broadband and clap band)",
    "offbeat_both": "both of the above (the reggae/80s-rock worst case: everything loud sits between the kicks)",
    "pickup": "a loud 16th-note snare fill on the last beat of every bar, into the downbeat (misleads the bar phase)",
    "chord_ahead": "a loud pad whose chord changes one beat before every bar (misleads the harmonic bar cue)",
    "accent_three": "a loud crash-and-tom accent on beat 3 of every bar (misleads the accent cue)",
}


def _hit(sr: int, n_s: float, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(int(n_s * sr)) / sr
    return np.minimum(t / attack_s, 1.0) * np.exp(-t / decay_s)


def sub_bass(sr: int, hz: float = 65.0) -> np.ndarray:
    """A round sub-bass note (sine plus a little second harmonic), 5 ms attack, 120 ms decay, shape ``(0.3 * sr,)``."""
    t = np.arange(int(0.3 * sr)) / sr
    return (np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(4 * np.pi * hz * t)) * _hit(sr, 0.3, 0.005, 0.12)


def chord_chop(sr: int, root_hz: float = 330.0) -> np.ndarray:
    """A short bright major-triad chop (odd-harmonic square-ish tones), 60 ms decay, shape ``(0.2 * sr,)``."""
    t = np.arange(int(0.2 * sr)) / sr
    tone = sum(np.sin(2 * np.pi * root_hz * r * k * t) / k for r in (1.0, 1.26, 1.5) for k in (1, 3, 5, 7))
    return tone * _hit(sr, 0.2, 0.002, 0.06)


def snare(sr: int, seed: int = 0) -> np.ndarray:
    """A snare: a 190 Hz body and band-limited noise, 2 ms attack, 90 ms decay, shape ``(0.25 * sr,)``."""
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = np.diff(np.random.default_rng(seed).standard_normal(n + 1))
    return (0.6 * np.sin(2 * np.pi * 190.0 * t) + 0.7 * noise) * _hit(sr, 0.25, 0.002, 0.09)


def crash(sr: int, seed: int = 1) -> np.ndarray:
    """A crash with a low tom under it: bright noise with a 600 ms tail and a 90 Hz body, shape ``(0.8 * sr,)``."""
    n = int(0.8 * sr)
    t = np.arange(n) / sr
    noise = np.diff(np.random.default_rng(seed).standard_normal(n + 2), n=2) / 2
    return noise * _hit(sr, 0.8, 0.001, 0.6) + 1.2 * np.sin(2 * np.pi * 90.0 * t) * _hit(sr, 0.8, 0.003, 0.15)


def pad_chord(sr: int, n: int, root_hz: float) -> np.ndarray:
    """A sustained minor-triad pad (three detuned saw-ish tones, 20 ms fade in/out), ``n`` samples."""
    t = np.arange(n) / sr
    tone = sum(np.sin(2 * np.pi * root_hz * r * k * t * (1 + d)) / k for r in (1.0, 1.19, 1.5) for k in (1, 2, 3, 4) for d in (-0.002, 0.002))
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    return tone * fade


def _add(y: np.ndarray, sound: np.ndarray, times_s: np.ndarray, sr: int) -> None:
    for t in times_s:
        i = int(round(t * sr))
        if 0 <= i < len(y):
            part = sound[: len(y) - i]
            y[i : i + len(part)] += part


def _scaled(sound: np.ndarray, peak: float) -> np.ndarray:
    return sound * (peak / max(float(np.max(np.abs(sound))), 1e-12))


def mix_variant(y: np.ndarray, beats_s: np.ndarray, downbeats_s: np.ndarray, sr: int, variant: str, level: float = 1.0) -> np.ndarray:
    """Mono ``y`` (shape ``(n,)``) with the element of ``variant`` (see :data:`VARIANTS`) mixed in.

    ``beats_s``/``downbeats_s``: the render's true beats and downbeats (s); off-beats are midway
    between beats. ``level``: the added element's peak over the render's peak. Returns float32 of
    the same shape and peak as ``y``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown groove variant {variant!r}; choose from {', '.join(VARIANTS)}")
    peak = float(np.max(np.abs(y))) or 1.0
    extra = np.zeros(len(y), np.float64)
    beats = np.asarray(beats_s, np.float64)
    period_s = float(np.median(np.diff(beats)))
    offbeats = beats + period_s / 2
    if variant in ("offbeat_bass", "offbeat_both"):
        _add(extra, _scaled(sub_bass(sr), level * peak), offbeats, sr)
    if variant in ("offbeat_skank", "offbeat_both"):
        _add(extra, _scaled(chord_chop(sr), level * peak), offbeats, sr)
    downbeats = np.asarray(downbeats_s, np.float64)
    if variant == "pickup":
        # Four 16ths rising to full level on the beat before each downbeat.
        hit = _scaled(snare(sr), level * peak)
        for k, gain in enumerate((0.55, 0.7, 0.85, 1.0)):
            _add(extra, gain * hit, downbeats - period_s + k * period_s / 4, sr)
    if variant == "accent_three":
        _add(extra, _scaled(crash(sr), level * peak), downbeats + 2 * period_s, sr)
    if variant == "chord_ahead":
        # One bar per chord of a four-chord loop, each starting on beat 4 of the bar before.
        roots_hz = (220.0, 174.6, 261.6, 196.0)
        bar_s = 4 * period_s
        for k, d in enumerate(downbeats):
            start = max(d - period_s, 0.0)
            n = int(round(bar_s * sr))
            i = int(round(start * sr))
            chord = _scaled(pad_chord(sr, n, roots_hz[k % 4]), 0.5 * level * peak)[: max(len(y) - i, 0)]
            extra[i : i + len(chord)] += chord
    out = y.astype(np.float64) + extra
    return (out * (peak / max(float(np.max(np.abs(out))), 1e-12))).astype(np.float32)
