"""The numpy inference (mvgen.classify.cpu_classifier) against the torch model it reimplements, on synthetic tracks."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mvgen.media.audio import write_audio
from mvgen.classify.checkpoints import WEIGHTS_NAME, default_checkpoint
from mvgen.classify.classifier import ClassifierConfig, GenreClassifier, load_classifier, predict_profile, save_classifier, track_windows
from mvgen.classify.cpu_classifier import DEVICE_ENV, CpuFrontEnd, classifier_backend, load_cpu_classifier
from mvgen.errors import MvgenError

SMALL = dict(n_mels=32, cqt_bins=48, channels=[4, 8, 8, 8], window_steps=4)
# Probabilities agree to float32 noise; the tolerance leaves room for BLAS summation order.
PROBABILITY_ATOL = 1e-3


@pytest.fixture(scope="module")
def track(synth_track):
    """About 43 s of synthetic house (intro, build-up, drop...) at 22.05 kHz: quiet and loud frames alike."""
    y, _ = synth_track(["tech_house", "deep_house"], seed=5, bars_scale=0.25)
    return y


def _random_model(folder, y: np.ndarray, front_end: str, out_of_scope: bool):
    """A small classifier with random weights and random BatchNorm statistics (so folding them into the
    convolutions is exercised) and a head giving varied outputs over ``y``, saved as a checkpoint."""
    torch.manual_seed(1)
    config = ClassifierConfig(**SMALL, front_end=front_end, out_of_scope=out_of_scope, temperature=1.7)
    model = GenreClassifier(config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
        # A default-initialized head gives near-uniform probabilities, which would hide any difference:
        # a random head on the standardized pooled features of the track gives logits of spread ~2.
        _, pooled = track_windows(model, y)
        mean, std = torch.from_numpy(pooled.mean(axis=0)), torch.from_numpy(pooled.std(axis=0) + 1e-6)
        head = model.head[1]
        head.weight.copy_(torch.randn(head.weight.shape) * 2.0 / std / np.sqrt(head.in_features))
        head.bias.copy_(-(head.weight @ mean))
    return save_classifier(model, folder)


@pytest.mark.parametrize("front_end", ["mel", "mel+cqt"])
def test_front_end_equals_nnaudio(track, front_end):
    config = ClassifierConfig(front_end=front_end)
    torch_front_end = GenreClassifier(config).front_end.eval()
    clip = track[: 20 * config.sr]
    with torch.inference_mode():
        expected = torch_front_end(torch.from_numpy(clip)[None])[0].numpy()
    ours = CpuFrontEnd(config)(clip)
    assert ours.shape == expected.shape == ((2 if front_end == "mel+cqt" else 1), config.n_mels, len(clip) // config.hop_length)
    assert ours.dtype == np.float32
    # Output units: log power / 4; float32 rounding differs only in the quietest bins.
    np.testing.assert_allclose(ours, expected, atol=2e-3)
    assert np.abs(ours - expected).mean() < 2e-5


@pytest.mark.parametrize("front_end, out_of_scope", [("mel", False), ("mel+cqt", True)])
def test_random_model_matches_torch_across_chunks(track, tmp_path, front_end, out_of_scope):
    folder = _random_model(tmp_path / "model", track, front_end, out_of_scope)
    reference = load_classifier(folder, device="cpu")
    ours = load_cpu_classifier(folder)
    assert ours.config == reference.config
    # chunk_steps=9: the track's ~55 windows (step 0.37 s) span 7 chunks, the last one partial.
    expected = predict_profile(reference, track, chunk_steps=9)
    got = ours.predict_profile(track, chunk_steps=9)
    assert len(got.times_s) > 5 * 9
    np.testing.assert_array_equal(got.times_s, expected.times_s)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=PROBABILITY_ATOL)
    np.testing.assert_allclose(got.in_scope, expected.in_scope, atol=PROBABILITY_ATOL)
    # The random weights are not degenerate: the windows' predictions differ from each other.
    assert np.ptp(expected.probabilities, axis=0).max() > 0.2
    # A clip shorter than one window is zero-padded to one window on both paths.
    short = track[: 3 * ours.config.sr]
    expected, got = predict_profile(reference, short), ours.predict_profile(short)
    assert got.probabilities.shape == (1, len(ours.config.labels))
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=PROBABILITY_ATOL)
    np.testing.assert_allclose(got.in_scope, expected.in_scope, atol=PROBABILITY_ATOL)


@pytest.mark.skipif(default_checkpoint() is None, reason="bundled classifier not installed")
def test_bundled_model_matches_torch(track):
    reference = load_classifier(default_checkpoint(), device="cpu")
    ours = load_cpu_classifier(default_checkpoint())
    for chunk_steps in (256, 20):  # one chunk, then three
        expected = predict_profile(reference, track, chunk_steps=chunk_steps)
        got = ours.predict_profile(track, chunk_steps=chunk_steps)
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=PROBABILITY_ATOL)
        np.testing.assert_allclose(got.in_scope, expected.in_scope, atol=PROBABILITY_ATOL)
    # The model is confident on house (in scope) and picks one of the rendered genres somewhere.
    labels = ours.config.labels
    assert np.median(got.in_scope) > 0.5
    assert {labels[i] for i in got.probabilities.argmax(axis=1)} & {"tech_house", "deep_house"}


def test_backend_choice(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert classifier_backend() == "numpy"
    monkeypatch.setenv(DEVICE_ENV, "CUDA")
    assert classifier_backend() == "torch"
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(MvgenError, match="MVGEN_DEVICE='tpu': expected 'cpu' or 'cuda'"):
        classifier_backend()
    monkeypatch.delenv(DEVICE_ENV)
    # torch is imported in this process, so its answer decides.
    assert classifier_backend() == ("torch" if torch.cuda.is_available() else "numpy")


def test_backend_detects_nvidia_driver_without_torch(tmp_path):
    """In a fresh process (torch not imported), an ``nvidia-smi`` on the PATH means a GPU: the torch path."""
    import os
    from pathlib import Path

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "nvidia-smi").chmod(0o755)
    code = "import sys; from mvgen.classify.cpu_classifier import classifier_backend; print(classifier_backend(), 'torch' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != DEVICE_ENV}

    def backend(path: str) -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "PATH": path}, check=True).stdout.strip()

    assert backend(str(fake_bin)) == "torch False"
    if not Path("/proc/driver/nvidia/version").exists():
        assert backend(str(tmp_path / "empty")) == "numpy False"


def test_checkpoint_missing_weights(track, tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = _random_model(tmp_path / "model", track, "mel", False)
    state = load_file(str(folder / WEIGHTS_NAME))
    del state["head.1.bias"]
    save_file(state, str(folder / WEIGHTS_NAME))
    with pytest.raises(MvgenError, match=r"model: weights do not match the config \(missing 'head.1.bias'\)"):
        load_cpu_classifier(folder)
    with pytest.raises(MvgenError, match="needs config.json"):
        load_cpu_classifier(tmp_path)


_ANALYZE = """
import json, sys
from mvgen.analysis.track import analyze
analysis = analyze(sys.argv[1], use_cache=False)
print(json.dumps({"torch": "torch" in sys.modules, "nnAudio": "nnAudio" in sys.modules,
                  "scipy": "scipy" in sys.modules, "analysis": analysis.model_dump(mode="json")}))
"""


def _analyze_in_subprocess(path, device: str) -> dict:
    import os

    env = {**os.environ, DEVICE_ENV: device}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", _ANALYZE, str(path)], capture_output=True, text=True, env=env, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(default_checkpoint() is None, reason="bundled classifier not installed")
def test_cpu_analysis_does_not_import_torch(track, tmp_path):
    path = tmp_path / "track.wav"
    write_audio(path, track, 22050)
    out = _analyze_in_subprocess(path, "cpu")
    assert not out["torch"] and not out["nnAudio"] and not out["scipy"]
    profile = out["analysis"]["genre_profile"]
    assert profile is not None and len(profile["times_s"]) > 40


@pytest.mark.slow
@pytest.mark.skipif(default_checkpoint() is None, reason="bundled classifier not installed")
def test_cpu_and_torch_analyses_agree(track, tmp_path):
    """The whole analysis is the same on both paths but for float noise in the profile (stored with 4 decimals)."""
    path = tmp_path / "track.wav"
    write_audio(path, track, 22050)
    numpy_run, torch_run = _analyze_in_subprocess(path, "cpu"), _analyze_in_subprocess(path, "cuda")
    assert torch_run["torch"] and not numpy_run["torch"]
    a, b = numpy_run["analysis"], torch_run["analysis"]
    pa, pb = a.pop("genre_profile"), b.pop("genre_profile")
    assert a == b
    assert pa["labels"] == pb["labels"] and pa["times_s"] == pb["times_s"]
    np.testing.assert_allclose(pa["probabilities"], pb["probabilities"], atol=PROBABILITY_ATOL)
    np.testing.assert_allclose(pa["in_scope"], pb["in_scope"], atol=PROBABILITY_ATOL)
