"""Training: track-wise split, soft-label loss, clip cutting, learning, and resuming after an interruption."""

import json

import numpy as np
import pytest
import torch

from mvgen.classify.classifier import ClassifierConfig, load_classifier, predict_clips
from mvgen.genres import GENRES
from mvgen.training.train import LabelledClip, TrainConfig, class_weights, cut_clips, soft_cross_entropy, split_by_track, synthetic_clips, train

TINY = dict(n_mels=32, cqt_bins=48, channels=[8, 16, 16, 16], window_steps=4)


def test_split_keeps_tracks_whole():
    clips = [LabelledClip(np.zeros(10, np.float32), np.eye(8, dtype=np.float32)[i % 8], f"t{i // 3}") for i in range(60)]
    train_clips, val_clips = split_by_track(clips, val_fraction=0.25, seed=1)
    assert not {c.track_id for c in train_clips} & {c.track_id for c in val_clips}
    assert len({c.track_id for c in val_clips}) == 5


def test_soft_cross_entropy_and_class_weights():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0, 0, 0, 0, 0]])
    target = torch.tensor([[0.7, 0.3, 0, 0, 0, 0, 0, 0]])
    log_p = torch.log_softmax(logits, dim=-1)
    expected = -(0.7 * log_p[0, 0] + 0.3 * log_p[0, 1])
    torch.testing.assert_close(soft_cross_entropy(logits, target), expected)
    weights = class_weights(np.array([[1, 0, 0, 0, 0, 0, 0, 0]] * 3 + [[0, 1, 0, 0, 0, 0, 0, 0]], np.float32))
    assert weights[1] == pytest.approx(3 * weights[0]) and weights[2] == 0


def test_cut_clips_stay_in_their_span():
    sr = 1000
    y = np.zeros(60 * sr, np.float32)
    y[20 * sr : 30 * sr] = 1.0  # the drop
    clips = cut_clips(y, sr, [(20.0, 30.0)], clip_s=5.0, n_per_span=4, rng=np.random.default_rng(0))
    assert len(clips) == 4
    assert all(len(c) == 5 * sr and np.all(c > 0.99) for c in clips)


@pytest.mark.slow
def test_learns_and_resumes(tmp_path):
    config = ClassifierConfig(**TINY)
    seeds = [s for s in range(80) if GENRES[s % 8] in ("deep_house", "bigroom")]
    clips = synthetic_clips(seeds, config, blend_every=0)
    train_clips, val_clips = split_by_track(clips, val_fraction=0.25, seed=0)
    settings = TrainConfig(epochs=6, batch_size=8, lr=1e-2, patience=6)

    class Interrupt(Exception):
        pass

    def stop_in_epoch_three(done, total, state={"batches": 0}):
        state["batches"] += 1
        if state["batches"] > 2 * total + 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(train_clips, val_clips, tmp_path, model_config=config, config=settings, device="cpu", on_batch=stop_in_epoch_three)
    saved = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert saved["epoch"] == 2
    result = train(train_clips, val_clips, tmp_path, model_config=config, config=settings, device="cpu")
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    model = load_classifier(result.best_dir, device="cpu")
    probabilities = predict_clips(model, [c.audio for c in val_clips])
    accuracy = np.mean(probabilities.argmax(1) == np.stack([c.target for c in val_clips]).argmax(1))
    assert accuracy >= 0.8
