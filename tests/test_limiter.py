"""mvgen.delivery.limiter: the look-ahead true-peak limiter on signals with known peaks, times and inter-sample crests."""

from __future__ import annotations

import numpy as np
import pytest

from mvgen.delivery.limiter import LOOKAHEAD_MS, RELEASE_DB_PER_S, block_true_peaks, limit_true_peak
from mvgen.delivery.loudness import measure_samples

SR = 48000


def _burst_track(burst_at_s: float = 1.0, burst_ms: float = 10.0) -> np.ndarray:
    """3 s of a 220 Hz sine at -12 dBFS with a Hann-windowed 3 kHz burst peaking near -0.5 dBFS at ``burst_at_s``; stereo ``(2, n)``."""
    t = np.arange(3 * SR) / SR
    x = 0.25 * np.sin(2 * np.pi * 220 * t)
    n_burst = int(burst_ms / 1000 * SR)
    start = int(burst_at_s * SR)
    x[start : start + n_burst] += 0.7 * np.hanning(n_burst) * np.sin(2 * np.pi * 3000 * t[:n_burst])
    return np.stack([x, x]).astype(np.float32)


def test_a_burst_is_held_at_the_ceiling_and_nothing_else_moves(ffmpeg):
    audio = _burst_track()
    ceiling_dbfs = -6.0
    limited = limit_true_peak(audio, SR, 0.0, ceiling_dbfs)
    before = 20 * np.log10(block_true_peaks(audio).max())
    assert limited.reduction_db == pytest.approx(before - ceiling_dbfs, abs=0.05)
    assert 20 * np.log10(block_true_peaks(limited.audio).max()) <= ceiling_dbfs + 0.05
    assert measure_samples(limited.audio, SR).true_peak_dbtp <= ceiling_dbfs + 0.1  # as ffmpeg's BS.1770 meter reads it
    gain = limited.audio[0] / np.where(np.abs(audio[0]) > 1e-3, audio[0], np.nan)
    # the gain only starts down within the look-ahead before the burst (which is under the ceiling for its first ms or so)
    lead = int((1.0 - LOOKAHEAD_MS / 1000 - 0.001) * SR)
    np.testing.assert_allclose(limited.audio[:, :lead], audio[:, :lead], rtol=1e-6)
    assert np.nanmin(gain[lead : int(1.0 * SR)]) < 1.0  # it did start down before the burst: a ramp, not a step
    # and is back to 1 once the release has recovered the reduction (plus the look-ahead's smoothing)
    back = int((1.010 + limited.reduction_db / RELEASE_DB_PER_S + 2 * LOOKAHEAD_MS / 1000 + 0.002) * SR)
    np.testing.assert_allclose(limited.audio[:, back:], audio[:, back:], rtol=1e-6)
    # while releasing the gain recovers at the stated rate, never faster (no pumping back up)
    middle = int((1.010 + 0.5 * limited.reduction_db / RELEASE_DB_PER_S) * SR)
    gain_db = 20 * np.log10(np.nanmedian(gain[middle - 48 : middle + 48]))
    assert -0.5 * limited.reduction_db - 1.5 < gain_db < -0.5 * limited.reduction_db + 1.5


def test_inter_sample_peaks_are_limited():
    """A sine at fs/6 sampled 30 degrees off its crests: the samples are 1.25 dB under the true peak (0 dBTP). A sample-peak limiter at -1 dBFS does nothing; this one takes the true peak down by 1 dB."""
    x = np.cos(2 * np.pi * np.arange(SR) / 6 + np.deg2rad(30)).astype(np.float32)
    audio = np.stack([x, x])
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-1.25, abs=0.01)
    limited = limit_true_peak(audio, SR, 0.0, -1.0)
    assert limited.reduction_db == pytest.approx(1.0, abs=0.05)
    middle = limited.audio[0, SR // 4 : 3 * SR // 4]  # away from the ends, where the oversampling filter sees silence around
    assert 20 * np.log10(np.abs(middle).max()) == pytest.approx(-2.25, abs=0.05)


def test_a_gain_that_keeps_under_the_ceiling_is_exact():
    audio = _burst_track()
    limited = limit_true_peak(audio, SR, -9.0, -6.0)
    assert limited.reduction_db == 0.0
    np.testing.assert_allclose(limited.audio, audio * 10 ** (-9 / 20), rtol=1e-6)
