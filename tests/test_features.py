"""Frame features: filterbanks equal librosa's; levels read as dBFS; block processing is seamless."""

import librosa
import numpy as np
import pytest

from mvgen.analysis.beats import beat_chroma
from mvgen.features import HOP, N_FFT, chroma_filterbank, frame_features, mel_filterbank

SR = 22050


def test_mel_filterbank_equals_librosa():
    ours, centres = mel_filterbank(SR, N_FFT, 64, 30.0, SR / 2)
    theirs = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=64, fmin=30.0, fmax=SR / 2)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(centres, librosa.mel_frequencies(66, fmin=30.0, fmax=SR / 2)[1:-1])


@pytest.mark.parametrize("midi, pitch_class", [(57, 9), (60, 0), (67, 7), (46, 10)])
def test_chroma_of_a_tone_peaks_at_its_pitch_class(midi, pitch_class):
    t = np.arange(SR) / SR
    y = np.sin(2 * np.pi * librosa.midi_to_hz(midi) * t).astype(np.float32)
    chroma = beat_chroma(y, SR, np.array([0.1, 0.5]))
    assert np.argmax(chroma[0]) == pitch_class
    assert chroma_filterbank(SR, 4096).shape == (12, 2049)


@pytest.mark.parametrize("level_db", [0.0, -20.0])
def test_rms_reads_dbfs(level_db):
    t = np.arange(3 * SR) / SR
    y = (10 ** (level_db / 20) * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)
    features = frame_features(y, SR)
    assert np.median(features.rms_db) == pytest.approx(level_db, abs=0.3)
    assert np.median(features.mid_db) == pytest.approx(level_db, abs=0.3)
    assert np.median(features.low_db) < level_db - 40


def test_blocks_are_seamless():
    # 2 minutes spans several 4096-frame blocks; a steady click train must give the same onset
    # strength at every click, whichever block it falls in.
    # Clicks sit on frame centres so that each one looks the same to the STFT.
    y = np.zeros(120 * SR, np.float32)
    click_frames = np.arange(20, (len(y) - N_FFT) // HOP, 43)
    y[click_frames * HOP] = 1.0
    features = frame_features(y, SR)
    assert features.n_frames == 1 + len(y) // HOP
    at_clicks = np.array([features.onset[f - 1 : f + 2].max() for f in click_frames])
    assert at_clicks.std() / at_clicks.mean() < 1e-3


def test_detail_is_seamless_across_blocks_and_leaves_the_other_features_alone():
    # The detail's harmonic median reaches 8 frames into the neighbouring blocks: a steady click
    # train gives the same drum-band flux at every click, whichever block it falls in.
    y = np.zeros(120 * SR, np.float32)
    click_frames = np.arange(20, (len(y) - N_FFT) // HOP, 43)
    y[click_frames * HOP] = 1.0
    plain, features = frame_features(y, SR), frame_features(y, SR, detail=True)
    assert plain.detail is None and np.array_equal(plain.onset, features.onset) and np.array_equal(plain.rms_db, features.rms_db)
    detail = features.detail
    for flux in (detail.kick_flux, detail.snare_flux, detail.hats_flux):
        at_clicks = np.array([flux[f - 1 : f + 2].max() for f in click_frames])
        assert at_clicks.mean() > 0.1 and at_clicks.std() / at_clicks.mean() < 1e-3
    assert detail.band_power.shape == (features.n_frames, 5)
