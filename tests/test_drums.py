"""The drum-onset detector (mvgen.analysis.drums): numpy inference against its torch twin (models/build/drums.py),
the bundled model's files, and activations that peak on a synth track's known hits and rest between them."""

from __future__ import annotations

import numpy as np
import pytest

from mvgen import synth
from mvgen.analysis.drums import DRUM_EVENTS, DRUMS, DrumConfig, DrumDetector, drum_model_dir, load_drum_detector, log_mel
from mvgen.errors import MvgenError
from tests.torch_twins import randomize_state
from mvgen.features import ANALYSIS_SR, HOP

HOP_S = HOP / ANALYSIS_SR


def test_numpy_inference_equals_torch_model():
    torch = pytest.importorskip("torch")
    from models.build.drums import torch_model  # the twin is build-only, outside the package

    config = DrumConfig(n_mels=12, channels=[7, 5], kernel=3, dilations=[1, 3])
    model = torch_model(config)
    randomize_state(model, np.random.default_rng(0))
    model.eval()
    state = {k: v.numpy() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    spec = np.random.default_rng(1).normal(-5, 2, (300, config.n_mels)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(spec.T[None].copy()))[0].numpy().T
    got = DrumDetector(config, state).logits(spec)
    assert got.shape == (300, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def test_log_mel_is_on_the_analysis_grid_and_level_free():
    config = DrumConfig()
    y = np.random.default_rng(2).normal(0, 0.1, ANALYSIS_SR).astype(np.float32)
    spec = log_mel(y, config)
    assert spec.shape == (1 + len(y) // HOP, config.n_mels)
    # a master 20 dB quieter gives the same spectrogram (the level is taken out per track)
    np.testing.assert_allclose(log_mel(y * 0.1, config), spec, atol=1e-3)


def test_bundled_model_loads_with_documented_shapes():
    detector = load_drum_detector()
    config = detector.config
    assert config.labels == list(DRUMS)
    assert len(detector.layers) == len(config.channels) == len(config.dilations)
    c_in = config.n_mels
    for layer, c in zip(detector.layers, config.channels):
        assert layer.weight.shape == (config.kernel * c_in, c)
        c_in = c
    assert detector.head.weight.shape == (c_in, len(DRUMS))
    y = np.zeros(ANALYSIS_SR, dtype=np.float32)
    assert detector.activations(y).shape == (1 + len(y) // HOP, 3)


def test_missing_model_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(MvgenError, match="not a drum model folder"):
        load_drum_detector(tmp_path)
    assert drum_model_dir().name == "mvgen-drums-v1"


@pytest.fixture(scope="module")
def tech_house_excerpt():
    """Held-out track (seed 7: not a training seed), its truth, and the model's activations."""
    arrangement = synth.default_arrangement("tech_house", 7, bars_scale=0.25)
    y, truth = synth.render(arrangement, 7, sr=ANALYSIS_SR, stereo=False)
    return truth, load_drum_detector().activations(y)


@pytest.mark.parametrize("drum", DRUMS)
def test_activations_peak_on_truth_events_and_rest_between(tech_house_excerpt, drum):
    truth, act = tech_house_excerpt
    x = act[:, DRUMS.index(drum)]
    times_s = truth.events.times_s(*DRUM_EVENTS[drum])
    assert len(times_s) > 20
    idx = np.round(times_s / HOP_S).astype(int)
    idx = idx[idx < len(x) - 2]
    # each hit: the activation within +-2 frames (23 ms) reaches 0.5
    near = np.max(np.stack([x[idx + k] for k in range(-2, 3)]), axis=0)
    assert np.mean(near >= 0.5) >= 0.9
    # frames farther than 0.1 s from every hit of this drum: almost never above 0.5
    frame_s = np.arange(len(x)) * HOP_S
    far = np.min(np.abs(frame_s[:, None] - times_s[None, :]), axis=1) > 0.1
    assert np.mean(x[far] >= 0.5) < 0.01


def test_log_mel_in_blocks_equals_one_pass():
    """log_mel reads the track block by block (no padded copy of a 1-hour mix); the seams must not show."""
    from mvgen.classify.cpu_classifier import hann_window
    from mvgen.features import mel_filterbank

    config = DrumConfig()
    y = np.random.default_rng(4).normal(0, 0.1, 15 * ANALYSIS_SR + 77).astype(np.float32)  # 1292 frames: two blocks
    n_fft, hop = config.n_fft, config.hop_length
    x = np.zeros(len(y) + n_fft + hop, dtype=np.float32)
    x[n_fft // 2 : n_fft // 2 + len(y)] = y
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][: 1 + len(y) // hop]
    power = np.abs(np.fft.rfft(frames * hann_window(n_fft), axis=1)) ** 2
    mel = power @ mel_filterbank(config.sr, n_fft, config.n_mels, config.fmin_hz, config.sr / 2)[0].T
    expected = np.log(mel / mel.sum(axis=1).mean() + 1e-8)
    np.testing.assert_allclose(log_mel(y, config), expected, atol=2e-3)
