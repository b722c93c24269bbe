"""Classifier model: shapes, checkpoint round trip through the user's loading path, chunked inference."""

import json

import numpy as np
import pytest
import torch

from mvgen.classify.classifier import CONFIG_NAME, WEIGHTS_NAME, ClassifierConfig, GenreClassifier, load_classifier, predict_profile, save_classifier
from mvgen.errors import MvgenError
from mvgen.genres import GENRES

SMALL = dict(n_mels=32, cqt_bins=48, channels=[4, 8, 8, 8], window_steps=4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GenreClassifier(ClassifierConfig(**SMALL)).eval()


def test_shapes_and_gain_invariance(model):
    config = model.config
    clip = torch.randn(3, config.window_samples) * 0.1
    spec = model.front_end(clip)
    assert spec.shape == (3, 2, config.n_mels, config.window_samples // config.hop_length)
    assert model(clip).shape == (3, len(GENRES))
    # The front end ignores the master's level.
    difference = (model.front_end(clip * 8.0) - spec).abs()
    assert difference.mean() < 1e-3 and difference.max() < 0.05


def test_checkpoint_round_trip(model, tmp_path):
    folder = save_classifier(model, tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    assert json.loads((folder / CONFIG_NAME).read_text())["labels"] == list(GENRES)
    loaded = load_classifier(folder, device="cpu")
    clip = torch.randn(2, model.config.window_samples) * 0.1
    with torch.inference_mode():
        torch.testing.assert_close(loaded(clip), model(clip))


def test_missing_checkpoint_and_offline_hub(tmp_path, monkeypatch):
    with pytest.raises(MvgenError, match="needs config.json"):
        load_classifier(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MvgenError, match="huggingface-cli download someone/no-such-model"):
        load_classifier("someone/no-such-model")


@pytest.mark.slow
def test_whole_track_profile_is_chunk_invariant(model):
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(60 * model.config.sr)).astype(np.float32)
    whole = predict_profile(model, y)
    times_s, probabilities = whole.times_s, whole.probabilities
    config = model.config
    assert probabilities.shape == (len(times_s), len(GENRES)) and whole.in_scope.shape == times_s.shape
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Without an out-of-scope outcome, the confidence is the largest class probability.
    np.testing.assert_allclose(whole.in_scope, probabilities.max(axis=1))
    np.testing.assert_allclose(np.diff(times_s), config.step_s)
    assert times_s[0] == pytest.approx(config.window_s / 2)
    chunked = predict_profile(model, y, chunk_steps=7)
    np.testing.assert_allclose(chunked.probabilities, probabilities, atol=1e-5)
    np.testing.assert_allclose(chunked.in_scope, whole.in_scope, atol=1e-5)


@pytest.mark.slow
def test_out_of_scope_outcome_and_temperature(model, tmp_path):
    """A model with the extra outcome: shares renormalized over the classes, in_scope = 1 - p(other);
    the temperature flattens the outputs without changing the ranking."""
    from mvgen.classify.classifier import predict_clips, save_classifier, split_scope

    config = model.config.model_copy(update={"out_of_scope": True})
    torch.manual_seed(0)
    scoped = GenreClassifier(config).eval()
    assert scoped.head[1].out_features == len(GENRES) + 1 and config.output_labels[-1] == "other"
    y = (0.1 * np.random.default_rng(1).standard_normal(20 * config.sr)).astype(np.float32)
    outputs = predict_clips(scoped, [y])
    shares, in_scope = split_scope(outputs, config)
    np.testing.assert_allclose(in_scope, 1.0 - outputs[:, -1], atol=1e-6)
    np.testing.assert_allclose(shares, outputs[:, :-1] / outputs[:, :-1].sum(axis=1, keepdims=True), atol=1e-6)
    hot = GenreClassifier(config.model_copy(update={"temperature": 4.0})).eval()
    hot.load_state_dict(scoped.state_dict())
    flat = predict_clips(hot, [y])
    assert flat.max() < outputs.max() and flat.argmax() == outputs.argmax()
    loaded = load_classifier(save_classifier(hot, tmp_path / "hot"), device="cpu")
    assert loaded.config.temperature == 4.0 and loaded.config.out_of_scope
    np.testing.assert_allclose(predict_clips(loaded, [y]), flat, atol=1e-5)
