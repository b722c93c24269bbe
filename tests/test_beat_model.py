"""The learned beat and downbeat tracker (mvgen.analysis.beat_model) and its decoding (mvgen.analysis.beats):
numpy inference against its torch twin (models/build/beats.py), blocked inference against whole-track
inference, the bundled model on synth tracks of several styles and meters with known grids, and the
decoder's choice of the beat level (from the beat and downbeat activations) on activations built with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mvgen import synth
from mvgen.analysis import frame_models
from mvgen.analysis.beat_model import BEAT_OUTPUTS, BeatConfig, BeatTracker, beat_model_dir, load_beat_tracker, member_key
from mvgen.analysis.frame_models import sigmoid
from mvgen.analysis.beats import activation_tempo, peak_near
from mvgen.analysis.track import analyze_signal
from mvgen.errors import MvgenError
from tests.torch_twins import randomize_state
from mvgen.features import ANALYSIS_SR, HOP

HOP_S = HOP / ANALYSIS_SR


def _tiny(torch, *, members: int = 1, seed: int = 0):
    """A tiny torch twin with random weights (``seed``), in eval mode, and its float state dict."""
    from models.build.beats import torch_model  # the twin is build-only, outside the package

    config = BeatConfig(n_mels=12, channels=6, kernel=3, dilations=[1, 2, 4], members=members)
    model = torch_model(config)
    randomize_state(model, np.random.default_rng(seed), scale=0.3)
    model.eval()
    state = {k: v.numpy() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    return config, model, state


def _torch_logits(torch, model, spec: np.ndarray) -> np.ndarray:
    """The twin's logits ``(T, outputs)`` of log-mel frames ``spec`` ``(T, n_mels)``."""
    with torch.no_grad():
        return model(torch.from_numpy(spec.T[None].copy()))[0].numpy().T


def test_numpy_inference_equals_torch_model():
    torch = pytest.importorskip("torch")
    config, model, state = _tiny(torch)
    spec = np.random.default_rng(1).normal(-5, 2, (400, config.n_mels)).astype(np.float32)
    expected = _torch_logits(torch, model, spec)
    got = BeatTracker(config, state).logits(spec)
    assert got.shape == (400, len(BEAT_OUTPUTS))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def test_a_model_of_several_members_averages_their_probabilities(tmp_path):
    """Members trained from different seeds are saved in one file (``member<i>.`` keys) and the tracker gives
    the mean of their torch twins' probabilities, not of their logits."""
    torch = pytest.importorskip("torch")
    from models.build.frame_training import save_model

    state, probabilities = {}, []
    for member in range(2):
        config, model, member_state = _tiny(torch, members=2, seed=10 + member)
        state |= {member_key(member, k, config.members): v for k, v in member_state.items()}
        spec = np.random.default_rng(2).normal(-5, 2, (300, config.n_mels)).astype(np.float32)
        probabilities.append(sigmoid(_torch_logits(torch, model, spec)))
    assert np.abs(probabilities[0] - probabilities[1]).max() > 0.1  # the members differ, so the mean is a real test
    save_model(tmp_path, state, config)
    tracker = load_beat_tracker(tmp_path)
    assert len(tracker.networks) == 2
    got = sigmoid(tracker.logits(spec))
    np.testing.assert_allclose(got, np.mean(probabilities, axis=0), atol=1e-4)
    # A file missing one member's tensor is refused, naming the folder.
    from safetensors.numpy import save_file

    save_file({k: v for k, v in state.items() if not k.startswith("member1.head")}, str(tmp_path / "model.safetensors"))
    with pytest.raises(MvgenError, match=f"{tmp_path}.*weights do not match"):
        load_beat_tracker(tmp_path)


def test_blocked_inference_equals_whole_track(monkeypatch):
    """A long mix runs in blocks with the receptive field around each: the result must not change."""
    torch = pytest.importorskip("torch")
    config, _, state = _tiny(torch)
    tracker = BeatTracker(config, state)
    spec = np.random.default_rng(3).normal(-5, 2, (1000, config.n_mels)).astype(np.float32)
    whole = tracker.logits(spec)
    monkeypatch.setattr(frame_models, "INFERENCE_BLOCK_FRAMES", 97)
    assert config.context_frames < 97 < len(spec)
    np.testing.assert_allclose(tracker.logits(spec), whole, rtol=1e-5, atol=1e-5)


def test_model_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(MvgenError, match=str(tmp_path)):
        load_beat_tracker(tmp_path)
    bundled = beat_model_dir()
    (tmp_path / "config.json").write_text((bundled / "config.json").read_text())
    from safetensors.numpy import save_file

    save_file({"input_norm.weight": np.ones(48, dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(MvgenError, match="weights do not match"):
        load_beat_tracker(tmp_path)


def test_bundled_model_documents_its_training():
    tracker = load_beat_tracker()
    config = tracker.config
    assert config.labels == list(BEAT_OUTPUTS)
    assert config.context_frames * HOP_S > 8.0  # hears several bars either side: the tempo, not only onsets
    assert "held-out never read" in config.provenance["data"]
    assert (beat_model_dir() / "README.md").is_file()


def _grid_activation(n_frames: int, beats_s: np.ndarray, on: float, between: float) -> np.ndarray:
    """An activation with probability ``on`` at each beat's frame and ``between`` at each eighth note, 0.01 elsewhere."""
    act = np.full(n_frames, 0.01)
    half = np.diff(beats_s).mean() / 2
    for times, value in ((beats_s + half, between), (beats_s, on)):
        idx = np.round(times / HOP_S).astype(int)
        act[idx[idx < n_frames]] = value
    return act


@pytest.mark.parametrize("bpm", [72.0, 128.0, 174.0])
def test_activation_tempo_picks_the_beat_level_over_eighth_notes(bpm):
    """Eighth notes the network half believes (0.35) must not double the tempo; beats it is sure of must not
    be halved or read at 2/3: the grid is scored by the log-odds at its points."""
    duration_s = 60.0
    beats = np.arange(0.3, duration_s - 1.0, 60.0 / bpm)
    act = _grid_activation(int(duration_s / HOP_S), beats, on=0.8, between=0.35)
    found, confidence = activation_tempo(act, HOP_S)
    assert found == pytest.approx(bpm, rel=0.01)
    assert confidence > 0.6
    # no beat evidence at all: low confidence
    assert activation_tempo(np.full(len(act), 0.02), HOP_S)[1] < 0.1


@pytest.mark.parametrize("bpm", [64.0, 72.0, 80.0])
def test_downbeats_choose_the_slow_level_of_a_ballad(bpm):
    """A ballad whose eighth notes the network believes (0.6 against 0.8 on the beats) reads at double tempo on
    the beat evidence alone; with downbeats every 4 slow beats the doubled grid's "bars" put every other
    downbeat on beat 3, and the slow level wins. With downbeats every 2 slow beats (bars of 4 fast beats) the
    bar evidence no longer objects and the fast level stays."""
    duration_s = 60.0
    beats = np.arange(0.3, duration_s - 1.0, 60.0 / bpm)
    n_frames = int(duration_s / HOP_S)
    act = _grid_activation(n_frames, beats, on=0.8, between=0.6)
    assert activation_tempo(act, HOP_S)[0] == pytest.approx(2 * bpm, rel=0.01)
    for beats_per_bar, level in ((4, bpm), (2, 2 * bpm)):
        downbeat = np.full(n_frames, 0.01)
        downbeat[np.round(beats[::beats_per_bar] / HOP_S).astype(int)] = 0.9
        assert activation_tempo(act, HOP_S, downbeat)[0] == pytest.approx(level, rel=0.01)


def _f(reference, estimated) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference)), mir_eval.beat.trim_beats(np.asarray(estimated))))


#: Styles outside 4/4 house, with their tempo ranges' ends among the seeds (drum & bass near 170, a ballad
#: near 70, syncopated hip hop and trap, reggae's one drop).
STYLES = ["drum_and_bass", "hip_hop", "trap", "reggae", "rock", "pop_ballad", "tech_house"]


@pytest.mark.parametrize("style", STYLES)
def test_bundled_model_finds_the_grid_of_each_style(style, synth_track):
    y, truth = synth_track([style], seed=5, bars_scale=0.25)
    tracker = load_beat_tracker()
    act = tracker.activations(y)
    beats = np.asarray(truth.beats_s)
    on = peak_near(act.beat, act.hop_s, beats)
    between = peak_near(act.beat, act.hop_s, beats[:-1] + np.diff(beats) / 2)
    assert np.median(on) > 0.5 > np.median(between)
    result = analyze_signal(y, ANALYSIS_SR)
    assert result.tempo_bpm == pytest.approx(truth.tempo_bpm, rel=0.01)
    assert _f(truth.beats_s, result.beats_s) >= 0.95
    assert _f(truth.downbeats_s, result.downbeats_s) >= 0.9


def test_three_four_is_detected_not_forced_to_four(synth_track):
    y, truth = synth_track(["pop_ballad"], seed=3, bars_scale=0.25, beats_per_bar=3)
    assert truth.beats_per_bar == 3
    result = analyze_signal(y, ANALYSIS_SR)
    assert result.beats_per_bar == 3
    assert _f(truth.beats_s, result.beats_s) >= 0.95
    assert _f(truth.downbeats_s, result.downbeats_s) >= 0.9


def test_an_unsure_network_leaves_the_grid_to_the_onsets(synth_track):
    """Music the network hears no beat in (here: an activation of zeros) still gets the onset grid, with a
    warning saying so, not a beatless analysis."""
    from mvgen.analysis.beat_model import BeatActivations
    from mvgen.analysis.beats import track_beats
    from mvgen.features import frame_features

    y, truth = synth_track(["tech_house"], seed=4, bars_scale=0.25)
    features = frame_features(y, ANALYSIS_SR, detail=True)
    silent = BeatActivations(beat=np.zeros(features.n_frames, dtype=np.float32), downbeat=np.zeros(features.n_frames, dtype=np.float32), hop_s=HOP_S)
    grid = track_beats(features, len(y) / ANALYSIS_SR, y, silent)
    assert grid.tempo_bpm == pytest.approx(truth.tempo_bpm, rel=1e-3)
    assert _f(truth.beats_s, grid.beats_s) >= 0.95
    assert any("beat model found no steady beat" in w for w in grid.warnings)


def test_the_grid_says_how_sure_it_is(synth_track):
    """The analysis carries the grid's confidence: high on a clear groove, 0 where there is no beat."""
    y, _ = synth_track(["tech_house"], seed=4, bars_scale=0.25)
    clear = analyze_signal(y, ANALYSIS_SR)
    assert 0.6 < clear.beat_confidence <= 1.0
    drone = (0.3 * np.sin(2 * np.pi * 110.0 * np.arange(20 * ANALYSIS_SR) / ANALYSIS_SR)).astype(np.float32)
    assert analyze_signal(drone, ANALYSIS_SR).beat_confidence == 0.0


def test_training_keeps_the_epoch_of_the_lowest_validation_loss_or_the_last():
    """The fold models of benchmarks/bench_beats_oof.py keep their last epoch (``keep_last_epoch``), as the
    bundled model does, so no epoch is chosen on the pieces they are measured on; by default a build with
    validation pieces keeps the epoch of the lowest validation loss."""
    torch = pytest.importorskip("torch")
    from models.build.beats import torch_model, train

    config = BeatConfig(n_mels=12, channels=6, kernel=3, dilations=[1, 2, 4])
    rng = np.random.default_rng(0)
    pieces = [(rng.normal(-5, 2, (300, 12)).astype(np.float32), (rng.random((300, 2)) < 0.1).astype(np.float32)) for _ in range(5)]
    spec, targets = pieces[4]

    def validation_loss(state) -> float:
        model = torch_model(config)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(spec.T[None].copy()))
            return float(torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(targets.T[None].copy())))

    kept = {}
    for keep_last_epoch in (False, True):
        state, metrics = train(pieces[:4], pieces[4:], config, epochs=6, crop_frames=128, batch=4, keep_last_epoch=keep_last_epoch, log=lambda *_: None)
        losses = [h["val_loss"] for h in metrics["history"]]
        assert metrics["best_val_loss"] == min(losses)
        kept[keep_last_epoch] = validation_loss(state)
    assert int(np.argmin(losses)) < len(losses) - 1  # this run's best epoch is not its last: the two differ
    assert kept[False] == pytest.approx(min(losses), rel=1e-5)
    assert kept[True] == pytest.approx(losses[-1], rel=1e-5)
