"""The DBN decoder that benchmarks/bench_beats_oof.py compares with mvgen's grid fit (madmom's model)."""

from __future__ import annotations

import numpy as np

from benchmarks.beat_dbn import dbn_beats

HOP_S = 256 / 22050


def _activation(beats_s: np.ndarray, n_frames: int, *, seed: int, eighth: float = 0.05) -> np.ndarray:
    """A network-like activation: 0.9 on each beat's frame, ``eighth`` half-way between beats, noise below 0.1.
    It ends less than a beat after the last beat (the model has no state without a beat: a DBN goes on
    beating through a silent tail)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.1, n_frames)
    p[np.round(beats_s / HOP_S).astype(int)] = 0.9
    p[np.round((beats_s[:-1] + beats_s[1:]) / 2 / HOP_S).astype(int)] = eighth
    return p


def test_follows_a_steady_beat_and_keeps_its_level():
    beats = np.arange(0.5, 30.0, 60.0 / 100.0)  # 100 bpm, eighth notes at 0.05 between (as madmom's RNN)
    found = dbn_beats(_activation(beats, int(30.2 / HOP_S), seed=0), HOP_S)
    assert len(found) == len(beats)
    assert np.max(np.abs(found - beats)) <= HOP_S * 0.51 + 1e-9  # each on its beat's frame


def test_follows_a_tempo_change():
    """100 bpm, then 130 bpm from 20 s: a tempo change is the DBN's strength (a constant grid breaks there)."""
    first = np.arange(0.4, 20.0, 0.6)
    second = first[-1] + np.arange(1, 60) * 60.0 / 130.0
    beats = np.concatenate([first, second[second < 44.0]])
    found = dbn_beats(_activation(beats, int(44.0 / HOP_S), seed=1), HOP_S)
    assert len(found) == len(beats)
    assert np.max(np.abs(found - beats)) <= HOP_S * 0.51 + 1e-9


def test_eighth_notes_the_network_half_believes_double_the_tempo():
    """Why the DBN loses on mvgen's activations: its beat states are a fixed share of every period, so each
    beat adds log(p) - log((1 - p) / 15), positive down to p = 0.0625. mvgen's network gives a ballad's eighth
    notes 0.3 (it hears them as possible beats): the DBN then reads 200 bpm; only a tempo range keeps 100."""
    beats = np.arange(0.5, 30.0, 0.6)
    activation = _activation(beats, int(30.2 / HOP_S), seed=2, eighth=0.3)
    found = dbn_beats(activation, HOP_S)
    assert abs(60.0 / np.median(np.diff(found)) - 200.0) < 4.0
    held = dbn_beats(activation, HOP_S, max_bpm=150.0)
    assert len(held) == len(beats) and np.max(np.abs(held - beats)) <= HOP_S * 0.51 + 1e-9


def test_too_short_for_two_periods_gives_no_beats():
    assert dbn_beats(np.full(100, 0.5), HOP_S).size == 0
