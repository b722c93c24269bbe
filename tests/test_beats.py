"""Beat-grid fitting on drum patterns with exactly known beats."""

import mir_eval
import numpy as np
import pytest

from mvgen.beats import track_beats
from mvgen.features import frame_features
from tests.patterns import SR, four_on_the_floor, grid


def _track(y):
    return track_beats(frame_features(y, SR), len(y) / SR)


def _f_measure(reference, estimated):
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference)), mir_eval.beat.trim_beats(np.asarray(estimated)))


@pytest.mark.parametrize("bpm", [100.0, 118.5, 126.0, 140.0, 150.2, 174.0, 180.0])
def test_fixed_tempo_grid_is_exact(bpm):
    reference = grid(bpm, 60.0, phase_s=0.37)
    result = _track(four_on_the_floor(reference, 60.0))
    assert result.tempo_bpm == pytest.approx(bpm, rel=5e-4)
    assert _f_measure(reference, result.beats_s) == 1.0
    # Every beat of the grid sits within 10 ms of the true kick.
    nearest = np.abs(result.beats_s[:, None] - reference[None, :]).min(axis=1)
    assert nearest.max() < 0.010


def test_follows_a_tempo_change():
    first = grid(124.0, 60.0, phase_s=0.2)
    second = first[-1] + 60.0 / 124.0 + np.arange(0, 60.0, 60.0 / 132.0)
    reference = np.concatenate([first, second[second < 119.9]])
    result = _track(four_on_the_floor(reference, 120.0))
    assert [round(s.bpm) for s in result.segments] == [124, 132]
    assert _f_measure(reference, result.beats_s) >= 0.95


def test_half_time_passage_keeps_the_grid():
    reference = grid(128.0, 90.0)
    # From 30 s to 60 s the kick plays only every other beat (half time).
    played = reference[(reference < 30.0) | (reference >= 60.0) | (np.arange(len(reference)) % 2 == 0)]
    result = _track(four_on_the_floor(played, 90.0, hats=False))
    assert result.tempo_bpm == pytest.approx(128.0, rel=1e-3)
    assert _f_measure(reference, result.beats_s) >= 0.95


def test_beatless_audio_has_no_beats():
    rng = np.random.default_rng(3)
    t = np.arange(30 * SR) / SR
    # A slowly swelling chord over soft noise: no pulse at all.
    y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.5 + 0.4 * np.sin(2 * np.pi * 0.05 * t))
    y = (0.2 * y + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
    result = _track(y)
    assert result.tempo_bpm is None
    assert len(result.beats_s) == 0
    assert result.warnings


def test_no_grid_over_trailing_silence():
    reference = grid(125.0, 40.0)
    y = np.concatenate([four_on_the_floor(reference, 40.0), np.zeros(10 * SR, np.float32)])
    result = _track(y)
    assert result.beats_s.max() < 40.5
